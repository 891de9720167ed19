"""API key scopes; an index for journal retention

Revision ID: 6a01a9911e01
Revises: 6a04f0e9e704
Create Date: 2026-11-30 06:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a01a9911e01"
down_revision: str | None = "6a04f0e9e704"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing keys keep every right they had: the server default gives them all scopes.
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scopes", sa.String(length=100), server_default="send read admin", nullable=False
            )
        )
    with op.batch_alter_table("webhook_journal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_journal_state_received_at", ["state", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_journal", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_journal_state_received_at")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scopes")
