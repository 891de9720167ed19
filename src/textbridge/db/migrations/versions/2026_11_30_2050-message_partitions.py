"""messages: monthly range partitions by created_at on PostgreSQL; a key table for uniqueness

PostgreSQL only (SQLite keeps its plain table: nothing to do there). See docs/CAPACITY.md 3.3
and docs/DESIGN-NOTES.md, "Messages in monthly partitions".

- `messages` becomes `PARTITION BY RANGE (created_at)`: one partition a month
  (`messages_y2026m11`) from the oldest message's month to three months ahead (a message
  dated later stays in the default partition until its month is made), and
  `messages_default` for any time no month covers (a write never fails for want of a
  partition). `textbridge_ensure_message_partitions(first, last)` makes the missing months of a
  range (the journal purger calls it every pass: `db/partitions.py`); it moves the rows the
  default partition holds for a new month into it.
- The primary key becomes `(id, created_at)` (a partitioned table's unique index must hold the
  partition key). The global uniqueness of `idempotency_key` and of `(provider,
  provider_message_id)` moves to `message_keys`, one unpartitioned row per key, claimed by
  row triggers in the writer's statement: a second message with a key already held fails with
  the same SQLSTATE (23505, unique_violation) and waits for the holder's commit exactly as the
  unique indexes made it. Non-unique indexes on those columns keep the existing look-ups.
- The foreign keys from `message_events` and `attachments` to `messages(id)` are dropped (a
  foreign key must reference a unique key of the partitioned table: `(id, created_at)`);
  integrity stays in code (messages are never deleted; both are written with the id of a
  message just read or written in the same transaction).
- The secondary indexes and the triggers are re-created from what the table has at upgrade
  time (`pg_indexes`, `pg_get_triggerdef`), not from a list written here, so indexes and
  triggers added or dropped by earlier migrations are kept as they are. The statement-level
  triggers with transition tables (`message_counts`) are allowed on a partitioned table's
  parent, and see the rows of every partition.

Revision ID: a104c4a4a104
Revises: a102c2a2a102
Create Date: 2026-11-30 20:40:00
"""

# ruff: noqa: S608 (SQL built from the definitions read from the catalog)
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a104c4a4a104"
down_revision: str | None = "a102c2a2a102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD = "interval '3 months'"
KEY_TRIGGERS = ("message_keys_insert", "message_keys_update")
LOOKUP_INDEXES = ("ix_messages_idempotency_key", "ix_messages_provider_provider_message_id")
# Foreign keys to messages(id) that the upgrade drops and the downgrade makes again.
INCOMING = {
    "fk_message_events_message_id_messages": "message_events",
    "fk_attachments_message_id_messages": "attachments",
}

ENSURE_PARTITIONS = """
CREATE FUNCTION textbridge_ensure_message_partitions(range_start timestamptz, range_end timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month timestamptz := date_trunc('month', range_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    following timestamptz;
    part_name text;
    made integer := 0;
BEGIN
    WHILE month <= range_end LOOP
        following := ((month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        part_name := 'messages_' || to_char(month AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
        IF to_regclass(part_name) IS NULL THEN
            -- Made apart and attached: the rows the default partition holds for this month
            -- move in first. The default partition is locked against inserts until the
            -- attach (which locks it anyway): a row for this month written between the move
            -- and the attach would make the attach fail. Readers of the parent wait only for
            -- the attach itself (it locks the default partition exclusively).
            EXECUTE 'LOCK TABLE messages_default IN SHARE ROW EXCLUSIVE MODE';
            EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS)', part_name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM messages_default WHERE created_at >= %L '
                'AND created_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                month, following, part_name);
            EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part_name, month, following);
            made := made + 1;
        END IF;
        month := following;
    END LOOP;
    RETURN made;
END $$
"""

CLAIM_KEY = """
CREATE FUNCTION textbridge_claim_message_key(wanted text, message uuid, created timestamptz,
                                             constraint_name text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- The same message claiming again (a row moved between partitions) keeps its key.
    INSERT INTO message_keys AS k (key, message_id, message_created_at)
    VALUES (wanted, message, created)
    ON CONFLICT (key) DO UPDATE SET message_created_at = excluded.message_created_at
    WHERE k.message_id = excluded.message_id;
    IF NOT FOUND THEN
        RAISE unique_violation USING
            MESSAGE = format('duplicate key value violates unique constraint "%s"',
                             constraint_name),
            DETAIL = format('Key %s already exists.', wanted),
            CONSTRAINT = constraint_name, TABLE = 'messages';
    END IF;
END $$
"""

