"""The reports that read the hourly counts (`analytics.rollup`) against a computation in
Python straight from the messages, over random messages, random late changes (a status, an
error, a price, an erasure's new address, several rows in one statement), compactions at
random moments, and random windows in zones whose offsets are not whole hours (Kolkata +5:30,
Kathmandu +5:45, Chatham +12:45/+13:45 across its clock change, St John's -3:30/-2:30)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.analytics import query as reports
from textbridge.analytics import rollup
from textbridge.analytics.window import window
from textbridge.db.engine import create_engine
from textbridge.models import Contact, Conversation, DeliveryTimeBucket, Message, Sender
from textbridge.models.message_count import DELIVERY_TIME_BOUNDS

from ..support.database import Database, run_sync
from ..support.plans import generic_plan_indexes
from .test_plan import _local_day_number, back_across_midnight

ZONES = (
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/Paris",
)
# 2026-03-26 to 2026-04-08: Paris moves its clocks on 03-29, Chatham on 04-05.
START = datetime(2026, 3, 26, tzinfo=UTC)
SPAN_SECONDS = 13 * 86400
FIRST_DAY = date(2026, 3, 25)
OURS = ("+14155550100", "+14155550102")
THEIRS = ("+14155550181", "+14155550182", "+14155550183")
STATUSES = (
    "accepted",
    "sending",
    "submitted",
    "sent",
    "delivered",
    "read",
    "failed",
    "undelivered",
    "rejected",
    "cancelled",
    "unknown",
)
CODES = (None, "30", "1050")
REASONS = (None, "absent subscriber", "blocked", "carrier said no")
PRICES = (None, "0.00500", "0.0068", "n/a")


@dataclass(frozen=True)
class Made:
    seconds: int
    inbound: bool
    channel: str
    provider: str
    ours: str
    theirs: str
    status: str
    code: str | None
    reason: str | None
    price: str | None
    delivered_after_ms: int | None


# Near a quarter hour, where the local midnights of these zones fall, more often than not.
moment = st.one_of(
    st.integers(0, SPAN_SECONDS - 1),
    st.builds(
        lambda day, quarter, nudge: min(
            max(day * 86400 + quarter * 900 + nudge, 0), SPAN_SECONDS - 1
        ),
        st.integers(0, 12),
        st.integers(0, 95),
        st.integers(-90, 90),
    ),
)
made = st.builds(
    Made,
    moment,
    st.booleans(),
    st.sampled_from(("sms", "whatsapp")),
    st.sampled_from(("plivo", "vonage")),
    st.sampled_from(OURS),
    st.sampled_from(THEIRS),
    st.sampled_from(STATUSES),
    st.sampled_from(CODES),
    st.sampled_from(REASONS),
    st.sampled_from(PRICES),
    st.one_of(st.none(), st.integers(-2_000, 3_600_000), st.integers(-2_000, 200)),
)
# A later change: which messages (indexes, taken modulo the count), and what they become.
change = st.tuples(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from(STATUSES),
            "error_code": st.sampled_from(CODES),
            "error_message": st.sampled_from(REASONS),
            "price": st.sampled_from(PRICES),
            "from_address": st.just("erased-0001"),
            "to_address": st.just("erased-0002"),
            "delivered_at": st.one_of(
                st.none(), st.integers(0, SPAN_SECONDS).map(lambda s: START + timedelta(seconds=s))
            ),
        },
    ),
    st.booleans(),  # compact after it
)
view = st.tuples(
    st.sampled_from(ZONES),
    st.integers(0, 12),
    st.integers(0, 12),
    st.sampled_from((None, "sms", "whatsapp")),
    st.sampled_from((None, "plivo", "vonage")),
    st.sampled_from((None, *OURS)),
)


@pytest.fixture
def url(database: Database, tmp_path: Path) -> str:
    return database.fresh_url(tmp_path)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    messages=st.lists(made, min_size=1, max_size=40),
    changes=st.lists(change, max_size=8),
    views=st.lists(view, min_size=1, max_size=3),
)
def test_rollup_reports_equal_a_direct_count(
    url: str, messages: list[Made], changes: list[Any], views: list[Any]
) -> None:
    run_sync(_example(url, messages, changes, views))


async def _example(url: str, messages: list[Made], changes: list[Any], views: list[Any]) -> None:
    engine = create_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session:
            await _reset(session)
            conversation = await _conversation(session)
            ids = await _insert(session, conversation, messages)
            await session.commit()
        for picked, values, compact in changes:
            async with sessions() as session:
                if values:
                    chosen = sorted({ids[i % len(ids)] for i in picked})
                    await session.execute(
                        update(Message).where(Message.id.in_(chosen)).values(**values)
                    )
                if compact:
                    await rollup.compact(session)
                await session.commit()
        async with sessions() as session:
            for zone, first, length, channel, provider, sender in views:
                days = window(
                    FIRST_DAY + timedelta(days=first),
                    FIRST_DAY + timedelta(days=min(first + length, 14)),
                    zone,
                    START,
                )
                filters = reports.Filters(channel, provider, sender)
                await _compare(session, reports.Query(session, days, filters), zone)
            assert await rollup.message_totals(await session.connection()) == await _totals(session)
            assert await _blocks(session) == await _blocks_of_the_hours(session)
    finally:
        await engine.dispose()


_COUNTED = (
    "messages",
    "message_counts",
    "message_totals",
    "delivery_time_counts",
    "message_block_counts",
    "delivery_time_block_counts",
)


async def _reset(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"TRUNCATE {', '.join(_COUNTED)} CASCADE"))
    else:
        for table in _COUNTED:
            await session.execute(text(f"DELETE FROM {table}"))


async def _conversation(session: AsyncSession) -> uuid.UUID:
    found = await session.scalar(select(Conversation.id))
    if found is not None:
        return found
    contact, sender, conversation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = START
    await session.execute(insert(Contact).values(id=contact, address=THEIRS[0], created_at=now))
    await session.execute(
        insert(Sender).values(
            id=sender, provider="plivo", channel="sms", address=OURS[0], created_at=now
        )
    )
    await session.execute(
        insert(Conversation).values(
            id=conversation,
            contact_id=contact,
            sender_id=sender,
            channel="sms",
            unread_count=0,
            created_at=now,
        )
    )
    return conversation


async def _insert(
    session: AsyncSession, conversation: uuid.UUID, messages: list[Made]
) -> list[uuid.UUID]:
    rows = [_row(conversation, m) for m in messages]
    # Half in one statement (a campaign's INSERT ... SELECT), half one by one.
    half = len(rows) // 2
    if half:
        await session.execute(insert(Message).values(rows[:half]))
    for row in rows[half:]:
        await session.execute(insert(Message).values(row))
    return [row["id"] for row in rows]


def _row(conversation: uuid.UUID, m: Made) -> dict[str, Any]:
    when = START + timedelta(seconds=m.seconds, microseconds=m.seconds % 7 * 1000)
    ours, theirs = m.ours, m.theirs
    return {
        "id": uuid.uuid4(),
        "conversation_id": conversation,
        "direction": "inbound" if m.inbound else "outbound",
        "channel": m.channel,
        "provider": m.provider,
        "from_address": theirs if m.inbound else ours,
        "to_address": ours if m.inbound else theirs,
        "status": "received" if m.inbound else m.status,
        "error_code": m.code,
        "error_message": m.reason,
        "price": m.price,
        "attempts": 0,
        "created_at": when,
        "updated_at": when,
        "delivered_at": (
            when + timedelta(milliseconds=m.delivered_after_ms)
            if m.delivered_after_ms is not None
            else None
        ),
    }


# ---------------------------------------------------------------------------- the blocks

_BLOCK_DIMENSIONS = (
    "direction",
    "channel",
    "provider",
    "our_address",
    "status",
    "error_code",
    "error_message",
    "price",
)


async def _blocks(session: AsyncSession) -> dict[tuple[Any, ...], int]:
    found = await session.execute(
        text(
            f"SELECT start_hour, {', '.join(_BLOCK_DIMENSIONS)}, messages FROM message_block_counts"
        )
    )
    return {tuple(row[:-1]): int(row[-1]) for row in found}


async def _blocks_of_the_hours(session: AsyncSession) -> dict[tuple[Any, ...], int]:
    """Every block from the folded hourly counts: the sums of the 24 hours from each hour,
    none as ''."""
    found = await session.execute(
        text(
            f"SELECT hour, {', '.join(_BLOCK_DIMENSIONS)}, messages"
            " FROM message_counts WHERE NOT fresh"
        )
    )
    sums: dict[tuple[Any, ...], int] = defaultdict(int)
    for hour, *dimensions, n in found:
        kept = tuple("" if value is None else value for value in dimensions)
        for start in range(hour - rollup.BLOCK_HOURS + 1, hour + 1):
            sums[(start, *kept)] += int(n)
    return {key: n for key, n in sums.items() if n}


# The previous release's fold (main before the blocks, 8068f9a), which knows nothing of them:
# it runs while `db upgrade` has made them (a rolling upgrade), and its deletes must still
# reach them (the AFTER DELETE triggers of migration a109c9a9a109).
_PREVIOUS_FOLDS = (
    f"""
