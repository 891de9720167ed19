"""analytics: delivery_time_counts, an hourly histogram of the time to delivered

Per UTC hour of `created_at`, channel, provider, our address (the `from` of an outbound
message) and bucket of the milliseconds from `created_at` to `delivered_at`: how many
outbound messages were delivered that fast. Kept by the same triggers as `message_counts`
(appended +1/-1 rows, folded by `analytics.rollup.compact`); the time to delivered report
reads its percentiles from the cumulative bucket counts instead of sorting every delivered
message of the range.

`delivery_time_buckets` holds the buckets' lower bounds in milliseconds: 0, then
round(2 ** (k / 8)) for k = 0..256 (each bucket at most 9 % wider than its lower bound, up
to 2 ** 32 ms, 49.7 days; longer times fall in the last). A table, so that both databases'
triggers place a time in the same bucket without a logarithm (SQLite may have none).

Backfilled from the messages as folded rows. See docs/DESIGN-NOTES.md, "Time to delivered
from an hourly histogram".

`ix_messages_campaign_funnel`: the campaign funnel reads its campaigns' messages from this
partial index alone (campaign messages only: a send that is not a campaign's adds no entry)
instead of visiting each message's row.

Revision ID: a102c2a2a102
Revises: a003c0a3a003
Create Date: 2026-11-30 22:00:00
"""

# ruff: noqa: S608 (SQL built from the constants here)
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a102c2a2a102"
down_revision: str | None = "a003c0a3a003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOUNDS = sorted({0} | {round(2 ** (k / 8)) for k in range(257)})
COLUMNS = "hour, channel, provider, our_address, bucket"
GROUPED = "1, 2, 3, 4, 5"

# The message counts' triggers as migration a003c0a3a003 made them (restored on downgrade).
_FAILED = "('rejected', 'failed', 'undelivered')"
COUNT_COLUMNS = (
    "hour, direction, channel, provider, our_address, status, error_code, error_message, price"
)
COUNT_GROUPED = "1, 2, 3, 4, 5, 6, 7, 8, 9"
PG_HOUR = "floor(extract(epoch FROM {r}.created_at) / 3600)::bigint"
SQLITE_HOUR = "CAST(strftime('%s', {r}.created_at) AS INTEGER) / 3600"
# Rounded to the millisecond; a report that came before its message (clocks) counts as 0.
# A bigint, as `lower_ms`: compared with a numeric, the bucket lookup could not use its index.
PG_MILLIS = (
    "greatest(round(extract(epoch FROM {r}.delivered_at - {r}.created_at) * 1000)::bigint, 0)"
)
SQLITE_MILLIS = (
    "max(CAST(round((julianday({r}.delivered_at) - julianday({r}.created_at)) * 86400000)"
    " AS INTEGER), 0)"
)
TIMED = "{r}.direction = 'outbound' AND {r}.delivered_at IS NOT NULL"


def _count_dimensions(r: str, hour: str) -> str:
    return f"""{hour.format(r=r)},
        {r}.direction, {r}.channel, {r}.provider,
        CASE WHEN {r}.direction = 'outbound' THEN {r}.from_address ELSE {r}.to_address END,
        {r}.status,
        CASE WHEN {r}.status IN {_FAILED} THEN {r}.error_code END,
        CASE WHEN {r}.status IN {_FAILED} THEN {r}.error_message END,
        CASE WHEN {r}.direction = 'outbound' THEN {r}.price END"""


def _time_dimensions(r: str, hour: str, millis: str) -> str:
    """A delivered outbound message's histogram dimensions, in the order of `COLUMNS`."""
    bucket = f"""(SELECT b.bucket FROM delivery_time_buckets AS b
        WHERE b.lower_ms <= {millis.format(r=r)} ORDER BY b.lower_ms DESC LIMIT 1)"""
    return f"{hour.format(r=r)}, {r}.channel, {r}.provider, {r}.from_address, {bucket}"


_PG_COUNTS_INSERTED = f"""INSERT INTO message_counts ({COUNT_COLUMNS}, messages, fresh)
    SELECT {_count_dimensions("n", PG_HOUR)}, count(*), true
    FROM inserted AS n GROUP BY {COUNT_GROUPED};"""
_PG_COUNTS_UPDATED = f"""INSERT INTO message_counts ({COUNT_COLUMNS}, messages, fresh)
    SELECT {COUNT_COLUMNS}, sum(change), true FROM (
        SELECT {_count_dimensions("o", PG_HOUR)}, -1 AS change FROM before AS o
        UNION ALL
        SELECT {_count_dimensions("n", PG_HOUR)}, 1 AS change FROM after AS n
    ) AS moved ({COUNT_COLUMNS}, change)
    GROUP BY {COUNT_GROUPED} HAVING sum(change) <> 0;"""
_PG_TIMES_INSERTED = f"""INSERT INTO delivery_time_counts ({COLUMNS}, messages, fresh)
    SELECT {_time_dimensions("n", PG_HOUR, PG_MILLIS)}, count(*), true
    FROM inserted AS n WHERE {TIMED.format(r="n")} GROUP BY {GROUPED};"""
