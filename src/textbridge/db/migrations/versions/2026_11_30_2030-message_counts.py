"""analytics: message_counts (per hour and dimensions) and message_totals, kept by triggers

`message_counts` holds, per UTC hour of `created_at` and the dimensions the dashboard groups
or filters by, how many messages have them now. A trigger on `messages` appends one row per
change in the writer's own transaction (+n for the new dimensions, -n for the old), so the sum
of a group's rows is exact at every snapshot, whoever writes (the ORM, the asyncpg send lane,
the campaign's `INSERT ... SELECT`, erasure's bulk UPDATE); appends take no lock another
writer waits for. `analytics.rollup.compact` folds the rows later. No DELETE trigger: a count
outlives its message (counts are not personal data). See docs/DESIGN-NOTES.md, "Analytics
rollup".

PostgreSQL: statement-level triggers over transition tables (one INSERT ... SELECT per
statement, however many rows it changed). SQLite: row triggers.

Backfilled from the messages as compacted rows; `message_totals` from the same.

`ix_messages_awaiting_receipt`: the no-receipt alert of each `/metrics` scrape reads the
messages sent with no report yet by `updated_at`, instead of every `sent` message ever.

Revision ID: a003c0a3a003
Revises: a004c0a4a004
Create Date: 2026-11-30 19:00:00
"""

# ruff: noqa: S608 (SQL built from the constants here)
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a003c0a3a003"
down_revision: str | None = "a004c0a4a004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FAILED = "('rejected', 'failed', 'undelivered')"
_AWAITING_RECEIPT = "status IN ('submitted', 'sent')"
COLUMNS = (
    "hour, direction, channel, provider, our_address, status, error_code, error_message, price"
)
SOURCES = (
    "created_at",
    "direction",
    "channel",
    "provider",
    "from_address",
    "to_address",
    "status",
    "error_code",
    "error_message",
    "price",
)


# Read from the index alone by a report (the error text, up to 500 characters, is not).
COVERED = (
    "direction",
    "channel",
    "provider",
    "our_address",
    "status",
    "error_code",
    "price",
    "messages",
)


def _dimensions(row: str, hour: str) -> str:
    """The dimensions of a message row named `row`, in the order of `COLUMNS`."""
    r = row
    return f"""{hour.format(r=r)},
        {r}.direction, {r}.channel, {r}.provider,
        CASE WHEN {r}.direction = 'outbound' THEN {r}.from_address ELSE {r}.to_address END,
        {r}.status,
        CASE WHEN {r}.status IN {_FAILED} THEN {r}.error_code END,
        CASE WHEN {r}.status IN {_FAILED} THEN {r}.error_message END,
        CASE WHEN {r}.direction = 'outbound' THEN {r}.price END"""


PG_HOUR = "floor(extract(epoch FROM {r}.created_at) / 3600)::bigint"
SQLITE_HOUR = "CAST(strftime('%s', {r}.created_at) AS INTEGER) / 3600"
GROUPED = "1, 2, 3, 4, 5, 6, 7, 8, 9"

PG_FUNCTIONS = [
    f"""CREATE FUNCTION message_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO message_counts ({COLUMNS}, messages, fresh)
    SELECT {_dimensions("n", PG_HOUR)}, count(*), true
    FROM inserted AS n GROUP BY {GROUPED};
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION message_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO message_counts ({COLUMNS}, messages, fresh)
    SELECT {COLUMNS}, sum(change), true FROM (
        SELECT {_dimensions("o", PG_HOUR)}, -1 AS change FROM before AS o
        UNION ALL
        SELECT {_dimensions("n", PG_HOUR)}, 1 AS change FROM after AS n
    ) AS moved ({COLUMNS}, change)
    GROUP BY {GROUPED} HAVING sum(change) <> 0;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER message_counts_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION message_counts_inserted()""",
    """CREATE TRIGGER message_counts_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS before NEW TABLE AS after FOR EACH STATEMENT
    EXECUTE FUNCTION message_counts_updated()""",
]
PG_DROP = [
    "DROP TRIGGER message_counts_update ON messages",
    "DROP TRIGGER message_counts_insert ON messages",
    "DROP FUNCTION message_counts_updated()",
    "DROP FUNCTION message_counts_inserted()",
]

_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in SOURCES)
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER message_counts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_counts ({COLUMNS}, messages, fresh)
    VALUES ({_dimensions("NEW", SQLITE_HOUR)}, 1, 1);
END""",
    f"""CREATE TRIGGER message_counts_update AFTER UPDATE OF {", ".join(SOURCES)} ON messages
WHEN {_CHANGED} BEGIN
    INSERT INTO message_counts ({COLUMNS}, messages, fresh)
    VALUES ({_dimensions("OLD", SQLITE_HOUR)}, -1, 1), ({_dimensions("NEW", SQLITE_HOUR)}, 1, 1);
END""",
]
SQLITE_DROP = ["DROP TRIGGER message_counts_update", "DROP TRIGGER message_counts_insert"]


def _backfill(hour: str) -> list[str]:
    return [
        f"""INSERT INTO message_counts ({COLUMNS}, messages, fresh)
        SELECT {_dimensions("m", hour)}, count(*), false FROM messages AS m GROUP BY {GROUPED}""",
        """INSERT INTO message_totals (direction, provider, channel, status, messages)
        SELECT direction, provider, channel, status, count(*) FROM messages
        GROUP BY direction, provider, channel, status""",
    ]


def upgrade() -> None:
    op.create_table(
        "message_counts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("our_address", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("price", sa.String(length=20), nullable=True),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("fresh", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_counts")),
    )
    op.create_index("ix_message_counts_hour", "message_counts", ["hour", *COVERED])
    op.create_index(
        "ix_message_counts_fresh_hour",
        "message_counts",
        ["hour"],
        postgresql_where=sa.text("fresh"),
        sqlite_where=sa.text("fresh"),
    )
    op.create_table(
        "message_totals",
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "direction", "provider", "channel", "status", name=op.f("pk_message_totals")
        ),
    )
    op.create_index(
        "ix_messages_awaiting_receipt",
        "messages",
        ["updated_at"],
        postgresql_where=sa.text(_AWAITING_RECEIPT),
        sqlite_where=sa.text(_AWAITING_RECEIPT),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _backfill(PG_HOUR if postgresql else SQLITE_HOUR):
        op.execute(statement)
    for statement in PG_FUNCTIONS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    op.drop_index("ix_messages_awaiting_receipt", table_name="messages")
    op.drop_table("message_totals")
    op.drop_index("ix_message_counts_fresh_hour", table_name="message_counts")
    op.drop_index("ix_message_counts_hour", table_name="message_counts")
    op.drop_table("message_counts")
