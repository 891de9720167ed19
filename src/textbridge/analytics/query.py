"""The analytics figures, each one query (or two) over a date range: all SQL is here.

Messages, delivery, failures and cost read the hourly counts (`rollup`, through `facts`),
with the messages themselves only for the hours the counts cannot place on one local day.
Inbound contacts, the time to delivered and the campaign funnel read the messages through
`ix_messages_analytics` (created_at, then the columns read here): on PostgreSQL a range is an
index-only scan. A message counts on the day
it was made (`created_at`), in the caller's zone (`window`), whatever happened to it later:
its delivery, failure and cost belong to that day too, so a day's figures settle as its
reports arrive and never move a message from one day to another.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Executable,
    Float,
    Integer,
    Select,
    SmallInteger,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.analytics import rollup
from textbridge.analytics.window import Window
from textbridge.campaigns import bulk
from textbridge.compliance.consent import ERROR_CODE, OPT_IN, OPT_OUT
from textbridge.messaging import status
from textbridge.models import (
    Campaign,
    ConsentRecord,
    Conversation,
    DeliveryTimeBucket,
    Message,
    Sender,
)
from textbridge.models.consent_record import ALL_SENDERS
from textbridge.models.message_count import DELIVERY_TIME_BOUNDS

DELIVERED = (status.DELIVERED, status.READ)
FAILED = tuple(sorted(status.FAILURES))
MICROS = 1_000_000
MAX_CAMPAIGNS = 100
# A price as providers send it ("0.00650"); anything else counts as unpriced, never as an error.
_PRICE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,12})?")


@dataclass(frozen=True, slots=True)
class Filters:
    channel: str | None = None
    provider: str | None = None
    sender: str | None = None
    """One of our addresses: the `from` of outbound messages, the `to` of inbound ones."""

    def as_json(self) -> dict[str, str | None]:
        return {"channel": self.channel, "provider": self.provider, "sender": self.sender}


@dataclass(frozen=True, slots=True)
class Report:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Query:
    session: AsyncSession
    window: Window
    filters: Filters
    direct: bool = False
    """Read every message of the window instead of the hourly counts (a reference)."""

    @property
    def postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def local_day(self, moment: Any) -> ColumnElement[Any]:
        """The local date of a UTC time column (see `window`)."""
        offset = self._offset(moment)
        if self.postgresql:
            shifted = func.timezone("UTC", moment) + offset * literal_column("interval '1 second'")
            return cast(shifted, Date)
        return func.date(moment, func.printf("%d seconds", offset))

    def _offset(self, moment: Any) -> ColumnElement[int]:
        shifts = self.window.shifts
        if len(shifts) == 1:
            return literal(shifts[0].seconds, Integer)
        whens = [(moment < later.since, earlier.seconds) for earlier, later in pairwise(shifts)]
        return case(*whens, else_=shifts[-1].seconds)

    def messages(self, *columns: Any) -> Select[Any]:
        """`columns` of the messages made in the window that pass the filters."""
        query = select(*columns).where(
            Message.created_at >= self.window.start, Message.created_at < self.window.end
        )
        return query.where(*self.message_filters())

    def message_filters(self) -> list[ColumnElement[bool]]:
        wanted = self.filters
        found: list[ColumnElement[bool]] = []
        if wanted.channel is not None:
            found.append(Message.channel == wanted.channel)
        if wanted.provider is not None:
            found.append(Message.provider == wanted.provider)
        if wanted.sender is not None:
            found.append(
                or_(
                    and_(Message.direction == "outbound", Message.from_address == wanted.sender),
                    and_(Message.direction == "inbound", Message.to_address == wanted.sender),
                )
            )
        return found


_STATEMENTS: dict[tuple[Any, ...], Executable] = {}
STATEMENTS_KEPT = 256


def statement(query: Query, build: Callable[[Query], Executable]) -> Executable:
    """The statement `build` makes for the query's window, filters and database, built once:
    a report's statement has a few hundred elements (a block per day, a span per cut hour),
    and building it cost more than the database's answer. Only the shape is kept, never a
    result: each call runs it again."""
    key = (build, query.window, query.filters, query.direct, query.postgresql)
    found = _STATEMENTS.get(key)
    if found is None:
        if len(_STATEMENTS) >= STATEMENTS_KEPT:
            _STATEMENTS.clear()
        found = _STATEMENTS[key] = build(query)
    return found


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# ---------------------------------------------------------------------------- facts


Where = Callable[[Any], list[ColumnElement[bool]]]
"""Conditions on the columns shared by `messages` and `message_counts` (`status`...)."""


def facts(query: Query, where: Where, reasons: bool = False) -> Any:
    """The messages of the window that pass the filters and `where`, as rows of (day, the
    dimensions, n): the counts (`rollup.plan`: a block of 24 hours for most days, hours for
    the others) and, for the parts of hours those cannot place on one local day, the
    messages themselves (n = 1 each, or -1 for a block's part before its day). A report sums
    `n`. The error texts only with `reasons` (they are not in the indexes the others read
    alone); an empty text reads as none."""
    found = rollup.direct(query.window) if query.direct else rollup.plan(query.window)

    def conditions(c: Any) -> list[ColumnElement[bool]]:
        return [*_count_filters(query.filters, c), *where(c)]

    parts = rollup.counted(query.window, found, reasons, conditions)
    m = Message.__table__.c

    def columns(day: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        return [
            day.label("day"),
            m.direction,
            m.channel,
            m.provider,
            m.status,
            rollup.none_if_empty(m.error_code).label("error_code"),
            rollup.none_if_empty(m.error_message).label("error_message")
            if reasons
            else null().label("error_message"),
            rollup.none_if_empty(m.price).label("price"),
        ]

    parts.extend(_from_messages(query, found, columns, *query.message_filters(), *where(m)))
    return union_all(*parts).subquery("facts")


def _from_messages(
    query: Query,
    found: rollup.Plan,
    columns: Callable[[ColumnElement[Any]], list[ColumnElement[Any]]],
    *conditions: ColumnElement[bool],
) -> list[Any]:
    """The plan's spans read from the messages (`columns` of a message given its day, and n):
    +1 on its local day in `live`, -1 on the day after in `back`. A midnight off the hour
    is in both (the end of one day's block, the start of the next one's): each message is
    read once, and given two rows, n = 0 on a side whose spans it is not in."""
    m = Message.__table__.c
    day = rollup.local_day_number(
        rollup.message_seconds(m.created_at, query.postgresql), query.window
    )
    if not found.back:
        if not found.live:
            return []
        return [
            select(*columns(day), literal(1, BigInteger).label("n")).where(
                rollup.in_spans(m.created_at, found.live), *conditions
            )
        ]
    sides = union_all(
        select(literal(0, BigInteger).label("shift"), literal(1, BigInteger).label("n")),
        select(literal(1, BigInteger), literal(-1, BigInteger)),
    ).subquery("sides")
    # The sides as values, not conditions: an OR of the spans in a join condition costs the
    # planner more than the whole read (it tries to prove each against the scan).
    n = case(
        (sides.c.n == 1, _one_if(m.created_at, found.live, 1)),
        else_=_one_if(m.created_at, found.back, -1),
    )
    return [
        select(*columns(day + sides.c.shift), n.label("n"))
        .select_from(Message.__table__)
        .join(sides, true())
        .where(rollup.in_spans(m.created_at, found.read), *conditions)
    ]


def _one_if(moment: Any, spans: tuple[rollup.Span, ...], n: int) -> ColumnElement[Any]:
    if not spans:
        return literal(0, BigInteger)
    return case((rollup.in_spans(moment, spans), literal(n, BigInteger)), else_=0)


def _count_filters(wanted: Filters, c: Any) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.channel is not None:
        found.append(c.channel == wanted.channel)
    if wanted.provider is not None:
        found.append(c.provider == wanted.provider)
    if wanted.sender is not None:
        found.append(c.our_address == wanted.sender)
    return found


def _everything(_: Any) -> list[ColumnElement[bool]]:
    return []


def _sent_out(c: Any) -> list[ColumnElement[bool]]:
    """Outbound, but not those nobody sent (a campaign's, cancelled before they left)."""
    return [c.direction == "outbound", c.status != status.CANCELLED]


def _failed_out(c: Any) -> list[ColumnElement[bool]]:
    return [c.direction == "outbound", c.status.in_(FAILED)]


def _sum_if(condition: ColumnElement[bool], n: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, n), else_=0)), 0)


