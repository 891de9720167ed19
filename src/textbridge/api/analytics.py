"""`GET /api/v1/analytics/...`: one report per chart of the dashboard, as JSON or CSV.

Every report takes the same inputs: `from` and `to` (local dates, both included; by default
the last 30 days), `tz` (the IANA zone the days are counted in; UTC by default) and the filters
`channel`, `provider` and `sender` (one of our addresses). CSV with `?format=csv` or
`Accept: text/csv`: the JSON's `rows`, one line each, under a header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator

from textbridge.analytics import query as reports
from textbridge.analytics.export import as_csv
from textbridge.analytics.window import Window, WindowError, window
from textbridge.api.deps import ReadDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.api.schemas import storable
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork

router = APIRouter(prefix="/analytics", tags=["analytics"])

Channel = Literal["sms", "mms", "whatsapp"]
Provider = Literal["plivo", "vonage"]
Build = Callable[[reports.Query], Awaitable[reports.Report]]


@dataclass(frozen=True, slots=True)
class Inputs:
    window: Window
    filters: reports.Filters
    csv: bool

    def query_of(self, uow: UnitOfWork) -> reports.Query:
        return reports.Query(uow.session, self.window, self.filters)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.window.first_day.isoformat(),
            "to": self.window.last_day.isoformat(),
            "time_zone": self.window.zone_name,
            "filters": self.filters.as_json(),
        }


async def inputs(
    request: Request,
    first_day: Annotated[
        date | None, Query(alias="from", description="The first local day, e.g. 2026-11-01")
    ] = None,
    last_day: Annotated[
        date | None, Query(alias="to", description="The last local day (included)")
    ] = None,
    tz: Annotated[
        str, Query(max_length=64, description="IANA zone of the days, e.g. Europe/Paris")
    ] = "UTC",
    channel: Channel | None = None,
    provider: Provider | None = None,
    sender: Annotated[
        str | None,
        Query(max_length=140, description="One of our addresses, e.g. +14155550100"),
        AfterValidator(storable),
    ] = None,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="`csv`, or send `Accept: text/csv`")
    ] = None,
) -> Inputs:
    # async: FastAPI runs a plain `def` dependency in a worker thread, and that hop (a thread
    # woken, then the event loop woken back) was a measurable share of every report's time.
    try:
        days = window(first_day, last_day, tz, utcnow())
    except WindowError as refused:
        raise ApiError(422, "validation_error", str(refused), refused.field) from None
    wants_csv = format == "csv" or (format is None and _accepts_csv(request))
    return Inputs(days, reports.Filters(channel, provider, sender), wants_csv)


def _accepts_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


InputsDep = Annotated[Inputs, Depends(inputs)]


async def answer(name: str, build: Build, wanted: Inputs, uow: UnitOfWork) -> Response:
    # Reads only: on PostgreSQL each statement runs on its own (no BEGIN and ROLLBACK round
    # trips). The same snapshots as before: READ COMMITTED took one per statement anyway.
    await uow.autocommit()
    report = await build(wanted.query_of(uow))
    if wanted.csv:
        window = wanted.window
        filename = f"textbridge-{name}-{window.first_day}-{window.last_day}.csv"
        return Response(
            as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    body = {**wanted.as_json(), "rows": report.rows, "totals": report.totals}
    return JSONResponse(body)


@router.get("/messages")
async def messages_per_day(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Messages made each day, by direction, channel and provider."""
    return await answer("messages", reports.messages_per_day, wanted, uow)


@router.get("/delivery")
async def delivery_per_day(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Outbound messages each day: delivered, failed, still pending, and the delivery rate
    (delivered of those delivered or failed)."""
    return await answer("delivery", reports.delivery_per_day, wanted, uow)


@router.get("/failures")
async def failures_by_reason(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Failed outbound messages by provider and error code, most frequent first."""
    return await answer("failures", reports.failures_by_reason, wanted, uow)


@router.get("/delivery-time")
async def delivery_time(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Seconds from creation to the first delivered report: median and 95th percentile, per
    day and over the range (`totals`). `delivered` is exact; the percentiles come from an
    hourly histogram of log-spaced buckets and are within 9 % of the exact figures."""
    return await answer("delivery-time", reports.delivery_time, wanted, uow)


@router.get("/cost")
async def cost_per_day(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """What outbound messages cost each day per provider (the providers' reported prices,
    in each account's currency)."""
    return await answer("cost", reports.cost_per_day, wanted, uow)


@router.get("/inbound")
async def inbound_per_day(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Inbound messages each day by channel and provider, and how many people wrote."""
    return await answer("inbound", reports.inbound_per_day, wanted, uow)


@router.get("/opt-outs")
async def opt_outs_per_day(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Opt-outs and opt-ins recorded each day in the consent ledger, by source."""
    return await answer("opt-outs", reports.opt_outs_per_day, wanted, uow)


@router.get("/campaigns")
async def campaign_funnel(_: ReadDep, wanted: InputsDep, uow: UowDep) -> Response:
    """Per campaign started in the range: recipients, sent, delivered, failed, opted out,
    replied."""
    return await answer("campaigns", reports.campaign_funnel, wanted, uow)