WITH touched AS (
    SELECT DISTINCT hour FROM message_counts WHERE fresh ORDER BY hour LIMIT :batch
), gone AS (
    DELETE FROM message_counts WHERE hour IN (SELECT hour FROM touched)
    RETURNING {rollup._KEYS}, messages, fresh
), totals AS (
    INSERT INTO message_totals AS t ({rollup._TOTAL_KEYS}, messages)
    SELECT {rollup._TOTAL_KEYS}, sum(messages) FROM gone WHERE fresh
    GROUP BY {rollup._TOTAL_KEYS}
    ON CONFLICT ({rollup._TOTAL_KEYS}) DO UPDATE SET messages = t.messages + excluded.messages
), folded AS (
    INSERT INTO message_counts ({rollup._KEYS}, messages, fresh)
    SELECT {rollup._KEYS}, sum(messages), false FROM gone
    GROUP BY {rollup._KEYS} HAVING sum(messages) <> 0
)
SELECT count(*) FROM touched""",
    f"""
WITH touched AS (
    SELECT DISTINCT hour FROM delivery_time_counts WHERE fresh ORDER BY hour LIMIT :batch
), gone AS (
    DELETE FROM delivery_time_counts WHERE hour IN (SELECT hour FROM touched)
    RETURNING {rollup._TIME_KEYS}, messages
), folded AS (
    INSERT INTO delivery_time_counts ({rollup._TIME_KEYS}, messages, fresh)
    SELECT {rollup._TIME_KEYS}, sum(messages), false FROM gone
    GROUP BY {rollup._TIME_KEYS} HAVING sum(messages) <> 0
)
SELECT count(*) FROM touched""",
)


@pytest.mark.postgresql_only
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    messages=st.lists(made, min_size=1, max_size=40),
    changes=st.lists(
        st.tuples(change, st.sampled_from(("previous", "this", "none")), st.integers(1, 30)),
        max_size=8,
    ),
)
def test_blocks_follow_the_previous_releases_compactor(
    url: str, messages: list[Made], changes: list[Any]
) -> None:
    """Folds by the previous release's compactor (no blocks in it), by this one, in batches
    of a few hours (some hours folded, then changed and folded again: their compacted rows
    deleted with the fresh ones), in any order: every block is the sum of its folded hours,
    none is empty, and the reports equal a direct count."""
    run_sync(_rolling(url, messages, changes))


async def _rolling(url: str, messages: list[Made], changes: list[Any]) -> None:
    engine = create_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session:
            await _reset(session)
            conversation = await _conversation(session)
            ids = await _insert(session, conversation, messages)
            await session.commit()
        for (picked, values, _), fold, batch in changes:
            async with sessions() as session:
                if values:
                    chosen = sorted({ids[i % len(ids)] for i in picked})
                    await session.execute(
                        update(Message).where(Message.id.in_(chosen)).values(**values)
                    )
                if fold == "previous":
                    for statement in _PREVIOUS_FOLDS:
                        await session.execute(text(statement), {"batch": batch})
                elif fold == "this":
                    await rollup.compact(session, batch)
                await session.commit()
        async with sessions() as session:
            for statement in _PREVIOUS_FOLDS:  # whatever is still fresh, the previous way
                await session.execute(text(statement), {"batch": rollup.ERASURE_FOLD})
            await session.commit()
            assert await _blocks(session) == await _blocks_of_the_hours(session)
            assert await _time_blocks(session) == await _time_blocks_of_the_hours(session)
            empty = "SELECT count(*) FROM {} WHERE messages = 0"
            for table in ("message_block_counts", "delivery_time_block_counts"):
                assert await session.scalar(text(empty.format(table))) == 0
            days = window(FIRST_DAY, FIRST_DAY + timedelta(days=14), "Asia/Kolkata", START)
            query = reports.Query(session, days, reports.Filters(None, None, None))
            await _compare(session, query, "Asia/Kolkata")
    finally:
        await engine.dispose()


async def _time_blocks(session: AsyncSession) -> dict[tuple[Any, ...], int]:
    found = await session.execute(
        text(
            "SELECT start_hour, channel, provider, our_address, bucket, messages"
            " FROM delivery_time_block_counts"
        )
    )
    return {tuple(row[:-1]): int(row[-1]) for row in found}


async def _time_blocks_of_the_hours(session: AsyncSession) -> dict[tuple[Any, ...], int]:
    found = await session.execute(
        text(
            "SELECT hour, channel, provider, our_address, bucket, messages"
            " FROM delivery_time_counts WHERE NOT fresh"
        )
    )
    sums: dict[tuple[Any, ...], int] = defaultdict(int)
    for hour, *dimensions, n in found:
        for start in range(hour - rollup.BLOCK_HOURS + 1, hour + 1):
            sums[(start, *dimensions)] += int(n)
    return {key: n for key, n in sums.items() if n}


# ---------------------------------------------------------------------------- the reference


async def _messages(session: AsyncSession) -> list[Any]:
    m = Message.__table__.c
    return list(
        await session.execute(
            select(
                m.created_at,
                m.direction,
                m.channel,
                m.provider,
                m.from_address,
                m.to_address,
                m.status,
                m.error_code,
                m.error_message,
                m.price,
            )
        )
    )


async def _totals(session: AsyncSession) -> dict[tuple[str, str, str, str], int]:
    found: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for row in await _messages(session):
        found[(row.direction, row.provider, row.channel, row.status)] += 1
    return dict(found)


def _kept(query: reports.Query, zone: str) -> Callable[[Any], str | None]:
    """The local day of a message row in the window that passes the filters, else None."""
    wanted, days, local = query.filters, query.window, ZoneInfo(zone)

    def day_of(row: Any) -> str | None:
        ours = row.from_address if row.direction == "outbound" else row.to_address
        if wanted.channel not in (None, row.channel) or wanted.provider not in (
            None,
            row.provider,
        ):
            return None
        if wanted.sender not in (None, ours):
            return None
        day = row.created_at.astimezone(local).date()
        return day.isoformat() if days.first_day <= day <= days.last_day else None

    return day_of


async def _compare(session: AsyncSession, query: reports.Query, zone: str) -> None:
    day_of = _kept(query, zone)
    rows = [(day, row) for row in await _messages(session) if (day := day_of(row))]
    sent = [(d, r) for d, r in rows if r.direction == "outbound" and r.status != "cancelled"]
    _same(await reports.messages_per_day(query), _per_day(rows))
    _same(await reports.delivery_per_day(query), _delivery(sent))
    _same(await reports.failures_by_reason(query), _failures(sent))
    _same(await reports.cost_per_day(query), _cost(sent))
    inbound = await reports.inbound_per_day(query)
    expected_rows, expected_totals = _inbound([(d, r) for d, r in rows if r.direction == "inbound"])
    assert (inbound.rows, inbound.totals) == (expected_rows, expected_totals)
    _within_a_bucket(
        await reports.delivery_time(query),
        await reports.delivery_time(
            reports.Query(query.session, query.window, query.filters, True)
        ),
    )


def _within_a_bucket(histogram: reports.Report, exact: reports.Report) -> None:
    """The same days and counts; each percentile within one bucket (9 %) of the exact one,
    and the millisecond the times are rounded to."""
    assert len(histogram.rows) == len(exact.rows)
    for found, wanted in [
        *zip(histogram.rows, exact.rows, strict=True),
        (histogram.totals, exact.totals),
    ]:
        assert found.get("day") == wanted.get("day")
        assert found["delivered"] == wanted["delivered"]
        for key in ("median_seconds", "p95_seconds"):
            if wanted[key] is None:
                assert found[key] is None
            else:
                assert abs(found[key] - wanted[key]) <= 0.09 * wanted[key] + 0.003, (
                    key,
                    found,
                    wanted,
                )


def _same(report: reports.Report, expected: list[dict[str, Any]]) -> None:
    assert report.rows == expected


def _per_day(rows: list[Any]) -> list[dict[str, Any]]:
    counted: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for day, r in rows:
        counted[(day, r.direction, r.channel, r.provider)] += 1
    return [
        {"day": d, "direction": w, "channel": c, "provider": p, "messages": n}
        for (d, w, c, p), n in sorted(counted.items())
    ]


def _inbound(received: list[Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Inbound messages per day, channel and provider, and the distinct people (their
    `from_address`) who wrote: per day and over the whole window."""
    counted: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, set()])
    for day, r in received:
        group = counted[(day, r.channel, r.provider)]
        group[0] += 1
        group[1].add(r.from_address)
    rows = [
        {"day": d, "channel": c, "provider": p, "messages": n, "contacts": len(people)}
        for (d, c, p), (n, people) in sorted(counted.items())
    ]
    totals = {"messages": len(received), "contacts": len({r.from_address for _, r in received})}
    return rows, totals


