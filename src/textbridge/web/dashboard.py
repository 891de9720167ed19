"""The dashboard page: the analytics reports as charts, drawn on the server (`charts`), for a
signed-in user (the inbox's session). Its filter form is a plain GET; each chart links to
its report's CSV from the API, with the same range and filters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from textbridge.analytics import query as reports
from textbridge.analytics.window import Window, WindowError, window, zone_names
from textbridge.api.deps import RuntimeDep, UowDep
from textbridge.db.base import utcnow
from textbridge.messaging.text import excerpt
from textbridge.web import charts
from textbridge.web.router import _page, _signed_in, _user_context

router = APIRouter(include_in_schema=False)

CHANNELS = ("sms", "mms", "whatsapp")
PROVIDERS = ("plivo", "vonage")
BREAKDOWNS = ("direction", "channel", "provider")


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    svg: Markup
    legend: list[str]
    summary: str
    csv: str
    rows: list[dict[str, Any]]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    runtime: RuntimeDep,
    uow: UowDep,
    first_day: Annotated[str, Query(alias="from", max_length=10)] = "",
    last_day: Annotated[str, Query(alias="to", max_length=10)] = "",
    tz: Annotated[str, Query(max_length=64)] = "UTC",
    channel: Annotated[str, Query(max_length=20)] = "",
    provider: Annotated[str, Query(max_length=20)] = "",
    sender: Annotated[str, Query(max_length=140)] = "",
    by: Annotated[str, Query(max_length=20)] = "direction",
) -> Response:
    found = await _signed_in(request, runtime, uow.session)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    form = {"from": first_day, "to": last_day, "tz": tz, "channel": channel,
            "provider": provider, "sender": sender, "by": by}  # fmt: skip
    choices = {"channels": CHANNELS, "providers": PROVIDERS, "breakdowns": BREAKDOWNS}
    context = _user_context(runtime, found, form=form, zones=sorted(zone_names()), **choices)
    try:
        days, filters = _inputs(first_day, last_day, tz, channel, provider, sender, by)
    except WindowError as refused:
        return _page(request, "dashboard.html", {**context, "error": str(refused)}, 422)
    form.update({"from": days.first_day.isoformat(), "to": days.last_day.isoformat()})
    query = reports.Query(uow.session, days, filters)
    context["charts"] = await _charts(query, form, by)
    return _page(request, "dashboard.html", context)


def _inputs(
    first_day: str, last_day: str, tz: str, channel: str, provider: str, sender: str, by: str
) -> tuple[Window, reports.Filters]:
    for name, value, allowed in (
        ("channel", channel, CHANNELS),
        ("provider", provider, PROVIDERS),
        ("by", by, BREAKDOWNS),
    ):
        if value and value not in allowed:
            raise WindowError(name, f"{name}: not one of {', '.join(allowed)}")
    if "\x00" in sender or any(0xD800 <= ord(c) <= 0xDFFF for c in sender):
        raise WindowError("sender", f"sender: not an address: {excerpt(sender)}")
    days = window(_date("from", first_day), _date("to", last_day), tz or "UTC", utcnow())
    return days, reports.Filters(channel or None, provider or None, sender or None)


def _date(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WindowError(name, f"`{name}`: a date as YYYY-MM-DD") from None


Drawn = tuple[Markup, list[str], str]
"""A chart's SVG, its legend and a one-line summary of its totals."""
Draw = Callable[[reports.Report, list[str], str], Drawn]
CHARTS: list[tuple[str, str, Callable[[reports.Query], Awaitable[reports.Report]]]] = [
    ("messages", "Messages per day", reports.messages_per_day),
    ("delivery", "Delivery rate", reports.delivery_per_day),
    ("delivery-time", "Time to delivered", reports.delivery_time),
    ("failures", "Failures by reason", reports.failures_by_reason),
    ("cost", "Cost per day", reports.cost_per_day),
    ("inbound", "Inbound messages", reports.inbound_per_day),
    ("opt-outs", "Opt-outs", reports.opt_outs_per_day),
    ("campaigns", "Campaign funnel", reports.campaign_funnel),
]


async def _charts(query: reports.Query, form: dict[str, str], by: str) -> list[Chart]:
    days = [day.isoformat() for day in query.window.days]
    shared = {k: v for k, v in form.items() if v and k != "by"}
    drawn = []
    for key, title, build in CHARTS:
        report = await build(query)
        svg, legend, summary = DRAW[key](report, days, by)
        csv = f"/api/v1/analytics/{key}?{urlencode({**shared, 'format': 'csv'})}"
        drawn.append(Chart(key, title, svg, legend, summary, csv, report.rows))
    return drawn


