"""What a campaign did, from its messages: progress counts, the final report, and the
`campaign.progress` live events (a background loop, throttled)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.campaigns import bulk
from textbridge.campaigns.prices import money
from textbridge.campaigns.service import CANCELLED, COMPLETED, DRAFT, PAUSED, RUNNING
from textbridge.compliance import consent
from textbridge.compliance.erasure import ERASED
from textbridge.db.base import utcnow
from textbridge.dispatch import schedule
from textbridge.dispatch.quiet_hours import window_of
from textbridge.messaging import status
from textbridge.models import Campaign
from textbridge.polling import PollingLoop
from textbridge.realtime.bus import EventBus

log = structlog.get_logger(__name__)

# Which message statuses count as what in a campaign's progress (disjoint).
GROUPS: dict[str, tuple[str, ...]] = {
    # Not yet claimed: due now, or waiting for send_at (`scheduled`) or quiet hours (`held`).
    "waiting": (status.ACCEPTED, status.SCHEDULED, status.HELD),
    "sending": (status.SENDING,),
    "submitted": (status.SUBMITTED, status.SENT),
    "delivered": (status.DELIVERED, status.READ),
    "failed": tuple(sorted(status.FAILURES)),
    "unknown": (status.UNKNOWN,),
    "cancelled": (bulk.CANCELLED,),
}
RECEIPTS_FOLLOWED = timedelta(hours=1)
"""How long after it finished a campaign's counts are still published (receipts arrive late)."""
PROGRESS_SECONDS = 1.0
"""At most one `campaign.progress` event per campaign per this many seconds."""


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    waiting: int
    sending: int
    submitted: int
    delivered: int
    failed: int
    unknown: int
    cancelled: int
    sent: int  # the provider took it (it has the provider's message id)

    @property
    def done(self) -> int:
        """Messages that will not move on without a provider callback or a person."""
        return self.total - self.waiting - self.sending

    def as_json(self) -> dict[str, int]:
        return {**asdict(self), "done": self.done}


async def progress(session: AsyncSession, campaign_id: uuid.UUID) -> Progress:
    counts = await bulk.status_counts(session, campaign_id)
    grouped = {
        name: sum(counts.get(member, (0, 0))[0] for member in members)
        for name, members in GROUPS.items()
    }
    total = sum(total for total, _ in counts.values())
    sent = sum(taken for _, taken in counts.values())
    return Progress(total=total, sent=sent, **grouped)


@dataclass(frozen=True, slots=True)
class Report:
    campaign: dict[str, Any]
    progress: dict[str, int]
    failed_by_reason: list[dict[str, Any]]
    skipped: dict[str, int]
    cost: dict[str, Any]
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)
    departures: dict[str, Any] = field(default_factory=dict)