# ---------------------------------------------------------------------------- volume


def _messages_statement(query: Query) -> Executable:
    inner = facts(query, _everything)
    keys = (inner.c.day, inner.c.direction, inner.c.channel, inner.c.provider)
    n = func.sum(inner.c.n)
    return select(*keys, n).group_by(*keys).having(n != 0).order_by(*keys)


async def messages_per_day(query: Query) -> Report:
    """Messages made each day, by direction, channel and provider."""
    found = await query.session.execute(statement(query, _messages_statement))
    rows = [
        {"day": rollup.day_of(day), "direction": d, "channel": c, "provider": p, "messages": int(n)}
        for day, d, c, p, n in found
    ]
    totals = {"messages": 0, "inbound": 0, "outbound": 0}
    for row in rows:
        totals["messages"] += row["messages"]
        totals[row["direction"]] = totals.get(row["direction"], 0) + row["messages"]
    return Report(("day", "direction", "channel", "provider", "messages"), rows, totals)


def _inbound(query: Query, *columns: Any) -> Select[Any]:
    """`columns` of the inbound messages of the window that pass the filters, in terms
    `ix_messages_inbound` answers alone. Its predicate is written as a literal: PostgreSQL
    proves a partial index usable from the statement's text, and a bound parameter
    (`direction = $6`) proves nothing in the generic plan that asyncpg's prepared statements
    get after their fifth run (which then read `ix_messages_analytics`, three times the
    entries). The sender is our `to_address` here: `message_filters`' OR over both
    directions names `direction`, which the index does not hold (a heap visit per row)."""
    m = Message.__table__.c
    wanted = query.filters
    found = select(*columns).where(
        m.created_at >= query.window.start,
        m.created_at < query.window.end,
        m.direction == literal_column("'inbound'"),
    )
    if wanted.channel is not None:
        found = found.where(m.channel == wanted.channel)
    if wanted.provider is not None:
        found = found.where(m.provider == wanted.provider)
    if wanted.sender is not None:
        found = found.where(m.to_address == wanted.sender)
    return found


