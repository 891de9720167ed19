"""conversation search

The conversation list's search and filters (`messaging/search.py`):

- message text: on PostgreSQL a GIN index over `to_tsvector('simple', body)` (an expression
  index, so an erased or purged body leaves it in the same UPDATE); on SQLite an FTS5 table
  `messages_fts` whose rowid is the message's, kept in step by triggers on `messages`, so
  every writer (the API, the applier, erasure, retention) keeps it right without knowing it.
- contacts' name and address: trigram GIN indexes on PostgreSQL (`ILIKE '%...%'`).
- keyset pages of the list: (last_message_at, id) replaces the index on last_message_at.
- the `failed` filter: a partial index of the conversations' failed messages.
- the `opted_out` filter: consent records by address.

Existing rows are indexed as the indexes are built (FTS5: filled from `messages`).

Revision ID: 9a03c0a39a03
Revises: 9a02c0a29a02
Create Date: 2026-11-30 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a03c0a39a03"
down_revision: str | None = "9a02c0a29a02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FAILED = "status IN ('rejected', 'failed', 'undelivered')"

# The same expression as `messaging.search.MESSAGE_VECTOR`: the index serves only a query
# that repeats it. The cut bounds a tsvector well under its 1 MB limit.
_POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_messages_body_search ON messages "
    "USING gin (to_tsvector('simple'::regconfig, left(coalesce(body, ''), 20000)))",
    "CREATE INDEX ix_contacts_name_trgm ON contacts USING gin (name gin_trgm_ops)",
    "CREATE INDEX ix_contacts_address_trgm ON contacts USING gin (address gin_trgm_ops)",
)
_POSTGRESQL_DOWN = (
    "DROP INDEX ix_contacts_address_trgm",
    "DROP INDEX ix_contacts_name_trgm",
    "DROP INDEX ix_messages_body_search",
)

_SQLITE = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "body, tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO messages_fts (rowid, body) "
    "SELECT rowid, body FROM messages WHERE body IS NOT NULL",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
       WHEN new.body IS NOT NULL BEGIN
         INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
       END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
         DELETE FROM messages_fts WHERE rowid = old.rowid;
         INSERT INTO messages_fts (rowid, body) SELECT new.rowid, new.body
           WHERE new.body IS NOT NULL;
       END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
         DELETE FROM messages_fts WHERE rowid = old.rowid;
       END""",
)
_SQLITE_DOWN = (
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_update",
    "DROP TRIGGER messages_fts_insert",
    "DROP TABLE messages_fts",
)


def upgrade() -> None:
    op.drop_index("ix_conversations_last_message_at", table_name="conversations")
    op.create_index(
        "ix_conversations_last_message_at_id", "conversations", ["last_message_at", "id"]
    )
    op.create_index(
        "ix_messages_failed_conversation",
        "messages",
        ["conversation_id"],
        postgresql_where=sa.text(_FAILED),
        sqlite_where=sa.text(_FAILED),
    )
    op.create_index("ix_consent_records_address", "consent_records", ["address"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_DOWN if postgresql else _SQLITE_DOWN:
        op.execute(statement)
    op.drop_index("ix_consent_records_address", table_name="consent_records")
    op.drop_index("ix_messages_failed_conversation", table_name="messages")
    op.drop_index("ix_conversations_last_message_at_id", table_name="conversations")
    op.create_index("ix_conversations_last_message_at", "conversations", ["last_message_at"])
