"""webhook subscriptions: the previous signing secret, kept while a rotation overlaps

After a rotation, deliveries carry a signature with each secret until
`previous_secret_expires_at`, so a receiver can switch to the new secret at its own pace.

Revision ID: a009c0a9a009
Revises: 9a04c0a49a04
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import textbridge.db.base

revision: str = "a009c0a9a009"
down_revision: str | None = "9a04c0a49a04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.add_column(sa.Column("previous_secret", sa.String(100), nullable=True))
        table.add_column(
            sa.Column(
                "previous_secret_expires_at",
                textbridge.db.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    # In place, not in batch mode: on SQLite a batch rebuild drops the table, and with foreign
    # keys on that deletes every webhook delivery (SQLite 3.35+ drops a column in place).
    op.drop_column("webhook_subscriptions", "previous_secret_expires_at")
    op.drop_column("webhook_subscriptions", "previous_secret")