def _inbound_statement(query: Query) -> Executable:
    """The days' rows and the range's total in one statement (one snapshot, one plan), from
    `ix_messages_inbound` alone (index-only). Distinct people do not add up across days, so
    each day's are counted over its own messages: on PostgreSQL a day at a time
    (`_inbound_days`), elsewhere by hashing each (day, channel, provider, person) once; the
    range's people by hashing each person once (`count(DISTINCT)` sorted every message),
    with nothing to count per person: the range's messages are the days' sum, and a hash of
    bare keys was a third faster than one keeping a count in each."""
    m = Message.__table__.c
    per_day = _inbound_days(query) if query.postgresql else _inbound_by_hashing(query)
    people = _inbound(query, m.from_address).group_by(m.from_address).subquery("people")
    everyone = select(null(), null(), null(), null(), func.count()).select_from(people)
    return union_all(per_day, everyone)


def _inbound_by_hashing(query: Query) -> Select[Any]:
    m = Message.__table__.c
    day = rollup.local_day_number(
        rollup.message_seconds(m.created_at, query.postgresql), query.window
    )
    each = (
        _inbound(query, day.label("day"), m.channel, m.provider, func.count().label("n"))
        .group_by(day, m.channel, m.provider, m.from_address)
        .subquery("each")
    )
    keys = (each.c.day, each.c.channel, each.c.provider)
    return select(*keys, func.sum(each.c.n), func.count()).group_by(*keys)


def _inbound_days(query: Query) -> Select[Any]:
    """One index range per local day (`day_spans`), joined laterally: each day's (channel,
    provider, person) groups are hashed apart, a table of a day's thousand people instead
    of one of the month's 26 000 (twice the time per message in the same runs), and the
    day is the span's, not computed per message. A day whose times are not one span (a
    clock set back across midnight) is read over its hull and keeps its own messages by
    `local_day_number`. The spans are written into the statement, not bound: an array
    parameter costs asyncpg a type introspection query on every new connection (7 to 12 ms,
    once per pooled connection; the statement is built per window anyway). As text, not
    SQLAlchemy's `values()`: a statement holding `values()` has no cache key, so it was
    compiled again on every call (1.7 ms for 30 days, 14 ms for a year); the text is its
    own key. Only computed numbers and UTC times are written, never a caller's value."""
    m = Message.__table__.c
    days = _days_table(day_spans(query.window))
    own_day = rollup.local_day_number(rollup.message_seconds(m.created_at, True), query.window)
    each = (
        _inbound(query, m.channel, m.provider, func.count().label("n"))
        .where(
            m.created_at >= days.c.start,
            m.created_at < days.c.end,
            or_(days.c.whole, own_day == days.c.day),
        )
        .group_by(m.channel, m.provider, m.from_address)
        .correlate(days)
        .subquery("each")
    )
    keys = (each.c.channel, each.c.provider)
    day = (
        select(*keys, func.sum(each.c.n).label("n"), func.count().label("people"))
        .group_by(*keys)
        .lateral("day")
    )
    return select(days.c.day, day.c.channel, day.c.provider, day.c.n, day.c.people).join_from(
        days, day, true()
    )


