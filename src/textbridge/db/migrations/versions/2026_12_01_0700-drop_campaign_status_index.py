"""messages: drop `ix_messages_campaign_status`, which `ix_messages_campaign_funnel` covers

`ix_messages_campaign_status (campaign_id, status)` (7a03d0d37a03, campaigns) was made before
`ix_messages_campaign_funnel (campaign_id, status, conversation_id, created_at, error_code,
provider_message_id) WHERE campaign_id IS NOT NULL` (a102c2a2a102). Every query
that reads messages by campaign compares `campaign_id` (`=` or `IN`), which implies the funnel
index's condition on both databases, and the two share their leading columns: each plans on
the funnel index as well as it did on the old one (EXPLAINs in docs/DESIGN-NOTES.md,
"indexes"). The old index held an entry for every message, a campaign's or not (NULL
`campaign_id` included), so every API send and every campaign message paid for it.

Locks: PostgreSQL cannot drop an index of a partitioned table `CONCURRENTLY`; `DROP INDEX`
takes an ACCESS EXCLUSIVE lock on `messages` (and its partitions) for the moment of the drop
(no rows are read), after waiting for the transactions already using the table. Rolling
upgrade: the previous release's campaign queries plan on the funnel index as this release's
do. The downgrade builds the index again (non-concurrently: it reads every message).

Revision ID: b205b205b205
Revises: b201b201b201
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b205b205b205"
down_revision: str | None = "b201b201b201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_messages_campaign_status", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_campaign_status", "messages", ["campaign_id", "status"])
