"""analytics: messages.delivered_at and the indexes the dashboard reads

`delivered_at` is when a message was first reported delivered (or read): the time to
delivered is `delivered_at - created_at`, read from the message row alone instead of a join
to its status events. Backfilled from those events.

`ix_messages_analytics` lets every analytics query over a date range read only the index:
`created_at` first, then every dimension and figure the queries read (an index-only scan of
the range on PostgreSQL, a covering index on SQLite). Key columns rather than PostgreSQL's
INCLUDE: one definition for both databases.
`ix_consent_records_recorded_at` serves the opt-outs per day.

Revision ID: 9a04c0a49a04
Revises: 9a03c0a39a03
Create Date: 2026-11-30 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import textbridge.db.base

revision: str = "9a04c0a49a04"
down_revision: str | None = "9a03c0a39a03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = (
    "direction",
    "channel",
    "provider",
    "status",
    "from_address",
    "to_address",
    "error_code",
    "price",
    "delivered_at",
)

_BACKFILL = """
UPDATE messages SET delivered_at = (
    SELECT min(coalesce(e.occurred_at, e.received_at)) FROM message_events AS e
    WHERE e.message_id = messages.id AND e.status IN ('delivered', 'read') AND e.applied
)
WHERE status IN ('delivered', 'read')
"""


def upgrade() -> None:
    when = textbridge.db.base.UTCDateTime(timezone=True)
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("delivered_at", when, nullable=True))
    op.execute(_BACKFILL)
    op.create_index("ix_messages_analytics", "messages", ["created_at", *COVERED])
    op.create_index("ix_consent_records_recorded_at", "consent_records", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_consent_records_recorded_at", table_name="consent_records")
    op.drop_index("ix_messages_analytics", table_name="messages")
    # Not in batch mode: on SQLite that copies the table into a new one, which would drop the
    # conversation search's triggers (9a03c0a39a03) and renumber the rowids its index is keyed
    # by. SQLite drops an unindexed column in place (3.35 and newer).
    op.drop_column("messages", "delivered_at")
