"""The analytics figures, each one query (or two) over a date range: all SQL is here.

Every message query reads `ix_messages_analytics` (created_at, then the columns read here)
and nothing else, so on PostgreSQL a range is an index-only scan. A message counts on the day
it was made (`created_at`), in the caller's zone (`window`), whatever happened to it later:
its delivery, failure and cost belong to that day too, so a day's figures settle as its
reports arrive and never move a message from one day to another.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.analytics.window import Window
from textbridge.campaigns import bulk
from textbridge.compliance.consent import ERROR_CODE, OPT_IN, OPT_OUT
from textbridge.messaging import status
from textbridge.models import Campaign, ConsentRecord, Conversation, Message, Sender
from textbridge.models.consent_record import ALL_SENDERS

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
        return query.where(*self._message_filters())

    def _message_filters(self) -> list[ColumnElement[bool]]:
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


# Outbound messages, but not those nobody sent (a campaign's, cancelled before they left).
_SENT_OUT = (Message.direction == "outbound", Message.status != status.CANCELLED)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# ---------------------------------------------------------------------------- volume


async def messages_per_day(query: Query) -> Report:
    """Messages made each day, by direction, channel and provider."""
    inner = query.messages(
        query.local_day(Message.created_at).label("day"),
        Message.direction,
        Message.channel,
        Message.provider,
    ).subquery()
    keys = (inner.c.day, inner.c.direction, inner.c.channel, inner.c.provider)
    found = await query.session.execute(select(*keys, func.count()).group_by(*keys).order_by(*keys))
    rows = [
        {"day": _day(day), "direction": d, "channel": c, "provider": p, "messages": int(n)}
        for day, d, c, p, n in found
    ]
    totals = {"messages": 0, "inbound": 0, "outbound": 0}
    for row in rows:
        totals["messages"] += row["messages"]
        totals[row["direction"]] = totals.get(row["direction"], 0) + row["messages"]
    return Report(("day", "direction", "channel", "provider", "messages"), rows, totals)


async def inbound_per_day(query: Query) -> Report:
    """Inbound messages each day by channel and provider, and how many people wrote."""
    inner = (
        query.messages(
            query.local_day(Message.created_at).label("day"),
            Message.channel,
            Message.provider,
            Message.from_address,
        )
        .where(Message.direction == "inbound")
        .subquery()
    )
    keys = (inner.c.day, inner.c.channel, inner.c.provider)
    counted = select(*keys, func.count(), func.count(inner.c.from_address.distinct()))
    found = await query.session.execute(counted.group_by(*keys).order_by(*keys))
    rows = [
        {"day": _day(day), "channel": c, "provider": p, "messages": int(n), "contacts": int(k)}
        for day, c, p, n, k in found
    ]
    everyone = await query.session.execute(
        query.messages(func.count(), func.count(Message.from_address.distinct())).where(
            Message.direction == "inbound"
        )
    )
    messages, contacts = everyone.one()
    return Report(
        ("day", "channel", "provider", "messages", "contacts"),
        rows,
        {"messages": int(messages), "contacts": int(contacts)},
    )


# ---------------------------------------------------------------------------- delivery


async def delivery_per_day(query: Query) -> Report:
    """Outbound messages each day: delivered, failed, and the delivery rate (delivered of
    those with an outcome; a message still on its way counts in neither)."""
    inner = (
        query.messages(query.local_day(Message.created_at).label("day"), Message.status)
        .where(*_SENT_OUT)
        .subquery()
    )
    counted = select(
        inner.c.day,
        func.count(),
        _count_if(inner.c.status.in_(DELIVERED)),
        _count_if(inner.c.status.in_(FAILED)),
    )
    found = await query.session.execute(counted.group_by(inner.c.day).order_by(inner.c.day))
    rows = [_delivery_row(_day(day), int(n), int(ok), int(bad)) for day, n, ok, bad in found]
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


async def failures_by_reason(query: Query) -> Report:
    """Failed outbound messages by provider and error code, most frequent first, with one of
    the reasons the provider gave for that code."""
    keys = (Message.provider, Message.error_code)
    counted = (
        query.messages(*keys, func.count(), func.min(Message.error_message))
        .where(Message.direction == "outbound", Message.status.in_(FAILED))
        .group_by(*keys)
    )
    found = await query.session.execute(counted)
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
    95th percentile per day and over the range, interpolated as PostgreSQL's
    `percentile_cont` does (on SQLite from the two ranks around each percentile)."""
    if query.postgresql:
        days, whole = await _percentiles_postgresql(query)
    else:
        days, whole = await _percentiles_sqlite(query)
    rows = [{"day": day, **figures} for day, figures in days]
    return Report(("day", "delivered", "median_seconds", "p95_seconds"), rows, whole)


def _delivered_seconds(query: Query) -> Any:
    seconds: ColumnElement[Any]
    if query.postgresql:
        seconds = func.extract("epoch", Message.delivered_at - Message.created_at)
    else:
        days = func.julianday(Message.delivered_at) - func.julianday(Message.created_at)
        seconds = days * 86400.0
    return (
        query.messages(
            query.local_day(Message.created_at).label("day"), cast(seconds, Float).label("seconds")
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


async def cost_per_day(query: Query) -> Report:
    """What outbound messages cost each day per provider, from the prices their providers
    reported (in each provider account's currency), and how many had no price yet."""
    # Grouped by the price as text first: a range holds few distinct prices, so only those
    # are parsed (here, the same way for both databases), not every message's.
    inner = (
        query.messages(
            query.local_day(Message.created_at).label("day"), Message.provider, Message.price
        )
        .where(*_SENT_OUT)
        .subquery()
    )
    keys = (inner.c.day, inner.c.provider, inner.c.price)
    found = await query.session.execute(select(*keys, func.count()).group_by(*keys))
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, provider, price, n in found:
        figures = sums[(_day(day), provider)]
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
    found = await query.session.execute(counted.group_by(*keys).order_by(*keys))
    rows = [
        {"day": _day(day), "source": source, "opt_outs": int(out), "opt_ins": int(back)}
        for day, source, out, back in found
    ]
    totals = {k: sum(r[k] for r in rows) for k in ("opt_outs", "opt_ins")}
    return Report(("day", "source", "opt_outs", "opt_ins"), rows, totals)


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
    campaigns = list(await query.session.scalars(_campaigns_in(query)))
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
    replied = Conversation.last_inbound_at > Message.created_at
    opted_out = and_(Message.status == bulk.CANCELLED, Message.error_code == ERROR_CODE)
    counted = (
        select(
            Message.campaign_id,
            func.count(Message.provider_message_id),
            _count_if(Message.status.in_(DELIVERED)),
            _count_if(Message.status.in_(FAILED)),
            _count_if(opted_out),
            _count_if(replied),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.campaign_id.in_(campaign_ids))
        .group_by(Message.campaign_id)
    )
    found = await session.execute(counted)
    return {row[0]: tuple(int(v) for v in row[1:]) for row in found}  # type: ignore[misc]


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
