"""send_at and quiet hours on campaigns; each staged recipient's time-zone key

A campaign may ask to start leaving later (`send_at`) and carries the local hours its messages
may reach their recipients in (`quiet_hours`, "08:00-21:00"; NULL for none), copied onto each
message at start. `campaign_recipients.time_zones` is the zone key of the number
(`quiet_hours.zone_key`), computed when the recipient is staged, so the start decides each
message's status and leaving time once per zone, in SQL.

Revision ID: 7a08b1b87a08
Revises: 7a02c0c27a02
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from textbridge.db.base import UTCDateTime

revision: str = "7a08b1b87a08"
down_revision: str | None = "7a02c0c27a02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("quiet_hours", sa.String(length=11), nullable=True))
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zones", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_column("time_zones")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
        batch_op.drop_column("send_at")