def _days_table(spans: Sequence[DaySpan]) -> Any:
    """The spans as a table `days(day, start, end, whole)` written into the SQL."""
    rows = ", ".join(
        f"({int(s.day)}, TIMESTAMPTZ '{s.start.isoformat()}', TIMESTAMPTZ '{s.end.isoformat()}',"
        f" {'true' if s.whole else 'false'})"
        for s in spans
    )
    moment = DateTime(timezone=True)
    return (
        # Integers, booleans and datetimes' ISO forms only (computed from the window).
        text(f'SELECT * FROM (VALUES {rows}) AS spans(day, start, "end", whole)')  # noqa: S608
        .columns(
            column("day", BigInteger),
            column("start", moment),
            column("end", moment),
            column("whole", Boolean),
        )
        .subquery("days")
    )


@dataclass(frozen=True, slots=True)
class DaySpan:
    day: int
    """Days since 1970-01-01, as `rollup.local_day_number` numbers them."""
    start: datetime
    end: datetime
    whole: bool
    """The day is exactly [start, end); else its times are some of those (`local_day_number`
    says which)."""


def day_spans(window: Window) -> list[DaySpan]:
    """Each local day of the window with the UTC times `rollup.local_day_number` gives it: in
    each span of one offset, the days are cut at whole multiples of a day minus the offset."""
    shifts = window.shifts
    start, end = rollup.seconds_of(window.start), rollup.seconds_of(window.end)
    pieces: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for shift, following in zip(shifts, (*shifts[1:], None), strict=True):
        since = max(start, rollup.seconds_of(shift.since))
        until = end if following is None else min(end, rollup.seconds_of(following.since))
        moment = since
        while moment < until:
            day = (moment + shift.seconds) // rollup.DAY
            cut = min(until, (day + 1) * rollup.DAY - shift.seconds)
            pieces[day].append((moment, cut))
            moment = cut
    return [
        DaySpan(
            day,
            rollup.EPOCH + timedelta(seconds=min(a for a, _ in found)),
            rollup.EPOCH + timedelta(seconds=max(b for _, b in found)),
            len(rollup.merged(found)) == 1,
        )
        for day, found in sorted(pieces.items())
    ]


async def inbound_per_day(query: Query) -> Report:
    """Inbound messages each day by channel and provider, and how many people wrote: one
    statement (one snapshot, one plan) for the days and the range's total."""
    rows: list[dict[str, Any]] = []
    people = 0
    for number, channel, provider, messages, contacts in await query.session.execute(
        statement(query, _inbound_statement)
    ):
        if number is None:
            people = int(contacts)
            continue
        rows.append(
            {
                "day": rollup.day_of(number),
                "channel": channel,
                "provider": provider,
                "messages": int(messages),
                "contacts": int(contacts),
            }
        )
    rows.sort(key=lambda r: (r["day"], r["channel"], r["provider"]))
    totals = {"messages": sum(r["messages"] for r in rows), "contacts": people}
    return Report(("day", "channel", "provider", "messages", "contacts"), rows, totals)


# ---------------------------------------------------------------------------- delivery


def _delivery_statement(query: Query) -> Executable:
    inner = facts(query, _sent_out)
    n = func.sum(inner.c.n)
    counted = select(
        inner.c.day,
        n,
        _sum_if(inner.c.status.in_(DELIVERED), inner.c.n),
        _sum_if(inner.c.status.in_(FAILED), inner.c.n),
    )
    return counted.group_by(inner.c.day).having(n != 0).order_by(inner.c.day)


async def delivery_per_day(query: Query) -> Report:
    """Outbound messages each day: delivered, failed, and the delivery rate (delivered of
    those with an outcome; a message still on its way counts in neither)."""
    found = await query.session.execute(statement(query, _delivery_statement))
    rows = [
        _delivery_row(rollup.day_of(day), int(n), int(ok), int(bad)) for day, n, ok, bad in found
    ]
    sums = (sum(r[k] for r in rows) for k in ("outbound", "delivered", "failed"))
    whole = _delivery_row("", *sums)
    del whole["day"]
    return Report(tuple(_delivery_row("", 0, 0, 0)), rows, whole)


def _delivery_row(day: str, outbound: int, delivered: int, failed: int) -> dict[str, Any]:
    return {
        "day": day,
        "outbound": outbound,
        "delivered": delivered,
        "failed": failed,
        "pending": outbound - delivered - failed,
        "delivery_rate": _rate(delivered, delivered + failed),
    }


