"""dispatch order and rate limits

`messages.rate_limited` counts the 429 answers among a message's attempts (they do not use one
up); a partial index finds the oldest unsettled message of a (from, to) pair, which alone may
be claimed, so that messages to one recipient leave in the order they were accepted.

Revision ID: 7a05f0f57a05
Revises: 7a01b0b17a01
Create Date: 2026-11-30 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a05f0f57a05"
down_revision: str | None = "7a01b0b17a01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = "status IN ('accepted', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rate_limited", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_index(
        "ix_messages_unsettled_pair",
        "messages",
        ["from_address", "to_address", "priority", "created_at"],
        unique=False,
        postgresql_where=sa.text(UNSETTLED),
        sqlite_where=sa.text(UNSETTLED),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unsettled_pair", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("rate_limited")