def _delivery(sent: list[Any]) -> list[dict[str, Any]]:
    counted: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, r in sent:
        figures = counted[day]
        figures[0] += 1
        figures[1] += r.status in reports.DELIVERED
        figures[2] += r.status in reports.FAILED
    return [reports._delivery_row(day, *figures) for day, figures in sorted(counted.items())]


def _failures(sent: list[Any]) -> list[dict[str, Any]]:
    counted: dict[tuple[str, str | None], list[Any]] = defaultdict(lambda: [0, []])
    for _, r in sent:
        if r.status in reports.FAILED:
            figures = counted[(r.provider, r.error_code)]
            figures[0] += 1
            figures[1] += [r.error_message] if r.error_message is not None else []
    rows = [
        {"provider": p, "error_code": c or "", "reason": min(why, default=""), "messages": n}
        for (p, c), (n, why) in counted.items()
    ]
    return sorted(rows, key=lambda r: (-r["messages"], r["provider"], r["error_code"]))


def _cost(sent: list[Any]) -> list[dict[str, Any]]:
    counted: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, r in sent:
        figures = counted[(day, r.provider)]
        micros = reports.price_micros(r.price)
        figures[0] += 1
        if micros is not None:
            figures[1] += 1
            figures[2] += micros
    return [
        {"day": d, "provider": p, "messages": n, "priced": k, "cost": reports.money(c)}
        for (d, p), (n, k, c) in sorted(counted.items())
    ]


