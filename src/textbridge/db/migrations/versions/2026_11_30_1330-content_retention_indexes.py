"""content retention indexes

Partial indexes that let the content purger (`compliance/retention.py`) find, oldest first,
only what still holds content: a message with a text or payload, an attachment with a URL,
an event with a raw payload, and an erased attachment whose file is still on disk. Purged rows
leave the index, so a pass never wades through years of rows already purged.

Revision ID: 8b03c0b38b03
Revises: 8b02c0b28b02
Create Date: 2026-11-30 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b03c0b38b03"
down_revision: str | None = "8b02c0b28b02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    (
        "ix_messages_content_created",
        "messages",
        "created_at",
        "body IS NOT NULL OR payload IS NOT NULL",
    ),
    ("ix_attachments_content_created", "attachments", "created_at", "url <> ''"),
    (
        "ix_attachments_erased_files",
        "attachments",
        "id",
        "download_state = 'erased' AND local_path IS NOT NULL",
    ),
    ("ix_message_events_raw_received", "message_events", "received_at", "raw IS NOT NULL"),
)


def upgrade() -> None:
    for name, table, column, where in INDEXES:
        op.create_index(
            name,
            table,
            [column],
            unique=False,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name, table, _column, _where in INDEXES:
        op.drop_index(name, table_name=table)
