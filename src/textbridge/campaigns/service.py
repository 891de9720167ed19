"""Campaigns: create one, stage its recipients in chunks, start, pause, resume, cancel, report.

States::

    draft ──start──► running ──(nothing left waiting)──► completed
      │               │  ▲
      │            pause resume
      │               ▼  │
      └──cancel──►  cancelled ◄──cancel── paused

A draft holds staged recipients (validated, deduplicated, rendered, priced): its preview
(count, segments, cost) is known before anything is sent. Starting turns every staged row into
an ordinary `accepted` message in one set-based write (`bulk.enqueue`; a large campaign's in two
parts committed just before the start, so a start cut short can leave a draft with messages:
starting it again completes it); the dispatcher sends campaign messages like any other, after
conversation traffic (`priority`). Services flush and emit; the caller commits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textbridge.campaigns import bulk
from textbridge.campaigns.errors import CampaignError, CampaignStateError
from textbridge.campaigns.prepare import Invalid, Plan, Ready, TemplatePlan, prepare
from textbridge.campaigns.prices import PriceTable
from textbridge.campaigns.recipients import RecipientRow
from textbridge.compliance import consent
from textbridge.db import locks
from textbridge.db.base import new_ids, utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import quiet_hours, schedule
from textbridge.messaging import repository
from textbridge.messaging.content import SENDER_CHANNEL
from textbridge.messaging.phone import InvalidPhoneNumber, to_e164
from textbridge.messaging.text import excerpt
from textbridge.models import Campaign, Sender
from textbridge.providers.base import Provider
from textbridge.whatsapp import registry, templates
from textbridge.whatsapp.templates import normalize_values

DRAFT, RUNNING, PAUSED, COMPLETED, CANCELLED = (
    "draft",
    "running",
    "paused",
    "completed",
    "cancelled",
)
STATES = (DRAFT, RUNNING, PAUSED, COMPLETED, CANCELLED)
INVALID_ROWS_KEPT = 100
"""How many refused rows a campaign keeps for its report (all are counted, and each chunk's
answer lists its own)."""


@dataclass(frozen=True, slots=True)
class TemplateRequest:
    name: str
    language: str = "en_US"
    parameters: dict[str, str] | list[str] | None = None


@dataclass(frozen=True, slots=True)
class CampaignRequest:
    name: str
    channel: str = "sms"
    text: str | None = None
    template: TemplateRequest | None = None
    from_: str | None = None
    provider: str | None = None
    send_at: datetime | None = None
    # "HH:MM-HH:MM" in each recipient's local time, None for any hour (the API and CLI turn
    # true into TEXTBRIDGE_QUIET_HOURS and false into None).
    quiet_hours: str | None = None


@dataclass(slots=True)
class ChunkResult:
    accepted: int = 0
    duplicates: int = 0
    invalid: list[Invalid] = field(default_factory=list)


async def create(
    uow: UnitOfWork, request: CampaignRequest, providers: Mapping[str, Provider]
) -> Campaign:
    """A draft campaign; CampaignError names the field at fault."""
    _check_content(request)
    window = _check_schedule(request)
    sender = await _sender(uow, request, providers)
    if request.channel not in providers[sender.provider].channels:
        raise CampaignError(f"{sender.provider} does not carry {request.channel}", field="channel")
    template = await _template(uow, request.template) if request.template else None
    campaign = Campaign(
        name=request.name,
        state=DRAFT,
        channel=request.channel,
        provider=sender.provider,
        sender_id=sender.id,
        from_address=sender.address,
        text=request.text,
        template=template,
        invalid_rows=[],
        send_at=request.send_at,
        quiet_hours=window,
    )
    uow.session.add(campaign)
    await uow.session.flush()
    return campaign


def _check_content(request: CampaignRequest) -> None:
    if request.channel not in ("sms", "whatsapp"):
        raise CampaignError("a campaign is sent on sms or whatsapp", field="channel")
    if (request.text is None) == (request.template is None):
        raise CampaignError("give either text or template", field="text")
    if request.channel == "whatsapp" and request.template is None:
        # Free text reaches only contacts whose 24-hour window is open: a campaign would fail
        # for most of its list, so it must use an approved template.
        raise CampaignError("a WhatsApp campaign sends an approved template", field="template")
    if request.channel == "sms" and request.template is not None:
        raise CampaignError("templates can only be sent on WhatsApp", field="template")
    if request.text is not None and not request.text.strip():
        raise CampaignError("text must not be empty", field="text")


def _check_schedule(request: CampaignRequest) -> str | None:
    """The request's quiet hours, normalized ("8:00-21:00" is refused, "08:00-21:00" kept)."""
    if request.send_at is not None:
        try:
            schedule.check_send_at(request.send_at, utcnow())
        except schedule.InvalidSendAt as exc:
            raise CampaignError(str(exc), field="send_at") from None
    if request.quiet_hours is None:
        return None
    try:
        return str(quiet_hours.Window.parse(request.quiet_hours))
    except quiet_hours.InvalidWindow as exc:
        raise CampaignError(str(exc), field="quiet_hours") from None