def test_the_migrated_buckets_are_the_ones_the_report_reads(url: str) -> None:
    """The triggers bucket times by the table; the report reads the bounds from the code."""

    async def bounds() -> list[int]:
        engine = create_engine(url)
        try:
            async with async_sessionmaker(engine)() as session:
                b = DeliveryTimeBucket.__table__.c
                found = await session.execute(select(b.bucket, b.lower_ms).order_by(b.bucket))
                rows = list(found)
        finally:
            await engine.dispose()
        assert [bucket for bucket, _ in rows] == list(range(len(rows)))
        return [lower for _, lower in rows]

    assert run_sync(bounds()) == list(DELIVERY_TIME_BOUNDS)


@pytest.mark.postgresql_only
def test_width_bucket_places_a_time_as_the_triggers_lookup(url: str) -> None:
    """The report buckets the messages it reads (a midnight's quarter hour) by `width_bucket`
    over the bounds on PostgreSQL; the triggers by a look-up in the table: the same bucket
    for every bound, the millisecond either side of it, and beyond the last."""
    times = sorted(
        {0, 2**40} | {b + d for b in DELIVERY_TIME_BOUNDS for d in (-1, 0, 1) if b + d >= 0}
    )

    async def both() -> list[tuple[int, int, int]]:
        engine = create_engine(url)
        try:
            async with async_sessionmaker(engine)() as session:
                b = DeliveryTimeBucket.__table__.c
                found = []
                for millis in times:
                    ours = literal(millis, BigInteger)
                    by_table = (
                        select(b.bucket)
                        .where(b.lower_ms <= ours)
                        .order_by(b.lower_ms.desc())
                        .limit(1)
                        .scalar_subquery()
                    )
                    row = (
                        await session.execute(select(reports._bucket_of(ours, True), by_table))
                    ).one()
                    found.append((millis, row[0], row[1]))
                return found
        finally:
            await engine.dispose()

    for millis, by_width, by_table in run_sync(both()):
        assert by_width == by_table, millis


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    "filters",
    [reports.Filters(), reports.Filters("sms", "plivo", OURS[0])],
    ids=["unfiltered", "filtered"],
)
def test_the_inbound_report_reads_its_own_index_in_a_generic_plan(
    url: str, filters: reports.Filters
) -> None:
    """asyncpg prepares each statement, and PostgreSQL plans it generically after its fifth
    run: without the values of the parameters. The inbound report must still read only
    `ix_messages_inbound` then (a parameter in place of its predicate's 'inbound' made it
    read `ix_messages_analytics`, three times the entries)."""

    async def indexes() -> set[str]:
        engine = create_engine(url)
        try:
            async with async_sessionmaker(engine)() as session:
                days = window(FIRST_DAY, FIRST_DAY + timedelta(days=13), "Asia/Kathmandu", START)
                built = reports._inbound_statement(reports.Query(session, days, filters))
                compiled = built.compile(dialect=engine.dialect)
                values = ", ".join(
                    _sql_literal(compiled.params[name]) for name in compiled.positiontup or ()
                )
                return await generic_plan_indexes(
                    session,
                    str(compiled),
                    values,
                    switched_off=("enable_seqscan", "enable_bitmapscan"),
                )
        finally:
            await engine.dispose()

    assert run_sync(indexes()) == {"ix_messages_inbound"}


