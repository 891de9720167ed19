"""Campaigns: create (a draft, or started at once), add recipients in chunks, start, pause,
resume, cancel, and the report. The logic is in `textbridge.campaigns`."""

from __future__ import annotations

import functools
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, BinaryIO, Literal

import anyio
from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from textbridge.api.deps import ReadDep, RuntimeDep, SendDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.api.schemas import ProviderName, StorableStr, TemplateIn, _Strict
from textbridge.campaigns import bulk, prices, service
from textbridge.campaigns.errors import CampaignStateError
from textbridge.campaigns.recipients import RecipientRow, RecipientsFileError, csv_rows
from textbridge.campaigns.report import Report, departures, progress, report, summary
from textbridge.compliance import consent
from textbridge.db.uow import UnitOfWork
from textbridge.models import Campaign
from textbridge.runtime import Runtime

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

MAX_RECIPIENTS_PER_REQUEST = 10_000
PREVIEW_ROWS = 5
Scalar = str | int | float | bool | None


class RecipientIn(_Strict):
    """One recipient. A bad one (an invalid number, a missing variable) is reported in the
    answer with its row, never refused with the request."""

    to: str | int = Field(description="E.164, e.g. +14155550199")
    variables: dict[str, Scalar] = Field(
        default_factory=dict, description="`{name}` values for the text, or template parameters"
    )
    row: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,  # the column is an INTEGER
        description="Its row in your file, for the report (default: its position)",
    )


Recipients = Annotated[list[RecipientIn], Field(max_length=MAX_RECIPIENTS_PER_REQUEST)]


class CampaignIn(_Strict):
    name: StorableStr = Field(min_length=1, max_length=200)
    channel: Literal["sms", "whatsapp"] = "sms"
    text: StorableStr | None = Field(
        None, max_length=4096, description="With `{name}` placeholders from each recipient"
    )
    template: TemplateIn | None = Field(
        None, description="WhatsApp: an approved template; per-recipient variables fill it too"
    )
    from_: StorableStr | None = Field(None, alias="from", max_length=32)
    provider: ProviderName | None = None
    recipients: Recipients = Field(default_factory=list)
    start: bool = Field(False, description="Start at once (else a draft, to preview and start)")
    send_at: datetime | None = Field(
        None,
        description="When its messages may leave at the earliest: ISO 8601 with a UTC offset, "
        "at most 366 days ahead; at start when omitted",
    )
    quiet_hours: bool | Annotated[str, Field(max_length=11)] = Field(
        True,
        description="The recipients' local hours its messages may leave in: HH:MM-HH:MM, true "
        "(the default) for TEXTBRIDGE_QUIET_HOURS, false for any hour. Messages outside "
        "wait (`held`) for the window to open; none is dropped",
    )

    def quiet_hours_window(self, default: str) -> str | None:
        if self.quiet_hours is True:
            return default
        return self.quiet_hours or None


class RecipientsIn(_Strict):
    recipients: Recipients


class InvalidRowOut(BaseModel):
    row: int
    value: str
    reason: str


class CampaignOut(BaseModel):
    campaign: dict[str, Any]
    progress: dict[str, int] | None = None
    accepted: int | None = Field(None, description="Recipients staged by this request")
    duplicates: int | None = Field(None, description="Rows of this request already present")
    invalid: list[InvalidRowOut] | None = Field(None, description="Rows of this request refused")
    departures: dict[str, Any] | None = Field(
        None, description="How many messages wait for send_at or quiet hours, and the next leave"
    )


class PreviewRowOut(BaseModel):
    row: int
    to: str
    text: str | None = Field(description="The text as this recipient gets it")
    segments: int
    price: str | None = Field(description="Its estimated cost; null when the table has none")


class PreviewOut(BaseModel):
    campaign: dict[str, Any]
    first_rows: list[PreviewRowOut]
    invalid_rows: list[InvalidRowOut] = Field(description="The first refused rows, and why")
    opted_out: int = Field(description="Recipients left out: they opted out of this sender")
    departures: dict[str, Any]


class ReportOut(BaseModel):
    campaign: dict[str, Any]
    progress: dict[str, int]
    failed_by_reason: list[dict[str, Any]]
    skipped: dict[str, int]
    cost: dict[str, Any]
    invalid_rows: list[InvalidRowOut]
    departures: dict[str, Any]

    @classmethod
    def of(cls, found: Report) -> ReportOut:
        return cls.model_validate(found, from_attributes=True)