# Only the rows whose delivered_at was or is set: most updates (a send's status steps) have none.
_PG_TIMES_UPDATED = f"""INSERT INTO delivery_time_counts ({COLUMNS}, messages, fresh)
    SELECT {COLUMNS}, sum(change), true FROM (
        SELECT {_time_dimensions("o", PG_HOUR, PG_MILLIS)}, -1 AS change
        FROM before AS o WHERE {TIMED.format(r="o")}
        UNION ALL
        SELECT {_time_dimensions("n", PG_HOUR, PG_MILLIS)}, 1 AS change
        FROM after AS n WHERE {TIMED.format(r="n")}
    ) AS moved ({COLUMNS}, change)
    GROUP BY {GROUPED} HAVING sum(change) <> 0;"""


def _pg_functions(inserted: list[str], updated: list[str]) -> list[str]:
    body = "\n    ".join
    return [
        f"""CREATE OR REPLACE FUNCTION message_counts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {body(inserted)}
    RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION message_counts_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {body(updated)}
    RETURN NULL;
END $$""",
    ]


PG_UP = _pg_functions(
    [_PG_COUNTS_INSERTED, _PG_TIMES_INSERTED], [_PG_COUNTS_UPDATED, _PG_TIMES_UPDATED]
)
PG_DOWN = _pg_functions([_PG_COUNTS_INSERTED], [_PG_COUNTS_UPDATED])

TIME_SOURCES = ("direction", "channel", "provider", "from_address", "created_at", "delivered_at")
_TIME_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in TIME_SOURCES)
_TIMED_OLD = TIMED.format(r="OLD")
_TIMED_NEW = TIMED.format(r="NEW")
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER delivery_time_counts_insert AFTER INSERT ON messages
WHEN {_TIMED_NEW} BEGIN
    INSERT INTO delivery_time_counts ({COLUMNS}, messages, fresh)
    VALUES ({_time_dimensions("NEW", SQLITE_HOUR, SQLITE_MILLIS)}, 1, 1);
END""",
    f"""CREATE TRIGGER delivery_time_counts_update
AFTER UPDATE OF {", ".join(TIME_SOURCES)} ON messages
WHEN ({_TIME_CHANGED}) AND (({_TIMED_OLD}) OR ({_TIMED_NEW})) BEGIN
    INSERT INTO delivery_time_counts ({COLUMNS}, messages, fresh)
    SELECT {_time_dimensions("OLD", SQLITE_HOUR, SQLITE_MILLIS)}, -1, 1 WHERE {_TIMED_OLD};
    INSERT INTO delivery_time_counts ({COLUMNS}, messages, fresh)
    SELECT {_time_dimensions("NEW", SQLITE_HOUR, SQLITE_MILLIS)}, 1, 1 WHERE {_TIMED_NEW};
END""",
]
SQLITE_DROP = [
    "DROP TRIGGER delivery_time_counts_update",
    "DROP TRIGGER delivery_time_counts_insert",
]


def _backfill(hour: str, millis: str) -> str:
    return f"""INSERT INTO delivery_time_counts ({COLUMNS}, messages, fresh)
    SELECT {_time_dimensions("m", hour, millis)}, count(*), false
    FROM messages AS m WHERE {TIMED.format(r="m")} GROUP BY {GROUPED}"""


CAMPAIGN_FUNNEL = (
    "campaign_id",
    "status",
    "conversation_id",
    "created_at",
    "error_code",
    "provider_message_id",
)
IS_CAMPAIGNS = "campaign_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_messages_campaign_funnel",
        "messages",
        list(CAMPAIGN_FUNNEL),
        postgresql_where=sa.text(IS_CAMPAIGNS),
        sqlite_where=sa.text(IS_CAMPAIGNS),
    )
    buckets = op.create_table(
        "delivery_time_buckets",
        sa.Column("bucket", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("lower_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_delivery_time_buckets")),
    )
    op.bulk_insert(buckets, [{"bucket": i, "lower_ms": b} for i, b in enumerate(BOUNDS)])
    op.create_index(
        "ix_delivery_time_buckets_lower_ms", "delivery_time_buckets", ["lower_ms", "bucket"]
    )
    op.create_table(
        "delivery_time_counts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("our_address", sa.String(length=140), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("fresh", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_time_counts")),
    )
    op.create_index(
        "ix_delivery_time_counts_hour",
        "delivery_time_counts",
        ["hour", "channel", "provider", "our_address", "bucket", "messages"],
    )
    op.create_index(
        "ix_delivery_time_counts_fresh_hour",
        "delivery_time_counts",
        ["hour"],
        postgresql_where=sa.text("fresh"),
        sqlite_where=sa.text("fresh"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(_backfill(PG_HOUR, PG_MILLIS))
        for statement in PG_UP:
            op.execute(statement)
    else:
        op.execute(_backfill(SQLITE_HOUR, SQLITE_MILLIS))
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWN if postgresql else SQLITE_DROP:
        op.execute(statement)
    op.drop_index("ix_delivery_time_counts_fresh_hour", table_name="delivery_time_counts")
    op.drop_index("ix_delivery_time_counts_hour", table_name="delivery_time_counts")
    op.drop_table("delivery_time_counts")
    op.drop_index("ix_delivery_time_buckets_lower_ms", table_name="delivery_time_buckets")
    op.drop_table("delivery_time_buckets")
    op.drop_index("ix_messages_campaign_funnel", table_name="messages")