def _sql_literal(value: Any) -> str:
    if isinstance(value, list):
        return "'{" + ",".join(_sql_literal(v).strip("'") for v in value) + "}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def test_inbound_days_whose_times_are_two_spans(url: str) -> None:
    """A clock set back across midnight (`test_plan.back_across_midnight`): the first two
    days are each two spans of time; the report gives each message the day the counts
    would, and counts its people once per day."""
    days = back_across_midnight()
    shifts = list(days.shifts)
    base = int((days.start - START).total_seconds())
    # Every 10 minutes over the first 26 hours, and around each cut; three people on two
    # routes, so that the same person writes on both sides of a day's gap.
    seconds = sorted(
        {base + s for s in range(0, 26 * 3600, 600)}
        | {base + c + d for c in (86400, 86400 + 1800, 86400 + 3600) for d in (-1, 0, 1)}
    )
    made_here = [
        Made(
            s,
            True,
            "sms",
            ("plivo", "vonage")[k % 2],
            OURS[0],
            THEIRS[k % 3],
            "received",
            None,
            None,
            None,
            None,
        )
        for k, s in enumerate(seconds)
    ]

    async def check() -> None:
        engine = create_engine(url)
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                await _reset(session)
                await _insert(session, await _conversation(session), made_here)
                await session.commit()
                found = await reports.inbound_per_day(
                    reports.Query(session, days, reports.Filters())
                )
                rows = await _messages(session)
        finally:
            await engine.dispose()
        kept = []
        for row in rows:
            second = rollup.seconds_of(row.created_at)
            if rollup.seconds_of(days.start) <= second < rollup.seconds_of(days.end):
                kept.append((rollup.day_of(_local_day_number(second, shifts)), row))
        assert (found.rows, found.totals) == _inbound(kept)
        assert {r["day"] for r in found.rows} == {"2026-05-01", "2026-05-02"}

    run_sync(check())
