"""send_at and quiet hours on messages

A message may ask to leave later (`send_at`) and carry the local hours it may reach its
recipient in (`quiet_hours`, e.g. "08:00-21:00"); the statuses `scheduled` and `held` wait for
`next_attempt_at`, which the existing (status, next_attempt_at) index serves.
`contacts.time_zone` (the per-contact override) exists since the initial schema.

Revision ID: 7a04e0e47a04
Revises: 7a05f0f57a05
Create Date: 2026-11-30 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from textbridge.db.base import UTCDateTime

revision: str = "7a04e0e47a04"
down_revision: str | None = "7a05f0f57a05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("quiet_hours", sa.String(length=11), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
        batch_op.drop_column("send_at")
