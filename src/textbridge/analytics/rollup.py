"""The message counts per UTC hour (`message_counts`), and how a report reads them.

Triggers on `messages` (migration a003c0a3a003) append one row per change of a message's
dimensions in the writer's own transaction: +n for the new dimensions, -n for the old. A
group's count is the sum of its rows, so it is exact at any snapshot, a delivery report that
arrives a day later included, and no writer ever waits for another on a counter row.
`compact` folds the rows of the hours that received fresh ones into one row per hour and
dimensions, and moves the fresh rows' sums into `message_totals` (the `/metrics` gauge), in
one transaction: a reader sees the rows before or after, never both.

An hour is read from the counts when all of it falls on one local day of the report's zone
under one UTC offset. The others (the hour around a local midnight of a zone whose offset is
not whole hours, Asia/Kolkata's 18:30 UTC; a clock change that is not on the hour; a
window's edge) are read from the messages themselves (`Plan.live`), so any zone gets exact
days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.analytics.window import Window, zone_of
from textbridge.models import (
    DeliveryTimeBlockCount,
    DeliveryTimeCount,
    MessageBlockCount,
    MessageCount,
    MessageTotal,
)
from textbridge.polling import PollingLoop

HOUR = 3600
DAY = 86400
BLOCK_HOURS = 24
"""A block (`message_block_counts`) holds the 24 hours from its start hour."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COMPACT_BATCH = 500
"""Hours folded per pass (a pass that folds a full batch runs again at once)."""
COMPACT_INTERVAL_SECONDS = 5.0
ERASURE_FOLD = 1_000_000
"""Hours an erasure folds at once: all of them."""
# Any fixed 64-bit key: one compactor at a time across processes (PostgreSQL).
_COMPACT_LOCK = 0x7462_726F_6C6C_7570

_DIMENSIONS = (
    "hour",
    "direction",
    "channel",
    "provider",
    "our_address",
    "status",
    "error_code",
    "error_message",
    "price",
)


def seconds_of(moment: datetime) -> int:
    """Whole seconds since 1970 (floored)."""
    return (moment - EPOCH) // timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Run:
    """Blocks from `first_start` on (until the next run) whose local day is
    `(hour * 3600 + constant) // 86400` for each hour they hold."""

    first_start: int
    constant: int


Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Plan:
    """Where each local day of a window is read from.

    A day of 24 hours with one UTC offset is a block (`blocks`, its midnight's UTC hour,
    floored), corrected from the messages where its midnights are not on the hour: the part
    of its first hour before its midnight out (`back`: -1, on the day after the message's),
    the part of the hour of its next midnight before it in (`live`). Any other day (a clock
    change) is its whole hours (`hours`) and, from the messages, the parts of the hours a
    midnight or a change cuts (`live`)."""

    blocks: tuple[int, ...]
    runs: tuple[Run, ...]
    hours: tuple[tuple[int, int], ...]
    """Hour ranges [first, end) read from the hourly counts, every row."""
    live: tuple[Span, ...]
    """UTC spans [start, end) read from the messages, each on its local day."""
    back: tuple[Span, ...] = ()
    """UTC spans read from the messages, -1 each, on the day after its local day."""
    read: tuple[Span, ...] = ()
    """`live` and `back` together: what is read from the messages when there is `back`."""

    @property
    def block_hours(self) -> tuple[tuple[int, int], ...]:
        """The hours the blocks hold, as ranges (their fresh rows are not in the blocks)."""
        return tuple(merged([(start, start + BLOCK_HOURS) for start in self.blocks]))