def _failures_statement(query: Query) -> Executable:
    inner = facts(query, _failed_out, reasons=True)
    # Reasons are taken only from groups that still hold a message (a count row and its
    # later -1 cancel out).
    keys = (inner.c.provider, inner.c.error_code, inner.c.error_message)
    n = func.sum(inner.c.n)
    held = select(*keys, n.label("n")).group_by(*keys).having(n != 0).subquery()
    return select(
        held.c.provider, held.c.error_code, func.sum(held.c.n), func.min(held.c.error_message)
    ).group_by(held.c.provider, held.c.error_code)


async def failures_by_reason(query: Query) -> Report:
    """Failed outbound messages by provider and error code, most frequent first, with one of
    the reasons the provider gave for that code."""
    found = await query.session.execute(statement(query, _failures_statement))
    rows = [
        {"provider": p, "error_code": code or "", "reason": reason or "", "messages": int(n)}
        for p, code, n, reason in found
    ]
    rows.sort(key=lambda r: (-r["messages"], r["provider"], r["error_code"]))
    return Report(
        ("provider", "error_code", "reason", "messages"),
        rows,
        {"messages": sum(r["messages"] for r in rows)},
    )


# ---------------------------------------------------------------------------- time to delivered

PERCENTILES = (0.5, 0.95)


async def delivery_time(query: Query) -> Report:
    """Seconds from a message's creation to its first delivered report: the median and the
    95th percentile per day and over the range, interpolated between ranks as PostgreSQL's
    `percentile_cont` does. Read from the hourly histogram (`delivery_time_counts`): the
    counts are exact, each value is placed evenly within its bucket, so a percentile is
    within one bucket's width (at most 9 %) of the exact one. `direct` sorts the messages
    themselves (exact, the reference)."""
    if not query.direct:
        days, whole = await _percentiles_histogram(query)
    elif query.postgresql:
        days, whole = await _percentiles_postgresql(query)
    else:
        days, whole = await _percentiles_sqlite(query)
    rows = [{"day": day, **figures} for day, figures in days]
    return Report(("day", "delivered", "median_seconds", "p95_seconds"), rows, whole)


def _histogram_statement(query: Query) -> Executable:
    inner = _delivery_time_facts(query)
    n = func.sum(inner.c.n)
    keys = (inner.c.day, inner.c.bucket)
    return select(*keys, n).group_by(*keys).having(n != 0)