@router.post("", status_code=201, response_model=CampaignOut)
async def create_campaign(
    body: CampaignIn, uow: UowDep, runtime: RuntimeDep, _: SendDep
) -> CampaignOut:
    """A draft campaign with the recipients given here (more can follow in chunks through
    `POST /campaigns/{id}/recipients`); with `start`, started at once."""
    campaign = await service.create(
        uow, _request(body, runtime.settings.quiet_hours), runtime.providers
    )
    await uow.commit()  # the draft exists on its own: checking recipients is not in its transaction
    chunk = await service.add_recipients(uow, campaign.id, _rows(body.recipients), _prices(runtime))
    if body.start:
        # In the recipients' transaction, whole: a start in parts commits them before its own
        # commit, and a failure after that would leave the caller without the campaign's id.
        await _state_change(functools.partial(service.start, in_parts=False), uow, campaign.id)
    await uow.commit()
    if body.start:
        runtime.dispatcher.wake()
    return _with_chunk(campaign, chunk)


@router.get("", response_model=list[CampaignOut])
async def list_campaigns(
    uow: UowDep, _: ReadDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[CampaignOut]:
    query = select(Campaign).order_by(Campaign.created_at.desc()).limit(limit)
    return [CampaignOut(campaign=summary(row)) for row in await uow.session.scalars(query)]


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: uuid.UUID, uow: UowDep, _: ReadDep) -> CampaignOut:
    campaign = await _find(uow, campaign_id)
    now = await progress(uow.session, campaign.id)
    return CampaignOut(
        campaign=summary(campaign),
        progress=now.as_json(),
        departures=await departures(uow.session, campaign),
    )


@router.post("/{campaign_id}/recipients", response_model=CampaignOut)
async def add_recipients(
    campaign_id: uuid.UUID, body: RecipientsIn, uow: UowDep, runtime: RuntimeDep, _: SendDep
) -> CampaignOut:
    """Add a chunk of recipients to a draft; duplicates of earlier chunks are collapsed."""
    try:
        chunk = await service.add_recipients(
            uow, campaign_id, _rows(body.recipients), _prices(runtime)
        )
    except service.CampaignNotFound as exc:
        raise ApiError(404, "not_found", str(exc), "campaign_id") from None
    except CampaignStateError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    campaign = await _find(uow, campaign_id)
    await uow.commit()
    return _with_chunk(campaign, chunk)


@router.post("/{campaign_id}/recipients/csv", response_model=CampaignOut)
async def add_recipients_csv(
    campaign_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="CSV with a header row: to (or phone, ...)")],
    uow: UowDep,
    runtime: RuntimeDep,
    _: SendDep,
) -> CampaignOut:
    """Add the recipients of a CSV file (UTF-8, a header row naming the address column; the
    other columns are variables) to a draft, as `POST .../recipients` would; the upload is
    bounded by TEXTBRIDGE_API_MAX_BODY_BYTES (larger lists: JSON chunks, or the CLI)."""
    try:
        rows = await anyio.to_thread.run_sync(_read_csv, file.file, file.filename or "upload")
    except RecipientsFileError as exc:
        raise ApiError(422, "invalid_file", str(exc), "file") from None
    finally:
        await file.close()
    total = service.ChunkResult()
    for start in range(0, max(len(rows), 1), MAX_RECIPIENTS_PER_REQUEST):
        chunk = rows[start : start + MAX_RECIPIENTS_PER_REQUEST]
        try:
            found = await service.add_recipients(uow, campaign_id, chunk, _prices(runtime))
        except service.CampaignNotFound as exc:
            raise ApiError(404, "not_found", str(exc), "campaign_id") from None
        except CampaignStateError as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        await uow.commit()
        total.accepted += found.accepted
        total.duplicates += found.duplicates
        total.invalid += found.invalid[: service.INVALID_ROWS_KEPT - len(total.invalid)]
    return _with_chunk(await _find(uow, campaign_id), total)


def _read_csv(source: BinaryIO, name: str) -> list[RecipientRow]:
    with io.TextIOWrapper(source, encoding="utf-8-sig", newline="") as lines:
        return list(csv_rows(lines, name[:100]))