def plan(window: Window) -> Plan:
    zone = zone_of(window.zone_name)
    bounds = [seconds_of(window.start)]
    for day in window.days[1:]:
        midnight = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        bounds.append(seconds_of(midnight))
    bounds.append(seconds_of(window.end))
    changes = [seconds_of(shift.since) for shift in window.shifts[1:]]
    blocks: list[int] = []
    runs: list[Run] = []
    hours: list[tuple[int, int]] = []
    live: list[tuple[int, int]] = []
    back: list[tuple[int, int]] = []
    for day, start, end in zip(window.days, bounds, bounds[1:], strict=False):
        first, last = start // HOUR, -(-end // HOUR)
        if end - start == DAY and not any(first * HOUR < c < last * HOUR for c in changes):
            blocks.append(first)
            constant = (day - EPOCH.date()).days * DAY - first * HOUR
            if not runs or runs[-1].constant != constant:
                runs.append(Run(first, constant))
            if start % HOUR:
                back.append((first * HOUR, start))
            if end % HOUR:
                live.append((end // HOUR * HOUR, end))
            continue
        cuts = {start, end, *(c for c in changes if start < c < end)}
        skipped = {cut // HOUR for cut in cuts if cut % HOUR}
        whole = [h for h in range(-(-start // HOUR), end // HOUR) if h not in skipped]
        hours.extend(merged([(h, h + 1) for h in whole]))
        live.extend((max(h * HOUR, start), min((h + 1) * HOUR, end)) for h in sorted(skipped))
    return Plan(
        tuple(blocks),
        tuple(runs),
        tuple(merged(hours)),
        _spans(live),
        _spans(back),
        _spans(live + back),
    )


def _spans(spans: list[tuple[int, int]]) -> tuple[Span, ...]:
    return tuple(
        (EPOCH + timedelta(seconds=a), EPOCH + timedelta(seconds=b))
        for a, b in merged(spans)
        if a < b
    )


def direct(window: Window) -> Plan:
    """A plan that reads the whole window from the messages (the reference the bench and
    the tests compare the counts with)."""
    return Plan((), (), (), ((window.start, window.end),))


def merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans, overlapping or touching ones joined, in order."""
    found: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if found and found[-1][1] >= a:
            found[-1] = (found[-1][0], max(found[-1][1], b))
        else:
            found.append((a, b))
    return found


def local_day_number(seconds: ColumnElement[Any], window: Window) -> ColumnElement[Any]:
    """The local day (days since 1970-01-01) of UTC `seconds` since 1970 (an integer column):
    shifted by its span's offset, then divided as integers (both databases truncate, and
    messages are after 1970)."""
    shifts = window.shifts
    offset: ColumnElement[Any]
    if len(shifts) == 1:
        offset = literal(shifts[0].seconds, BigInteger)
    else:
        whens = [
            (seconds < seconds_of(later.since), earlier.seconds)
            for earlier, later in pairwise(shifts)
        ]
        offset = case(*whens, else_=shifts[-1].seconds)
    return (seconds + offset).self_group().op("/")(literal(DAY, BigInteger))


def block_day_number(hour: ColumnElement[Any], found: Plan) -> ColumnElement[Any]:
    """The local day of a block's start hour, or of an hour a block holds (`Plan.runs`)."""
    runs = found.runs
    constant: ColumnElement[Any]
    if len(runs) == 1:
        constant = literal(runs[0].constant, BigInteger)
    else:
        whens = [(hour < later.first_start, earlier.constant) for earlier, later in pairwise(runs)]
        constant = case(*whens, else_=runs[-1].constant)
    seconds = hour * literal(HOUR, BigInteger) + constant
    return seconds.self_group().op("/")(literal(DAY, BigInteger))


def in_hours(column: Any, ranges: tuple[tuple[int, int], ...]) -> ColumnElement[bool]:
    return or_(*(and_(column >= a, column < b) for a, b in ranges))


Conditions = Callable[[Any], list[ColumnElement[bool]]]
"""Conditions on a count table's columns (the report's and the filters')."""


def counted(window: Window, found: Plan, reasons: bool, conditions: Conditions) -> list[Any]:
    """The counts of the plan's days as selects of rows (day, the dimensions, messages): the
    blocks, the fresh hourly rows of the hours they hold (not folded into them yet), and the
    hours of the other days; the error texts only with `reasons`, a text '' as none."""
    c, b = MessageCount.__table__.c, MessageBlockCount.__table__.c
    parts = []
    if found.blocks:
        parts.append(
            _count_rows(block_day_number(b.start_hour, found), b, reasons).where(
                b.start_hour.in_(found.blocks), *conditions(b)
            )
        )
        parts.append(
            _count_rows(block_day_number(c.hour, found), c, reasons).where(
                c.fresh, in_hours(c.hour, found.block_hours), *conditions(c)
            )
        )
    if found.hours:
        day = local_day_number(c.hour * literal(HOUR, BigInteger), window)
        parts.append(
            _count_rows(day, c, reasons).where(in_hours(c.hour, found.hours), *conditions(c))
        )
    return parts


def _count_rows(day: ColumnElement[Any], c: Any, reasons: bool) -> Any:
    return select(
        day.label("day"),
        c.direction,
        c.channel,
        c.provider,
        c.status,
        none_if_empty(c.error_code).label("error_code"),
        none_if_empty(c.error_message).label("error_message") if reasons else null(),
        none_if_empty(c.price).label("price"),
        c.messages.label("n"),
    )


def none_if_empty(column: Any) -> ColumnElement[Any]:
    """A text dimension, '' read as none (the blocks keep none as '')."""
    return func.nullif(column, "")


def timed(window: Window, found: Plan, conditions: Conditions) -> list[Any]:
    """The histogram of the time to delivered as `counted` reads the counts: rows of
    (day, bucket, messages)."""
    t, b = DeliveryTimeCount.__table__.c, DeliveryTimeBlockCount.__table__.c
    parts = []
    if found.blocks:
        parts.append(
            select(
                block_day_number(b.start_hour, found).label("day"), b.bucket, b.messages.label("n")
            ).where(b.start_hour.in_(found.blocks), *conditions(b))
        )
        parts.append(
            select(
                block_day_number(t.hour, found).label("day"), t.bucket, t.messages.label("n")
            ).where(t.fresh, in_hours(t.hour, found.block_hours), *conditions(t))
        )
    if found.hours:
        day = local_day_number(t.hour * literal(HOUR, BigInteger), window)
        parts.append(
            select(day.label("day"), t.bucket, t.messages.label("n")).where(
                in_hours(t.hour, found.hours), *conditions(t)
            )
        )
    return parts


def message_seconds(column: Any, postgresql: bool) -> ColumnElement[Any]:
    if postgresql:
        # date_part is a double (exact to the microsecond for these dates); extract() is a
        # numeric since PostgreSQL 14, several times dearer per row.
        return cast(func.floor(func.date_part("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), Integer)


def in_spans(column: Any, spans: tuple[Span, ...]) -> ColumnElement[bool]:
    return or_(*(and_(column >= a, column < b) for a, b in spans))


def day_of(number: int) -> str:
    return (EPOCH.date() + timedelta(days=int(number))).isoformat()


# ---------------------------------------------------------------------------- folding


async def compact(session: AsyncSession, batch: int = COMPACT_BATCH, wait: bool = False) -> int:
    """Fold the rows of up to `batch` hours that have fresh ones; returns how many hours.
    The caller commits. On PostgreSQL one compactor at a time: another one running means
    this one does nothing, unless it `wait`s for it (erasure)."""
    if session.get_bind().dialect.name == "postgresql":
        return await _compact_postgresql(session, batch, wait)
    return await _compact_sqlite(session, batch)


_KEYS = ", ".join(_DIMENSIONS)
_TOTAL_KEYS = "direction, provider, channel, status"

# One statement: the rows it deletes are the rows it sums, however many compactors or
# writers run (a row appended meanwhile is not seen, so not deleted: the next pass has it).
# 0 .. 23 as a table, the same on both databases (SQLite has no generate_series).
_OFFSETS = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(BLOCK_HOURS))
_BLOCK_KEYS = (
    "start_hour, direction, channel, provider, our_address, status, error_code, "
    "error_message, price"
)
# The fresh rows of an hour go to the 24 blocks it falls in (their texts '' for none). SQLite
# only: on PostgreSQL the triggers of migration a109c9a9a109 do it (see `_PG_COMPACT`).
_BLOCK_ROWS = f"""SELECT hour - k, direction, channel, provider, our_address, status,
        coalesce(error_code, ''), coalesce(error_message, ''), coalesce(price, ''),
        sum(messages)
    FROM {{source}}, ({_OFFSETS}) AS offsets WHERE {{where}}
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"""  # noqa: S608 (constants only)
_TIME_BLOCK_KEYS = "start_hour, channel, provider, our_address, bucket"
_TIME_BLOCK_ROWS = f"""SELECT hour - k, channel, provider, our_address, bucket, sum(messages)
    FROM {{source}}, ({_OFFSETS}) AS offsets WHERE {{where}}
    GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 (constants only)
_ADD_TO_BLOCKS = """INSERT INTO {table} AS b ({keys}, messages)
    {rows}
    ON CONFLICT ({keys}) DO UPDATE SET messages = b.messages + excluded.messages"""
# A group that came to nothing goes (an erased person's error text with it): in the blocks
# of the hours just folded (SQLite; the trigger does it on PostgreSQL).
_EMPTY_BLOCKS = f"""DELETE FROM {{table}} WHERE start_hour >= :first - {BLOCK_HOURS - 1}
    AND start_hour <= :last_hour AND messages = 0"""  # noqa: S608 (constants only)

# One statement: the rows it deletes are the rows it sums, however many compactors or
# writers run (a row appended meanwhile is not seen, so not deleted: the next pass has it).
# The blocks follow in the database: an AFTER DELETE trigger on each hourly table (migration
# a109c9a9a109, once per statement over the rows it deleted) adds the fresh ones to the 24
# blocks each falls in and drops the blocks that came to nothing, whichever release's
# compactor folds (a rolling upgrade).
_PG_COMPACT = f"""
WITH touched AS (
    SELECT DISTINCT hour FROM message_counts WHERE fresh ORDER BY hour LIMIT :batch
), gone AS (
    DELETE FROM message_counts WHERE hour IN (SELECT hour FROM touched)
    RETURNING {_KEYS}, messages, fresh
), totals AS (
    INSERT INTO message_totals AS t ({_TOTAL_KEYS}, messages)
    SELECT {_TOTAL_KEYS}, sum(messages) FROM gone WHERE fresh GROUP BY {_TOTAL_KEYS}
    ON CONFLICT ({_TOTAL_KEYS}) DO UPDATE SET messages = t.messages + excluded.messages
), folded AS (
    INSERT INTO message_counts ({_KEYS}, messages, fresh)
    SELECT {_KEYS}, sum(messages), false FROM gone
    GROUP BY {_KEYS} HAVING sum(messages) <> 0
)
SELECT count(*) FROM touched
"""  # noqa: S608 (constants only)


_TIME_KEYS = "hour, channel, provider, our_address, bucket"
# The histogram of the time to delivered (`delivery_time_counts`), folded the same way.
_PG_COMPACT_TIMES = f"""
WITH touched AS (
    SELECT DISTINCT hour FROM delivery_time_counts WHERE fresh ORDER BY hour LIMIT :batch
), gone AS (
    DELETE FROM delivery_time_counts WHERE hour IN (SELECT hour FROM touched)
    RETURNING {_TIME_KEYS}, messages
), folded AS (
    INSERT INTO delivery_time_counts ({_TIME_KEYS}, messages, fresh)
    SELECT {_TIME_KEYS}, sum(messages), false FROM gone
    GROUP BY {_TIME_KEYS} HAVING sum(messages) <> 0
)
SELECT count(*) FROM touched
"""  # noqa: S608 (constants only)


async def _compact_postgresql(session: AsyncSession, batch: int, wait: bool) -> int:
    if wait:
        await session.execute(select(func.pg_advisory_xact_lock(_COMPACT_LOCK)))
    elif not await session.scalar(select(func.pg_try_advisory_xact_lock(_COMPACT_LOCK))):
        return 0
    folded = 0
    for statement in (_PG_COMPACT, _PG_COMPACT_TIMES):
        hours = await session.scalar(text(statement), {"batch": batch})
        folded = max(folded, int(hours or 0))
    return folded


async def _drop_empty_blocks(session: AsyncSession, table: str, first: int, last: int) -> None:
    await session.execute(
        text(_EMPTY_BLOCKS.format(table=table)), {"first": first, "last_hour": last}
    )


_CHOSEN = "hour IN :hours AND id <= :last"
_SQLITE_COMPACT = (
    _ADD_TO_BLOCKS.format(
        table="message_block_counts",
        keys=_BLOCK_KEYS,
        rows=_BLOCK_ROWS.format(source="message_counts", where=f"fresh AND {_CHOSEN}"),
    ),
    f"""INSERT INTO message_totals ({_TOTAL_KEYS}, messages)
    SELECT {_TOTAL_KEYS}, sum(messages) FROM message_counts
    WHERE fresh AND {_CHOSEN} GROUP BY {_TOTAL_KEYS}
    ON CONFLICT ({_TOTAL_KEYS}) DO UPDATE SET messages = messages + excluded.messages""",  # noqa: S608
    f"""INSERT INTO message_counts ({_KEYS}, messages, fresh)
    SELECT {_KEYS}, sum(messages), 0 FROM message_counts WHERE {_CHOSEN}
    GROUP BY {_KEYS} HAVING sum(messages) <> 0""",  # noqa: S608
    f"DELETE FROM message_counts WHERE {_CHOSEN}",  # noqa: S608
)


_SQLITE_COMPACT_TIMES = (
    _ADD_TO_BLOCKS.format(
        table="delivery_time_block_counts",
        keys=_TIME_BLOCK_KEYS,
        rows=_TIME_BLOCK_ROWS.format(source="delivery_time_counts", where=f"fresh AND {_CHOSEN}"),
    ),
    f"""INSERT INTO delivery_time_counts ({_TIME_KEYS}, messages, fresh)
    SELECT {_TIME_KEYS}, sum(messages), 0 FROM delivery_time_counts WHERE {_CHOSEN}
    GROUP BY {_TIME_KEYS} HAVING sum(messages) <> 0""",  # noqa: S608
    f"DELETE FROM delivery_time_counts WHERE {_CHOSEN}",  # noqa: S608
)


async def _compact_sqlite(session: AsyncSession, batch: int) -> int:
    # Every SQLite transaction here starts with BEGIN IMMEDIATE (db/engine.py): nothing is
    # written between these statements, and `last` bounds the rows folded.
    counts = await _fold_sqlite(
        session, MessageCount.__table__, _SQLITE_COMPACT, batch, "message_block_counts"
    )
    times = await _fold_sqlite(
        session,
        DeliveryTimeCount.__table__,
        _SQLITE_COMPACT_TIMES,
        batch,
        "delivery_time_block_counts",
    )
    return max(counts, times)


async def _fold_sqlite(
    session: AsyncSession, table: Any, statements: tuple[str, ...], batch: int, blocks: str
) -> int:
    c = table.c
    hours = list(
        await session.scalars(
            select(c.hour).where(c.fresh).group_by(c.hour).order_by(c.hour).limit(batch)
        )
    )
    if not hours:
        return 0
    last = await session.scalar(select(func.max(c.id)))
    for statement in statements:
        await session.execute(
            text(statement).bindparams(_expanding()), {"hours": hours, "last": last}
        )
    await _drop_empty_blocks(session, blocks, hours[0], hours[-1])
    return len(hours)


def _expanding() -> Any:
    return bindparam("hours", expanding=True)


class RollupCompactor:
    """Folds the message counts every few seconds (in each `worker` and `serve` with workers;
    on PostgreSQL one at a time by an advisory lock)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._loop = PollingLoop("rollup-compact", COMPACT_BATCH, COMPACT_INTERVAL_SECONDS)

    async def run(self) -> None:
        await self._loop.run(self.compact_once)

    def stop(self) -> None:
        self._loop.stop()

    async def compact_once(self) -> int:
        async with self._sessions() as session:
            folded = await compact(session)
            await session.commit()
        return folded


# ---------------------------------------------------------------------------- totals


async def message_totals(session_or_connection: Any) -> dict[tuple[str, str, str, str], int]:
    """Every message by (direction, provider, channel, status), from the totals and the fresh
    counts in one statement (one snapshot); groups of none are left out."""
    t, c = MessageTotal.__table__.c, MessageCount.__table__.c
    both = (
        select(t.direction, t.provider, t.channel, t.status, t.messages)
        .union_all(select(c.direction, c.provider, c.channel, c.status, c.messages).where(c.fresh))
        .subquery()
    )
    keys = (both.c.direction, both.c.provider, both.c.channel, both.c.status)
    summed = func.sum(both.c.messages)
    rows = await session_or_connection.execute(
        select(*keys, summed).group_by(*keys).having(summed != 0)
    )
    return {(row[0], row[1], row[2], row[3]): int(row[4]) for row in rows}