_IDEMPOTENCY = "'i:' || {r}.idempotency_key"
_PROVIDER = "'p:' || {r}.provider || ':' || {r}.provider_message_id"
_PROVIDER_CHANGED = (
    "(OLD.provider, OLD.provider_message_id) IS DISTINCT FROM (NEW.provider, "
    "NEW.provider_message_id)"
)
KEYS_TRIGGER_FUNCTION = f"""
CREATE FUNCTION textbridge_message_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.idempotency_key IS DISTINCT FROM NEW.idempotency_key
           AND OLD.idempotency_key IS NOT NULL THEN
            DELETE FROM message_keys
            WHERE key = {_IDEMPOTENCY.format(r="OLD")} AND message_id = OLD.id;
        END IF;
        IF {_PROVIDER_CHANGED} AND OLD.provider_message_id IS NOT NULL THEN
            DELETE FROM message_keys
            WHERE key = {_PROVIDER.format(r="OLD")} AND message_id = OLD.id;
        END IF;
    END IF;
    IF NEW.idempotency_key IS NOT NULL
       AND (TG_OP = 'INSERT' OR OLD.idempotency_key IS DISTINCT FROM NEW.idempotency_key) THEN
        PERFORM textbridge_claim_message_key({_IDEMPOTENCY.format(r="NEW")}, NEW.id,
            NEW.created_at, 'uq_messages_idempotency_key');
    END IF;
    IF NEW.provider_message_id IS NOT NULL AND (TG_OP = 'INSERT' OR {_PROVIDER_CHANGED}) THEN
        PERFORM textbridge_claim_message_key({_PROVIDER.format(r="NEW")}, NEW.id,
            NEW.created_at, 'uq_messages_provider_provider_message_id');
    END IF;
    RETURN NULL;
END $$
"""
# WHEN clauses: a row with no key (most sends) calls no function at all.
KEY_TRIGGERS_SQL = [
    """CREATE TRIGGER message_keys_insert AFTER INSERT ON messages FOR EACH ROW
    WHEN (NEW.idempotency_key IS NOT NULL OR NEW.provider_message_id IS NOT NULL)
    EXECUTE FUNCTION textbridge_message_keys()""",
    f"""CREATE TRIGGER message_keys_update
    AFTER UPDATE OF idempotency_key, provider, provider_message_id ON messages FOR EACH ROW
    WHEN (OLD.idempotency_key IS DISTINCT FROM NEW.idempotency_key OR {_PROVIDER_CHANGED})
    EXECUTE FUNCTION textbridge_message_keys()""",
]

FILL_KEYS = f"""
INSERT INTO message_keys (key, message_id, message_created_at)
SELECT {_IDEMPOTENCY.format(r="m")}, m.id, m.created_at FROM messages_unpartitioned AS m
WHERE m.idempotency_key IS NOT NULL
UNION ALL
SELECT {_PROVIDER.format(r="m")}, m.id, m.created_at FROM messages_unpartitioned AS m
WHERE m.provider_message_id IS NOT NULL
"""


def _pairs(sql: str) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in op.get_bind().execute(sa.text(sql)).all()]


def _secondary_indexes() -> list[tuple[str, str]]:
    """(name, definition) of the indexes of `messages` that no constraint owns."""
    rows = _pairs(
        """SELECT i.indexname, i.indexdef FROM pg_indexes AS i
        WHERE i.schemaname = current_schema() AND i.tablename = 'messages'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c
                          WHERE c.conrelid = 'messages'::regclass AND c.conname = i.indexname)
        ORDER BY i.indexname"""
    )
    # A partitioned table's index reads `ON ONLY messages`: made again, it covers them all.
    return [(name, definition.replace(" ON ONLY ", " ON ")) for name, definition in rows]