async def departures(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    """When the campaign's messages leave: its send_at and quiet hours, how many messages
    wait for each (`scheduled`, `held`), and when the soonest of them leaves (None when none
    waits, or while the campaign is paused). For a draft, `estimated`: as if it started now."""
    if campaign.state == DRAFT:
        counts = await _forecast(session, campaign)
    else:
        counts = await bulk.deferred(session, campaign.id)
    soonest = [moment for _, moment in counts.values() if moment is not None]
    return {
        "send_at": _iso(campaign.send_at),
        "quiet_hours": campaign.quiet_hours,
        "scheduled": counts.get(status.SCHEDULED, (0, None))[0],
        "held": counts.get(status.HELD, (0, None))[0],
        "next_leaves_at": _iso(min(soonest)) if soonest else None,
        "estimated": campaign.state == DRAFT,
    }


async def _forecast(
    session: AsyncSession, campaign: Campaign
) -> dict[str, tuple[int, datetime | None]]:
    """A draft's messages by first status, were it started now: the start's own decision
    (`schedule.departure_in` per zone key), over the staged recipients grouped by key."""
    if campaign.send_at is None and campaign.quiet_hours is None:
        return {}
    window = window_of(campaign.quiet_hours) if campaign.quiet_hours else None
    now = utcnow()
    found: dict[str, tuple[int, datetime | None]] = {}
    for key, count in await bulk.staged_by_zone(session, campaign.id):
        if not key:  # staged before zone keys existed: the start lets the claim decide
            continue
        leaving = schedule.departure_in(now, key, send_at=campaign.send_at, window=window)
        if leaving.status in status.DEFERRED:
            total, soonest = found.get(leaving.status, (0, None))
            earliest = min(soonest, leaving.leaves_at) if soonest else leaving.leaves_at
            found[leaving.status] = (total + count, earliest)
    return found


async def report(session: AsyncSession, campaign: Campaign, price_source: str) -> Report:
    now = await progress(session, campaign.id)
    reasons = await bulk.failure_reasons(session, campaign.id)
    cost_sent = await bulk.cost_of_sent(session, campaign.id)
    why = await bulk.cancelled_by_code(session, campaign.id)
    dispatch_out, erased = why.get(consent.ERROR_CODE, 0), why.get(ERASED, 0)
    # A draft cancelled before it started: its staged recipients without a message were
    # skipped (a start cut short after its parts committed leaves a draft with messages).
    never_started = campaign.state == CANCELLED and campaign.started_at is None
    unstarted = campaign.recipients - now.total if never_started else 0
    cancelled = unstarted + sum(why.values())
    return Report(
        campaign=summary(campaign),
        progress=now.as_json(),
        failed_by_reason=_by_reason(reasons),
        skipped={
            "invalid": campaign.invalid,
            "duplicate": campaign.duplicates,
            "cancelled": cancelled - dispatch_out - erased,
            "opted_out": campaign.opted_out + dispatch_out,
            "erased": erased,
        },
        cost={
            "currency": campaign.currency,
            "estimate": money(campaign.cost_micros),
            "sent": money(cost_sent),
            "unpriced": campaign.unpriced,
            "price_table": price_source,
        },
        invalid_rows=list(campaign.invalid_rows),
        departures=await departures(session, campaign),
    )


OTHER = "other"
"""The code of the entry that counts the failures past the commonest reasons."""


def _by_reason(reasons: bulk.FailureReasons) -> list[dict[str, Any]]:
    """The commonest reasons, then one `other` entry for the rest: the counts add up to the
    campaign's failures."""
    rows = [{"code": code, "reason": text, "count": count} for code, text, count in reasons.top]
    if reasons.other_messages:
        more = f"{reasons.other_reasons} more reason{'s' * (reasons.other_reasons != 1)}"
        rows.append({"code": OTHER, "reason": more, "count": reasons.other_messages})
    return rows


def summary(campaign: Campaign) -> dict[str, Any]:
    """The campaign itself and its preview: the counts known before it starts."""
    return {
        "id": str(campaign.id),
        "name": campaign.name,
        "state": campaign.state,
        "channel": campaign.channel,
        "provider": campaign.provider,
        "from": campaign.from_address,
        "text": campaign.text,
        "template": campaign.template,
        "recipients": campaign.recipients,
        "invalid": campaign.invalid,
        "duplicates": campaign.duplicates,
        "segments": campaign.segments,
        "cost_estimate": money(campaign.cost_micros),
        "currency": campaign.currency,
        "unpriced": campaign.unpriced,
        "send_at": _iso(campaign.send_at),
        "quiet_hours": campaign.quiet_hours,
        "created_at": _iso(campaign.created_at),
        "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class ProgressPublisher:
    """Every `PROGRESS_SECONDS`: for each running or paused campaign (or one finished within
    `RECEIPTS_FOLLOWED`), publish
    `campaign.progress` when its counts changed, and mark it `completed` once nothing is
    waiting or sending."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus
        self._loop = PollingLoop("campaign-progress", batch=1, idle_seconds=PROGRESS_SECONDS)
        self._last: dict[uuid.UUID, tuple[str, Progress]] = {}

    async def run(self) -> None:
        await self._loop.run(self.publish_once)

    async def publish_once(self) -> int:
        async with self._sessions() as session:
            recently = utcnow() - RECEIPTS_FOLLOWED
            query = (
                select(Campaign)
                .where(
                    or_(
                        Campaign.state.in_((RUNNING, PAUSED)),
                        Campaign.finished_at > recently,  # its delivery receipts still come
                    )
                )
                .with_for_update(skip_locked=True)  # a pause or cancel in flight goes first
            )
            active = list(await session.scalars(query))
            events = [await self._changed(session, campaign) for campaign in active]
            await session.commit()
        self._last = {
            key: value for key, value in self._last.items() if key in {c.id for c in active}
        }
        for event in events:
            if event is not None:
                self._bus.publish("campaign.progress", event)
        return 0  # never "a full batch": the loop always waits its interval

    async def _changed(self, session: AsyncSession, campaign: Campaign) -> dict[str, Any] | None:
        """The campaign's progress event if its counts changed (completing it when done)."""
        now = await progress(session, campaign.id)
        if campaign.state == RUNNING and now.waiting == 0 and now.sending == 0:
            campaign.state = COMPLETED
            campaign.finished_at = utcnow()
            log.info("campaign completed", campaign_id=str(campaign.id), messages=now.total)
        elif self._last.get(campaign.id) == (campaign.state, now):
            return None  # a state change made in another process still counts as a change
        self._last[campaign.id] = (campaign.state, now)
        return {"id": str(campaign.id), "state": campaign.state, **now.as_json()}
