"""contact address kinds

A contact is known by an address of a kind (E.164, short code, alphanumeric sender ID,
WhatsApp business-scoped user id), no longer only by a phone number; addresses grow to 140
characters (a BSUID is up to 135).

Revision ID: 6a02add7e502
Revises: 6a05196e5705
Create Date: 2026-11-30 06:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a02add7e502"
down_revision: str | None = "6a05196e5705"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_contacts_phone", type_="unique")
        batch_op.alter_column(
            "phone",
            new_column_name="address",
            existing_type=sa.String(length=20),
            type_=sa.String(length=140),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column("address_kind", sa.String(length=20), server_default="e164", nullable=False)
        )
    # A second batch: SQLite's table copy loses a constraint on a column renamed in the same one.
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_contacts_address"), ["address"])
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for column in ("from_address", "to_address"):
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=32),
                type_=sa.String(length=140),
                existing_nullable=False,
            )


def downgrade() -> None:
    # Addresses longer than the old columns (BSUIDs) do not fit back: downgrading refuses them.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for column in ("from_address", "to_address"):
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=140),
                type_=sa.String(length=32),
                existing_nullable=False,
            )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_contacts_address", type_="unique")
        batch_op.drop_column("address_kind")
        batch_op.alter_column(
            "address",
            new_column_name="phone",
            existing_type=sa.String(length=140),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_contacts_phone"), ["phone"])