def _triggers() -> list[tuple[str, str]]:
    return _pairs(
        """SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE tgrelid = 'messages'::regclass AND NOT tgisinternal ORDER BY tgname"""
    )


def _foreign_keys() -> list[tuple[str, str]]:
    """(name, definition) of the foreign keys from `messages` to other tables."""
    return _pairs(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = 'messages'::regclass AND contype = 'f' ORDER BY conname"""
    )


def _incoming() -> list[tuple[str, str]]:
    """(table, name) of the foreign keys from other tables to `messages`."""
    return _pairs(
        """SELECT conrelid::regclass::text, conname FROM pg_constraint
        WHERE confrelid = 'messages'::regclass AND contype = 'f' ORDER BY conname"""
    )


def _rebuild(
    indexes: list[tuple[str, str]],
    triggers: list[tuple[str, str]],
    foreign_keys: list[tuple[str, str]],
) -> None:
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE messages ADD CONSTRAINT {name} {definition}")
    for _, definition in indexes:
        op.execute(definition)
    for _, definition in triggers:
        op.execute(definition)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    indexes, triggers, foreign_keys = _secondary_indexes(), _triggers(), _foreign_keys()
    for table, name in _incoming():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("ALTER TABLE messages RENAME TO messages_unpartitioned")
    op.execute(
        "CREATE TABLE messages (LIKE messages_unpartitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) "
        "PARTITION BY RANGE (created_at)"
    )
    op.execute("CREATE TABLE messages_default PARTITION OF messages DEFAULT")
    op.execute(ENSURE_PARTITIONS)
    op.execute(
        f"""SELECT textbridge_ensure_message_partitions(
            least(min(created_at), now()), now() + {AHEAD})
        FROM messages_unpartitioned"""
    )
    op.execute("INSERT INTO messages SELECT * FROM messages_unpartitioned")
    op.execute(
        """CREATE TABLE message_keys (
            key text NOT NULL CONSTRAINT pk_message_keys PRIMARY KEY,
            message_id uuid NOT NULL,
            message_created_at timestamptz NOT NULL)"""
    )
    op.execute(FILL_KEYS)
    op.execute("DROP TABLE messages_unpartitioned")
    op.execute("ALTER TABLE messages ADD CONSTRAINT pk_messages PRIMARY KEY (id, created_at)")
    op.execute(
        "CREATE INDEX ix_messages_idempotency_key ON messages (idempotency_key) "
        "WHERE idempotency_key IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_messages_provider_provider_message_id "
        "ON messages (provider, provider_message_id)"
    )
    _rebuild(indexes, triggers, foreign_keys)
    for statement in (CLAIM_KEY, KEYS_TRIGGER_FUNCTION, *KEY_TRIGGERS_SQL):
        op.execute(statement)
    op.execute("ANALYZE messages")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    indexes = [(n, d) for n, d in _secondary_indexes() if n not in LOOKUP_INDEXES]
    triggers = [(n, d) for n, d in _triggers() if n not in KEY_TRIGGERS]
    foreign_keys = _foreign_keys()
    op.execute("ALTER TABLE messages RENAME TO messages_partitioned")
    op.execute(
        "CREATE TABLE messages (LIKE messages_partitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)"
    )
    op.execute("INSERT INTO messages SELECT * FROM messages_partitioned")
    op.execute("DROP TABLE messages_partitioned")  # and every partition with it
    op.execute("DROP TABLE message_keys")
    for function in (
        "textbridge_message_keys()",
        "textbridge_claim_message_key(text, uuid, timestamptz, text)",
        "textbridge_ensure_message_partitions(timestamptz, timestamptz)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("ALTER TABLE messages ADD CONSTRAINT pk_messages PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE messages ADD CONSTRAINT uq_messages_idempotency_key UNIQUE (idempotency_key)"
    )
    op.execute(
        "ALTER TABLE messages ADD CONSTRAINT uq_messages_provider_provider_message_id "
        "UNIQUE (provider, provider_message_id)"
    )
    _rebuild(indexes, triggers, foreign_keys)
    for name, table in INCOMING.items():
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} "
            "FOREIGN KEY (message_id) REFERENCES messages (id)"
        )
    op.execute("ANALYZE messages")
