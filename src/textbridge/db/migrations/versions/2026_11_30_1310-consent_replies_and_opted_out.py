"""keyword replies per sender; opted-out recipients a campaign skipped

`senders.reply_stop|reply_start|reply_help`: the sender's own reply to a STOP, START or HELP
keyword (NULL: the configured default; an empty text: no reply at all). `campaigns.opted_out`:
the recipients left out while they were staged, because they had opted out.

Revision ID: 8b01c0b18b01
Revises: 8a00c0a08a00
Create Date: 2026-11-30 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b01c0b18b01"
down_revision: str | None = "8a00c0a08a00"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLIES = ("reply_stop", "reply_start", "reply_help")


def upgrade() -> None:
    with op.batch_alter_table("senders", schema=None) as batch_op:
        for name in REPLIES:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opted_out", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("opted_out")
    with op.batch_alter_table("senders", schema=None) as batch_op:
        for name in reversed(REPLIES):
            batch_op.drop_column(name)