def _per_day(
    rows: list[dict[str, Any]], days: list[str], key: str, value: str
) -> list[charts.Series]:
    """Series named by `key`'s values, with the sum of `value` on each day."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        sums[str(row[key])][row["day"]] += float(row[value])
    return [
        charts.Series(name, [by_day.get(day, 0) for day in days])
        for name, by_day in sorted(sums.items())
    ]


def _messages(report: reports.Report, days: list[str], by: str) -> Drawn:
    series = _per_day(report.rows, days, by or "direction", "messages")
    t = report.totals
    summary = f"{t['messages']:,} messages: {t['outbound']:,} out, {t['inbound']:,} in"
    return charts.stacked_bars("Messages per day", days, series), [s.name for s in series], summary


def _delivery(report: reports.Report, days: list[str], _: str) -> Drawn:
    rates = {row["day"]: row["delivery_rate"] for row in report.rows}
    values = [rates[day] * 100 if rates.get(day) is not None else None for day in days]
    svg = charts.lines(
        "Delivery rate per day", days, [charts.Series("delivered", values)], "%", 100
    )
    t = report.totals
    rate = (
        f"{t['delivery_rate'] * 100:.1f}%" if t["delivery_rate"] is not None else "no outcome yet"
    )
    summary = (
        f"{rate} of {t['delivered'] + t['failed']:,} with an outcome ({t['pending']:,} pending)"
    )
    return svg, ["delivered of delivered or failed"], summary


def _delivery_time(report: reports.Report, days: list[str], _: str) -> Drawn:
    by_day = {row["day"]: row for row in report.rows}
    series = [
        charts.Series(name, [by_day[d][column] if d in by_day else None for d in days])
        for name, column in (("median", "median_seconds"), ("p95", "p95_seconds"))
    ]
    t = report.totals
    summary = (
        f"median {t['median_seconds']} s, p95 {t['p95_seconds']} s "
        f"over {t['delivered']:,} delivered"
        if t["delivered"]
        else "nothing delivered"
    )
    return charts.lines("Seconds to delivered", days, series, " s"), ["median", "p95"], summary


def _failures(report: reports.Report, _days: list[str], _: str) -> Drawn:
    items = [
        (f"{row['provider']} {row['error_code']} {row['reason']}".strip(), float(row["messages"]))
        for row in report.rows[:12]
    ]
    summary = f"{report.totals['messages']:,} failed"
    return charts.horizontal_bars("Failures by reason", items), [], summary


def _cost(report: reports.Report, days: list[str], _: str) -> Drawn:
    series = _per_day(report.rows, days, "provider", "cost")
    spent = ", ".join(f"{p} {c}" for p, c in report.totals["cost"].items()) or "nothing"
    svg = charts.stacked_bars("Cost per day", days, series)
    return svg, [s.name for s in series], f"{spent} (each provider account's currency)"


def _inbound(report: reports.Report, days: list[str], _: str) -> Drawn:
    series = _per_day(report.rows, days, "channel", "messages")
    t = report.totals
    summary = f"{t['messages']:,} messages from {t['contacts']:,} people"
    return charts.stacked_bars("Inbound per day", days, series), [s.name for s in series], summary


def _opt_outs(report: reports.Report, days: list[str], _: str) -> Drawn:
    series = [
        charts.Series(name, s.values)
        for name, column in (("opt-outs", "opt_outs"), ("opt-ins", "opt_ins"))
        for s in [_sum_series(report.rows, days, column)]
    ]
    t = report.totals
    summary = f"{t['opt_outs']:,} opt-outs, {t['opt_ins']:,} opt-ins"
    return charts.stacked_bars("Opt-outs per day", days, series), [s.name for s in series], summary


def _sum_series(rows: list[dict[str, Any]], days: list[str], column: str) -> charts.Series:
    sums: dict[str, float] = defaultdict(float)
    for row in rows:
        sums[row["day"]] += float(row[column])
    return charts.Series(column, [sums.get(day, 0) for day in days])


def _campaigns(report: reports.Report, _days: list[str], _: str) -> Drawn:
    stages = ("recipients", "sent", "delivered", "failed", "opted_out", "replied")
    t = report.totals
    items = [(stage.replace("_", " "), float(t.get(stage, 0))) for stage in stages]
    summary = f"{len(report.rows)} campaign(s) in the range"
    return charts.horizontal_bars("Campaign funnel, all campaigns", items), [], summary


DRAW: dict[str, Draw] = {
    "messages": _messages,
    "delivery": _delivery,
    "delivery-time": _delivery_time,
    "failures": _failures,
    "cost": _cost,
    "inbound": _inbound,
    "opt-outs": _opt_outs,
    "campaigns": _campaigns,
}