@router.get("/{campaign_id}/preview", response_model=PreviewOut)
async def campaign_preview(campaign_id: uuid.UUID, uow: UowDep, _: ReadDep) -> PreviewOut:
    """What a draft will send, before it starts: its first recipients with their own text,
    the refused rows and why, how many opted out, its cost estimate and when it leaves."""
    campaign = await _find(uow, campaign_id)
    staged_out, dispatch_out = await consent.campaign_opted_out(uow.session, campaign)
    first = await bulk.first_staged(uow.session, campaign.id, PREVIEW_ROWS)
    return PreviewOut(
        campaign=summary(campaign),
        first_rows=[
            PreviewRowOut(
                row=r.row,
                to=r.to_address,
                text=r.body,
                segments=r.segments,
                price=None if r.price_micros is None else prices.money(r.price_micros),
            )
            for r in first
        ],
        invalid_rows=[InvalidRowOut(**row) for row in campaign.invalid_rows],
        opted_out=staged_out + dispatch_out,
        departures=await departures(uow.session, campaign),
    )


@router.get("/{campaign_id}/report", response_model=ReportOut)
async def campaign_report(
    campaign_id: uuid.UUID, uow: UowDep, runtime: RuntimeDep, _: ReadDep
) -> ReportOut:
    """Sent, delivered, failed by reason, skipped by reason, and the cost."""
    campaign = await _find(uow, campaign_id)
    return ReportOut.of(await report(uow.session, campaign, _prices(runtime).source))


def _action(change: Callable[[UnitOfWork, uuid.UUID], Awaitable[Campaign]], wakes: bool) -> Any:
    async def endpoint(
        campaign_id: uuid.UUID, uow: UowDep, runtime: RuntimeDep, _: SendDep
    ) -> CampaignOut:
        campaign = await _state_change(change, uow, campaign_id)
        out = CampaignOut(campaign=summary(campaign))
        await uow.commit()
        if wakes:
            runtime.dispatcher.wake()
        return out

    endpoint.__doc__ = change.__doc__
    return endpoint


for _name, _change, _wakes in (
    ("start", service.start, True),
    ("pause", service.pause, False),
    ("resume", service.resume, True),
    ("cancel", service.cancel, False),
):
    router.add_api_route(
        f"/{{campaign_id}}/{_name}",
        _action(_change, _wakes),
        methods=["POST"],
        response_model=CampaignOut,
        name=f"{_name}_campaign",
        summary=f"{_name.capitalize()} the campaign",
    )


async def _state_change(
    change: Callable[[UnitOfWork, uuid.UUID], Awaitable[Campaign]],
    uow: UnitOfWork,
    campaign_id: uuid.UUID,
) -> Campaign:
    try:
        return await change(uow, campaign_id)
    except service.CampaignNotFound as exc:
        raise ApiError(404, "not_found", str(exc), "campaign_id") from None
    except CampaignStateError as exc:
        raise ApiError(409, exc.code, str(exc)) from None


async def _find(uow: UnitOfWork, campaign_id: uuid.UUID) -> Campaign:
    campaign = await uow.session.get(Campaign, campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", f"no campaign {campaign_id}", "campaign_id")
    return campaign


def _request(body: CampaignIn, default_quiet_hours: str) -> service.CampaignRequest:
    template = body.template
    return service.CampaignRequest(
        name=body.name,
        channel=body.channel,
        text=body.text,
        template=service.TemplateRequest(template.name, template.language, template.parameters)
        if template
        else None,
        from_=body.from_,
        provider=body.provider,
        send_at=body.send_at,
        quiet_hours=body.quiet_hours_window(default_quiet_hours),
    )


def _rows(recipients: list[RecipientIn]) -> list[RecipientRow]:
    return [
        RecipientRow(
            row=item.row or position,
            to=str(item.to),
            variables={
                name: "" if value is None else str(value) for name, value in item.variables.items()
            },
        )
        for position, item in enumerate(recipients, start=1)
    ]


def _prices(runtime: Runtime) -> prices.PriceTable:
    return prices.load(runtime.settings.price_table)


def _with_chunk(campaign: Campaign, chunk: service.ChunkResult) -> CampaignOut:
    return CampaignOut(
        campaign=summary(campaign),
        accepted=chunk.accepted,
        duplicates=chunk.duplicates,
        invalid=[InvalidRowOut(**row.as_json()) for row in chunk.invalid],
    )