async def _percentiles_histogram(
    query: Query,
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    found = await query.session.execute(statement(query, _histogram_statement))
    by_day: dict[int, dict[int, int]] = defaultdict(dict)
    whole: dict[int, int] = defaultdict(int)
    for day, bucket, count in found:
        by_day[int(day)][int(bucket)] = int(count)
        whole[int(bucket)] += int(count)
    days = [(rollup.day_of(day), _histogram_figures(by_day[day])) for day in sorted(by_day)]
    return days, _histogram_figures(whole)


def _delivery_time_facts(query: Query) -> Any:
    """Rows of (day, bucket, n): the histogram's blocks and hours (`rollup.timed`), and for
    the parts of hours it cannot place on one local day, the delivered messages themselves
    (n = 1 each, -1 for a block's part before its day), bucketed as the triggers do."""
    found = rollup.plan(query.window)
    parts = rollup.timed(query.window, found, lambda t: _count_filters(query.filters, t))
    m = Message.__table__.c

    def columns(day: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        return [
            day.label("day"),
            _bucket_of(_delivered_millis(m, query.postgresql), query.postgresql).label("bucket"),
        ]

    conditions = (m.direction == "outbound", m.delivered_at.is_not(None))
    parts.extend(_from_messages(query, found, columns, *conditions, *query.message_filters()))
    return union_all(*parts).subquery("times")


def _delivered_millis(m: Any, postgresql: bool) -> ColumnElement[Any]:
    """Milliseconds from made to delivered, rounded, at least 0: as the triggers compute it
    (migration a102c2a2a102)."""
    if postgresql:
        seconds = func.extract("epoch", m.delivered_at - m.created_at)
        return func.greatest(cast(func.round(seconds * 1000), BigInteger), 0)
    days = func.julianday(m.delivered_at) - func.julianday(m.created_at)
    return func.max(cast(func.round(days * 86400000), Integer), 0)


def _bucket_of(millis: ColumnElement[Any], postgresql: bool) -> Any:
    """The bucket the triggers give a time: the last whose lower bound is at most `millis`
    (their look-up in `delivery_time_buckets`). On PostgreSQL `width_bucket` over the same
    bounds (`DELIVERY_TIME_BOUNDS`, which a test holds equal to the table) finds it by a
    binary search in the row, not a subquery per message."""
    if postgresql:
        bounds = literal(list(DELIVERY_TIME_BOUNDS), ARRAY(BigInteger))
        return cast(func.width_bucket(millis, bounds) - 1, SmallInteger)
    b = DeliveryTimeBucket.__table__.c
    return (
        select(b.bucket)
        .where(b.lower_ms <= millis)
        .order_by(b.lower_ms.desc())
        .limit(1)
        .scalar_subquery()
    )


def _histogram_figures(counts: dict[int, int]) -> dict[str, Any]:
    total = sum(counts.values())
    if total == 0:
        return _figures(0, None, None)
    around = [_around(total, fraction) for fraction in PERCENTILES]
    ranked = _ranked_ms(sorted(counts.items()), sorted({r for pair in around for r in pair}))
    median, p95 = (_interpolated_ms(ranked, total, fraction) for fraction in PERCENTILES)
    return _figures(total, median, p95)


def _around(total: int, fraction: float) -> tuple[int, int]:
    """The ranks (from 0) that the percentile `fraction` of `total` values lies between."""
    low = int((total - 1) * fraction)
    return low, min(low + 1, total - 1)


def _interpolated_ms(ranked: dict[int, float], total: int, fraction: float) -> float:
    """`percentile_cont` over the values the buckets stand for (in seconds)."""
    position = (total - 1) * fraction
    low, high = _around(total, fraction)
    below, above = ranked[low], ranked[high]
    return (below + (above - below) * (position - low)) / 1000


def _ranked_ms(ordered: list[tuple[int, int]], ranks: list[int]) -> dict[int, float]:
    """The values (ms) of the `ranks`th (from 0, ascending) of the times counted in `ordered`
    (bucket, count), those of a bucket spread evenly across it: one pass over the buckets."""
    found: dict[int, float] = {}
    wanted = iter(ranks)
    rank = next(wanted, None)
    seen = 0
    for bucket, count in ordered:
        while rank is not None and rank < seen + count:
            lower, upper = _bucket_bounds(bucket)
            found[rank] = lower + (upper - lower) * (rank - seen + 0.5) / count
            rank = next(wanted, None)
        if rank is None:
            return found
        seen += count
    raise ValueError(f"rank {rank} beyond {seen} times")


def _bucket_bounds(bucket: int) -> tuple[float, float]:
    lower = DELIVERY_TIME_BOUNDS[bucket]
    if bucket + 1 < len(DELIVERY_TIME_BOUNDS):
        return float(lower), float(DELIVERY_TIME_BOUNDS[bucket + 1])
    return float(lower), lower * 2 ** (1 / 8)


def _delivered_seconds(query: Query) -> Any:
    seconds: ColumnElement[Any]
    if query.postgresql:
        seconds = func.extract("epoch", Message.delivered_at - Message.created_at)
    else:
        days = func.julianday(Message.delivered_at) - func.julianday(Message.created_at)
        seconds = days * 86400.0
    # A report dated before its message (a provider's clock) counts as 0, as in the histogram.
    at_least_zero = func.greatest(seconds, 0.0) if query.postgresql else func.max(seconds, 0.0)
    return (
        query.messages(
            query.local_day(Message.created_at).label("day"),
            cast(at_least_zero, Float).label("seconds"),
        )
        .where(Message.direction == "outbound", Message.delivered_at.is_not(None))
        .subquery()
    )


def _figures(count: int, median: float | None, p95: float | None) -> dict[str, Any]:
    def seconds(value: float | None) -> float | None:
        return round(value, 3) if value is not None else None

    return {"delivered": count, "median_seconds": seconds(median), "p95_seconds": seconds(p95)}


async def _percentiles_postgresql(
    query: Query,
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    inner = _delivered_seconds(query)
    figures = [func.percentile_cont(p).within_group(inner.c.seconds) for p in PERCENTILES]
    # One scan for the days and the whole range: the grand total comes as a row with no day.
    both = select(inner.c.day, func.count(), *figures).group_by(
        text(f"GROUPING SETS (({inner.c.day.name}), ())")
    )
    days, whole = [], _figures(0, None, None)
    for day, n, median, p95 in await query.session.execute(both):
        if day is None:
            whole = _figures(int(n), median, p95)
        else:
            days.append((_day(day), _figures(int(n), median, p95)))
    return sorted(days), whole


async def _percentiles_sqlite(
    query: Query,
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    days = [
        (day, _figures(n, *_interpolated(n, ranks)))
        for day, (n, ranks) in sorted((await _ranks(query, by_day=True)).items())
    ]
    whole = (await _ranks(query, by_day=False)).get("", (0, {}))
    return days, _figures(whole[0], *_interpolated(*whole))


def _positions(count: int) -> set[int]:
    """The ranks (from 0) that the percentiles of `count` values interpolate between."""
    found = set()
    for fraction in PERCENTILES:
        low = int((count - 1) * fraction)
        found |= {low, min(low + 1, count - 1)}
    return found


def _interpolated(count: int, ranks: dict[int, float]) -> list[float | None]:
    if count == 0:
        return [None for _ in PERCENTILES]
    found: list[float | None] = []
    for fraction in PERCENTILES:
        position = (count - 1) * fraction
        low = int(position)
        high = min(low + 1, count - 1)
        found.append(ranks[low] + (ranks[high] - ranks[low]) * (position - low))
    return found


async def _ranks(query: Query, *, by_day: bool) -> dict[str, tuple[int, dict[int, float]]]:
    """Per day (or for the whole range, under ""), the count and the values at the ranks the
    percentiles need: one pass with window functions, only those ranks returned."""
    inner = _delivered_seconds(query)
    group = inner.c.day if by_day else literal("")
    ranked = select(
        group.label("day"),
        inner.c.seconds,
        (func.row_number().over(partition_by=group, order_by=inner.c.seconds) - 1).label("rank"),
        func.count().over(partition_by=group).label("n"),
    ).subquery()
    found = await query.session.execute(
        select(ranked.c.day, ranked.c.n, ranked.c.rank, ranked.c.seconds)
    )
    result: dict[str, tuple[int, dict[int, float]]] = {}
    for day, n, rank, seconds in found:
        if rank in _positions(n):
            result.setdefault(_day(day), (int(n), {}))[1][int(rank)] = float(seconds)
    return result


# ---------------------------------------------------------------------------- cost


def price_micros(price: str | None) -> int | None:
    """A price as text in micro-units, None when it has none (or it is not a number)."""
    if price is None or _PRICE.fullmatch(price) is None:
        return None
    return int((Decimal(price) * MICROS).to_integral_value(ROUND_HALF_UP))


def money(micros: int) -> str:
    return str((Decimal(micros) / MICROS).quantize(Decimal("0.000001")))


def _cost_statement(query: Query) -> Executable:
    inner = facts(query, _sent_out)
    keys = (inner.c.day, inner.c.provider, inner.c.price)
    n = func.sum(inner.c.n)
    return select(*keys, n).group_by(*keys).having(n != 0)


async def cost_per_day(query: Query) -> Report:
    """What outbound messages cost each day per provider, from the prices their providers
    reported (in each provider account's currency), and how many had no price yet."""
    # Grouped by the price as text first: a range holds few distinct prices, so only those
    # are parsed (here, the same way for both databases), not every message's.
    found = await query.session.execute(statement(query, _cost_statement))
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, provider, price, n in found:
        figures = sums[(rollup.day_of(day), provider)]
        micros = price_micros(price)
        figures[0] += int(n)
        if micros is not None:
            figures[1] += int(n)
            figures[2] += micros * int(n)
    rows = [_cost_row(day, provider, *figures) for (day, provider), figures in sorted(sums.items())]
    providers: dict[str, int] = defaultdict(int)
    for row in rows:
        providers[row["provider"]] += row["cost_micros"]
    totals = {p: money(m) for p, m in sorted(providers.items())}
    for row in rows:
        del row["cost_micros"]
    return Report(("day", "provider", "messages", "priced", "cost"), rows, {"cost": totals})


def _cost_row(day: str, provider: str, messages: int, priced: int, micros: int) -> dict[str, Any]:
    return {
        "day": day,
        "provider": provider,
        "messages": messages,
        "priced": priced,
        "cost": money(micros),
        "cost_micros": micros,
    }


# ---------------------------------------------------------------------------- consent


async def opt_outs_per_day(query: Query) -> Report:
    """Opt-outs and opt-ins recorded in the consent ledger each day, by source. The sender
    filter counts the records of that sender and those of every sender (`*`); the provider
    filter those of its senders and of every sender; the channel filter those recorded on
    that channel."""
    found = await query.session.execute(statement(query, _opt_outs_statement))
    rows = [
        {"day": _day(day), "source": source, "opt_outs": int(out), "opt_ins": int(back)}
        for day, source, out, back in found
    ]
    totals = {k: sum(r[k] for r in rows) for k in ("opt_outs", "opt_ins")}
    return Report(("day", "source", "opt_outs", "opt_ins"), rows, totals)


def _opt_outs_statement(query: Query) -> Executable:
    recorded = ConsentRecord.recorded_at
    inner = (
        select(query.local_day(recorded).label("day"), ConsentRecord.source, ConsentRecord.action)
        .where(recorded >= query.window.start, recorded < query.window.end)
        .where(*_consent_filters(query.filters))
        .subquery()
    )
    keys = (inner.c.day, inner.c.source)
    counted = select(
        *keys, _count_if(inner.c.action == OPT_OUT), _count_if(inner.c.action == OPT_IN)
    )
    return counted.group_by(*keys).order_by(*keys)


def _consent_filters(wanted: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.channel is not None:
        found.append(ConsentRecord.channel == wanted.channel)
    if wanted.sender is not None:
        found.append(ConsentRecord.scope.in_((wanted.sender, ALL_SENDERS)))
    if wanted.provider is not None:
        theirs = select(Sender.address).where(Sender.provider == wanted.provider)
        found.append(or_(ConsentRecord.scope == ALL_SENDERS, ConsentRecord.scope.in_(theirs)))
    return found


# ---------------------------------------------------------------------------- campaigns


async def campaign_funnel(query: Query) -> Report:
    """Per campaign started (or, for a draft, made) in the range, newest first (at most
    `MAX_CAMPAIGNS`): recipients (valid and distinct, opted out or not), sent (the provider
    took it), delivered, failed, opted out (left out when staged or at dispatch) and replied
    (the person wrote in the conversation after the campaign's message)."""
    campaigns = list(await query.session.scalars(statement(query, _campaigns_in)))
    counts = await _funnel_counts(query.session, [c.id for c in campaigns])
    rows = [_funnel_row(c, counts.get(c.id, (0, 0, 0, 0, 0))) for c in campaigns]
    totals = {k: sum(r[k] for r in rows) for k in _FUNNEL}
    return Report(("campaign_id", "name", "state", *_FUNNEL), rows, totals)


_FUNNEL = ("recipients", "sent", "delivered", "failed", "opted_out", "replied")


def _campaigns_in(query: Query) -> Select[Any]:
    began = func.coalesce(Campaign.started_at, Campaign.created_at)
    found = select(Campaign).where(began >= query.window.start, began < query.window.end)
    wanted = query.filters
    if wanted.channel is not None:
        found = found.where(Campaign.channel == wanted.channel)
    if wanted.provider is not None:
        found = found.where(Campaign.provider == wanted.provider)
    if wanted.sender is not None:
        found = found.where(Campaign.from_address == wanted.sender)
    return found.order_by(began.desc(), Campaign.id).limit(MAX_CAMPAIGNS)


async def _funnel_counts(
    session: AsyncSession, campaign_ids: Sequence[Any]
) -> dict[Any, tuple[int, int, int, int, int]]:
    if not campaign_ids:
        return {}
    found = await session.execute(_funnel_statement(), {"campaign_ids": list(campaign_ids)})
    return {row[0]: tuple(int(v) for v in row[1:]) for row in found}  # type: ignore[misc]


@cache
def _funnel_statement() -> Executable:
    """Built once (the campaigns are a parameter): building it cost about a millisecond a
    call, more than its rows' handling."""
    # The campaigns' messages once (from `ix_messages_campaign_funnel` alone), then only
    # their conversations, each by its key: a hash of every conversation (100 000 on the
    # bench) cost several times the rest of the report.
    m = Message.__table__.c
    theirs = (
        select(
            m.campaign_id,
            m.conversation_id,
            m.created_at,
            m.status,
            m.error_code,
            m.provider_message_id,
        )
        .where(m.campaign_id.in_(bindparam("campaign_ids", expanding=True)))
        .cte("theirs")
    )
    c = Conversation.__table__.c
    talks = (
        select(c.id, c.last_inbound_at)
        .where(c.id.in_(select(theirs.c.conversation_id)))
        .subquery("talks")
    )
    sent = theirs.c
    replied = talks.c.last_inbound_at > sent.created_at
    opted_out = and_(sent.status == bulk.CANCELLED, sent.error_code == ERROR_CODE)
    counted = (
        select(
            sent.campaign_id,
            func.count(sent.provider_message_id),
            _count_if(sent.status.in_(DELIVERED)),
            _count_if(sent.status.in_(FAILED)),
            _count_if(opted_out),
            _count_if(replied),
        )
        .select_from(theirs.join(talks, talks.c.id == sent.conversation_id))
        .group_by(sent.campaign_id)
    )
    return counted


def _funnel_row(campaign: Campaign, counts: Iterable[int]) -> dict[str, Any]:
    sent, delivered, failed, dispatch_opted_out, replied = counts
    return {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "state": campaign.state,
        # Everyone valid it was asked to text: those an opt-out left out when staged too.
        "recipients": campaign.recipients + campaign.opted_out,
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "opted_out": campaign.opted_out + dispatch_opted_out,
        "replied": replied,
    }