async def _sender(
    uow: UnitOfWork, request: CampaignRequest, providers: Mapping[str, Provider]
) -> Sender:
    if request.provider is not None and request.provider not in providers:
        raise CampaignError(f"provider {request.provider!r} is not configured", field="provider")
    number = None
    if request.from_:
        try:
            number = to_e164(request.from_)
        except InvalidPhoneNumber as exc:
            raise CampaignError(str(exc), field="from") from None
    sender = await repository.find_sender(
        uow.session, SENDER_CHANNEL[request.channel], number, request.provider, tuple(providers)
    )
    if sender is None:
        where = f" with number {number}" if number else ""
        raise CampaignError(f"no {request.channel} sender{where} is configured", field="from")
    return sender


async def _template(uow: UnitOfWork, request: TemplateRequest) -> dict[str, Any]:
    row = await registry.find(uow.session, request.name, request.language)
    if row is None:
        message = f"no template {excerpt(request.name)} in language {excerpt(request.language)}"
        raise CampaignError(message, field="template.name")
    if row.status != "APPROVED":
        raise CampaignError(
            f"template {excerpt(request.name)} is {row.status}; only APPROVED templates are sent",
            field="template.name",
        )
    return {
        "name": row.name,
        "language": row.language,
        "parameters": normalize_values(request.parameters),
    }


async def plan_of(uow: UnitOfWork, campaign: Campaign, prices: PriceTable) -> Plan:
    template = None
    if campaign.template is not None:
        row = await registry.find(
            uow.session, campaign.template["name"], campaign.template["language"]
        )
        if row is None:
            raise CampaignError("the campaign's template was removed", field="template.name")
        wanted = frozenset(parameter.name for parameter in templates.parameters_of(row.components))
        template = TemplatePlan(
            row.name, row.language, row.components, campaign.template["parameters"], wanted
        )
    return Plan(campaign.channel, campaign.provider, campaign.text, template, prices)


async def add_recipients(
    uow: UnitOfWork, campaign_id: uuid.UUID, rows: Sequence[RecipientRow], prices: PriceTable
) -> ChunkResult:
    """Validate, deduplicate (by normalized number, across every chunk of the campaign),
    render and stage a chunk of recipients. Invalid rows are reported, never fatal.

    Only the deduplication against earlier chunks and the staging wait for the campaign's
    lock (one chunk of a campaign at a time). Before it, in the same transaction: the rows
    are checked in a worker thread (pure CPU: numbers, rendering, segments; off the event
    loop the server keeps answering), then the consent ledger is read and the chunk's new
    contacts are created, while another chunk of the same campaign is being staged."""
    draft = await _draft(uow, campaign_id)
    plan, sender = await plan_of(uow, draft, prices), draft.from_address
    await uow.rollback()  # no transaction (on SQLite: no write lock) while checking
    result, fresh, zones = await asyncio.to_thread(_check_all, plan, rows)
    await locks.keep_erasures_out(uow.session)  # consent read, then rows naming people written
    blocked = await consent.opted_out_of(uow.session, sender, fresh)
    # Before the lock; a recipient found staged already had its contact since its first chunk.
    await bulk.create_contacts(
        uow.session, [r for to, r in fresh.items() if to not in blocked], utcnow()
    )
    campaign = await _draft(uow, campaign_id, lock=True)
    seen = await bulk.already_staged(uow.session, campaign.id, list(fresh))
    result.duplicates += len(seen)
    campaign.opted_out += len(blocked - seen)
    ready = [r for to, r in fresh.items() if to not in seen and to not in blocked]
    await _stage(uow, campaign, ready, zones)
    result.accepted = len(ready)
    _count(campaign, ready, result)
    await uow.session.flush()
    return result


async def _draft(uow: UnitOfWork, campaign_id: uuid.UUID, lock: bool = False) -> Campaign:
    campaign = (
        await bulk.lock(uow.session, campaign_id)
        if lock
        else await uow.session.get(Campaign, campaign_id)
    )
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    if campaign.state != DRAFT:
        raise CampaignStateError(
            f"recipients can be added to a draft only; this one is {campaign.state}"
        )
    return campaign


