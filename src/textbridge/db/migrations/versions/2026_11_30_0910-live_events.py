"""live events: the table every process reads the live event stream from (PostgreSQL)

Revision ID: 7a01b0b17a01
Revises: 7a00f0da7a00
Create Date: 2026-11-30 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import textbridge.db.base

revision: str = "7a01b0b17a01"
down_revision: str | None = "7a00f0da7a00"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", textbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_events")),
    )
    op.create_index(op.f("ix_live_events_created_at"), "live_events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_live_events_created_at"), table_name="live_events")
    op.drop_table("live_events")
