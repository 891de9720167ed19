"""governor limits

One row per rate-limit key of the dispatch governor (sender, provider account, WhatsApp pair),
shared by every process on PostgreSQL; SQLite gets the table too but keeps it empty (one process
holds the state in memory there). And an index for the claim's order: priority, then due time.

Revision ID: 7a02c0c27a02
Revises: 7a03d0d37a03
Create Date: 2026-11-30 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a02c0c27a02"
down_revision: str | None = "7a03d0d37a03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "governor_limits",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("tat", sa.Double(), server_default="0", nullable=False),
        sa.Column("backlog", sa.Double(), server_default="0", nullable=False),
        sa.Column("factor", sa.Double(), server_default="1", nullable=False),
        sa.Column("factor_at", sa.Double(), server_default="0", nullable=False),
        sa.Column("blocked_until", sa.Double(), server_default="0", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_governor_limits")),
    )
    # The claim takes replies before campaign traffic (ORDER BY priority, next_attempt_at).
    op.create_index(
        "ix_messages_status_priority_next_attempt",
        "messages",
        ["status", "priority", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_messages_status_priority_next_attempt", table_name="messages")
    op.drop_table("governor_limits")