def _check_all(
    plan: Plan, rows: Sequence[RecipientRow]
) -> tuple[ChunkResult, dict[str, Ready], dict[str, str]]:
    """Each row checked; the valid ones by normalized address (the first of a duplicate), and
    the zone key of each (`quiet_hours.zone_key`: a `phonenumbers` lookup, CPU too)."""
    result = ChunkResult()
    fresh: dict[str, Ready] = {}
    for row in rows:
        prepared = prepare(plan, row)
        if isinstance(prepared, Invalid):
            result.invalid.append(prepared)
        elif prepared.to in fresh:
            result.duplicates += 1
        else:
            fresh[prepared.to] = prepared
    return result, fresh, {address: quiet_hours.zone_key(address) for address in fresh}


async def _stage(
    uow: UnitOfWork, campaign: Campaign, ready: list[Ready], zones: Mapping[str, str]
) -> None:
    """The staged rows, with the ids their message and (if the recipient has none with this
    sender yet) conversation get at start."""
    if not ready:
        return
    ids = new_ids(2 * len(ready))
    rows = [
        (
            campaign.id,
            r.to,
            r.row,
            ids[2 * i],
            ids[2 * i + 1],
            r.body,
            r.payload,
            r.encoding,
            r.segments,
            r.country,
            r.price_micros,
            zones[r.to],
        )
        for i, r in enumerate(ready)
    ]
    await bulk.stage(uow.session, rows)


def _count(campaign: Campaign, ready: list[Ready], result: ChunkResult) -> None:
    campaign.recipients += len(ready)
    campaign.duplicates += result.duplicates
    campaign.invalid += len(result.invalid)
    room = INVALID_ROWS_KEPT - len(campaign.invalid_rows)
    if room > 0 and result.invalid:
        campaign.invalid_rows = [
            *campaign.invalid_rows,
            *(i.as_json() for i in result.invalid[:room]),
        ]
    campaign.segments += sum(r.segments for r in ready)
    campaign.cost_micros += sum(r.price_micros or 0 for r in ready)
    campaign.unpriced += sum(1 for r in ready if r.price_micros is None)


async def start(uow: UnitOfWork, campaign_id: uuid.UUID, *, in_parts: bool = True) -> Campaign:
    """Turn the staged recipients into messages: due now, or `scheduled` for the campaign's
    `send_at`, or `held` until the recipient's quiet hours end. `in_parts`: a large campaign's
    messages may be written by other connections, committed before this unit of work
    (`bulk._in_parts`); without, all in this unit of work's transaction."""
    campaign = await _locked(uow, campaign_id, naming_people=True)
    if campaign.state != DRAFT:
        raise CampaignStateError(f"only a draft can be started; this one is {campaign.state}")
    if campaign.recipients == 0:
        raise CampaignStateError("the campaign has no valid recipient")
    now = utcnow()
    await bulk.enqueue(uow.session, campaign, now, uow.sessions if in_parts else None)
    campaign.state = RUNNING
    campaign.started_at = now
    await uow.session.flush()
    return campaign


async def pause(uow: UnitOfWork, campaign_id: uuid.UUID) -> Campaign:
    """Messages not yet claimed stop leaving, in every process; those being sent finish."""
    campaign = await _locked(uow, campaign_id)
    if campaign.state != RUNNING:
        raise CampaignStateError(
            f"only a running campaign can be paused; this one is {campaign.state}"
        )
    await bulk.hold(uow.session, [campaign.id])
    campaign.state = PAUSED
    await uow.session.flush()
    return campaign


async def resume(uow: UnitOfWork, campaign_id: uuid.UUID) -> Campaign:
    campaign = await _locked(uow, campaign_id)
    if campaign.state != PAUSED:
        raise CampaignStateError(
            f"only a paused campaign can be resumed; this one is {campaign.state}"
        )
    await bulk.release(uow.session, campaign, utcnow())
    campaign.state = RUNNING
    await uow.session.flush()
    return campaign


async def cancel(uow: UnitOfWork, campaign_id: uuid.UUID) -> Campaign:
    """Messages not yet claimed end `cancelled`; those being sent finish. A draft is simply
    never started."""
    campaign = await _locked(uow, campaign_id)
    if campaign.state in (COMPLETED, CANCELLED):
        raise CampaignStateError(f"the campaign is {campaign.state} already")
    now = utcnow()
    await bulk.cancel_waiting(uow.session, campaign.id, now)
    campaign.state = CANCELLED
    campaign.finished_at = now
    await uow.session.flush()
    return campaign


async def _locked(
    uow: UnitOfWork, campaign_id: uuid.UUID, *, naming_people: bool = False
) -> Campaign:
    """The campaign, locked; `naming_people` for a write that reads consent, then writes rows
    naming its recipients (staging, start): it first waits for an erasure under way
    (`db.locks`)."""
    if naming_people:
        await locks.keep_erasures_out(uow.session)
    campaign = await bulk.lock(uow.session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    return campaign


class CampaignNotFound(LookupError):
    def __init__(self, campaign_id: uuid.UUID) -> None:
        super().__init__(f"no campaign {campaign_id}")
