"""analytics: counts per 24 hours from any hour, and a partial index of inbound messages

`message_block_counts` and `delivery_time_block_counts`: for every UTC hour `start_hour`,
the folded counts (`message_counts`, `delivery_time_counts`, rows not `fresh`) of the 24
hours from it, by the same dimensions. A local day of 24 hours in any zone is one start hour
of these (its midnight's hour): a 30-day report reads 30 start hours instead of 720 hours.
On SQLite kept by `analytics.rollup.compact` (it adds the fresh rows it folds to the 24
blocks each one falls in). On PostgreSQL by statement-level AFTER DELETE triggers on
`message_counts` and `delivery_time_counts` (one call per statement, over its transition
table): whatever deletes fresh hourly rows (this release's compactor, the previous
release's, an erasure's fold) adds them to the blocks in its own transaction, and a block
that comes to nothing goes; a folded row deleted (`fresh` false) is in the blocks already
and is not added. So `db upgrade` may run while the previous release still folds (the
rolling-upgrade rule): the trigger and the backfill are made under the compactor's advisory
lock, so no fold falls between them. Nothing is added to a message's write. The text
dimensions are '' here where the hourly counts have NULL (part of the primary key, which
an upsert needs on both databases; '' and NULL read the same in every report).

`ix_messages_inbound`: inbound messages only (created_at, channel, provider, our address,
their address): the inbound report counts people writing in from it alone. A send adds no
entry.

Backfilled from the folded hourly counts. See docs/DESIGN-NOTES.md, "The dashboard at
p95 25 ms".

Revision ID: a109c9a9a109
Revises: a104c4a4a104
Create Date: 2026-12-01 02:00:00
"""

# ruff: noqa: S608 (SQL built from the constants here)
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a109c9a9a109"
down_revision: str | None = "a104c4a4a104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCK_HOURS = 24
# Written in start order, so that a report's blocks sit on few pages. 0 .. 23 as a table,
# the same on both databases (SQLite has no generate_series).
OFFSETS = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(BLOCK_HOURS))
COUNT_KEYS = "direction, channel, provider, our_address, status, error_code, error_message, price"
COUNT_VALUES = (
    "direction, channel, provider, our_address, status, coalesce(error_code, ''), "
    "coalesce(error_message, ''), coalesce(price, '')"
)
TIME_KEYS = "channel, provider, our_address, bucket"
# The compactor's advisory lock (`analytics.rollup._COMPACT_LOCK`, the same in the release
# before this one): held from the start, so that no compactor folds between the backfill and
# the triggers (a fold committed before is in the backfill, one after fires the trigger).
COMPACT_LOCK = 0x7462_726F_6C6C_7570
# A block of 24 hours from `start_hour` for every hour `hour - k` (k = 0 .. 23) of each fresh
# row deleted; a group that came to nothing goes (an erased person's error text with it).
PG_FUNCTION = """CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    first_hour bigint;
    last_hour bigint;
BEGIN
    SELECT min(hour), max(hour) INTO first_hour, last_hour FROM gone WHERE fresh;
    IF first_hour IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO {table} AS b (start_hour, {keys}, messages)
    SELECT hour - k, {values}, sum(messages)
    FROM gone, generate_series(0, 23) AS k WHERE fresh
    GROUP BY {grouped}
    ON CONFLICT (start_hour, {keys}) DO UPDATE SET messages = b.messages + excluded.messages;
    DELETE FROM {table}
    WHERE start_hour >= first_hour - 23 AND start_hour <= last_hour AND messages = 0;
    RETURN NULL;
END $$"""
PG_TRIGGER = """CREATE TRIGGER {name} AFTER DELETE ON {source}
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION {name}()"""
# (trigger and function, hourly table, block table, key columns, their values, GROUP BY)
PG_BLOCKS = (
    (
        "message_blocks_add",
        "message_counts",
        "message_block_counts",
        COUNT_KEYS,
        COUNT_VALUES,
        "1, 2, 3, 4, 5, 6, 7, 8, 9",
    ),
    (
        "delivery_time_blocks_add",
        "delivery_time_counts",
        "delivery_time_block_counts",
        TIME_KEYS,
        TIME_KEYS,
        "1, 2, 3, 4, 5",
    ),
)
INBOUND = ("created_at", "channel", "provider", "to_address", "from_address")
IS_INBOUND = "direction = 'inbound'"


def _text(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=False)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(f"SELECT pg_advisory_xact_lock({COMPACT_LOCK})")
    op.create_table(
        "message_block_counts",
        sa.Column("start_hour", sa.BigInteger(), nullable=False),
        _text("direction", 10),
        _text("channel", 20),
        _text("provider", 20),
        _text("our_address", 140),
        _text("status", 20),
        _text("error_code", 32),
        _text("error_message", 500),
        _text("price", 20),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "start_hour",
            "direction",
            "channel",
            "provider",
            "our_address",
            "status",
            "error_code",
            "error_message",
            "price",
            name=op.f("pk_message_block_counts"),
        ),
    )
    op.create_table(
        "delivery_time_block_counts",
        sa.Column("start_hour", sa.BigInteger(), nullable=False),
        _text("channel", 20),
        _text("provider", 20),
        _text("our_address", 140),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "start_hour",
            "channel",
            "provider",
            "our_address",
            "bucket",
            name=op.f("pk_delivery_time_block_counts"),
        ),
    )
    op.execute(f"""INSERT INTO message_block_counts (start_hour, {COUNT_KEYS}, messages)
        SELECT hour - k, {COUNT_VALUES}, sum(messages)
        FROM message_counts, ({OFFSETS}) AS offsets WHERE NOT fresh
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(messages) <> 0 ORDER BY 1""")
    op.execute(f"""INSERT INTO delivery_time_block_counts (start_hour, {TIME_KEYS}, messages)
        SELECT hour - k, {TIME_KEYS}, sum(messages)
        FROM delivery_time_counts, ({OFFSETS}) AS offsets WHERE NOT fresh
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(messages) <> 0 ORDER BY 1""")
    op.create_index(
        "ix_messages_inbound",
        "messages",
        list(INBOUND),
        postgresql_where=sa.text(IS_INBOUND),
        sqlite_where=sa.text(IS_INBOUND),
    )

    if postgresql:
        # After the backfill: CREATE TRIGGER holds off the counts' writers (the messages'
        # triggers) until the migration commits, as the index holds off the messages' own.
        for name, source, table, keys, values, grouped in PG_BLOCKS:
            op.execute(
                PG_FUNCTION.format(
                    name=name, table=table, keys=keys, values=values, grouped=grouped
                )
            )
            op.execute(PG_TRIGGER.format(name=name, source=source))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, source, *_ in PG_BLOCKS:
            op.execute(f"DROP TRIGGER {name} ON {source}")
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_messages_inbound", table_name="messages")
    op.drop_table("delivery_time_block_counts")
    op.drop_table("message_block_counts")
