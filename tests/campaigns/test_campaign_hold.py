"""Pause, cancel and resume of a campaign whose messages wait for send_at (`scheduled`) or
quiet hours (`held`), on a real database with the real dispatcher (Plivo answered by
`httpx.MockTransport`), its passes driven by the test: nothing of a paused or cancelled
campaign leaves, even once its time has come; a resumed one is held again by the claim."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from textbridge.bootstrap import bootstrap
from textbridge.campaigns import prices, service
from textbridge.campaigns.recipients import RecipientRow
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import schedule
from textbridge.dispatch.quiet_hours import Window
from textbridge.messaging import status
from textbridge.models import Campaign, Message
from textbridge.runtime import Runtime, build_runtime

from ..dispatch.test_schedule import UTC_OFFSET_INDIA, closed_window_in_india, plivo_accepts
from ..support.database import Database
from ..support.textbridge import settings_for

INDIA = "+9198123456{:02d}"
PEOPLE = 6


@pytest.fixture
async def runtime(database: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = settings_for(database.fresh_url(tmp_path), "http://textbridge.test")
    runtime = build_runtime(settings, httpx.MockTransport(plivo_accepts))
    await bootstrap(runtime)
    yield runtime
    await runtime.aclose()


async def started(
    runtime: Runtime, *, send_at: datetime | None = None, window: Window | None = None
) -> uuid.UUID:
    request = service.CampaignRequest(
        name="night", text="Hi", send_at=send_at, quiet_hours=str(window) if window else None
    )
    rows = [RecipientRow(row=i + 1, to=INDIA.format(i), variables={}) for i in range(PEOPLE)]
    async with runtime.unit_of_work() as uow:
        campaign = await service.create(uow, request, runtime.providers)
        await uow.commit()
        await service.add_recipients(
            uow, campaign.id, rows, prices.load(runtime.settings.price_table)
        )
        await service.start(uow, campaign.id)
        await uow.commit()
        return campaign.id


async def act(
    runtime: Runtime,
    change: Callable[[UnitOfWork, uuid.UUID], Awaitable[Campaign]],
    campaign_id: uuid.UUID,
) -> None:
    async with runtime.unit_of_work() as uow:
        await change(uow, campaign_id)
        await uow.commit()


async def messages(runtime: Runtime, campaign_id: uuid.UUID) -> list[Message]:
    async with runtime.sessions() as session:
        found = await session.scalars(select(Message).where(Message.campaign_id == campaign_id))
        return list(found)


async def passes_far_ahead(runtime: Runtime) -> None:
    """Dispatcher passes, and a release of due rows as if a day had gone by."""
    for _ in range(3):
        await runtime.dispatcher.dispatch_due()
    async with runtime.unit_of_work() as uow:
        await schedule.release_due(uow, utcnow() + timedelta(days=1))
        await uow.commit()
    for _ in range(3):
        await runtime.dispatcher.dispatch_due()


async def test_paused_held_and_scheduled_rows_never_leave(runtime: Runtime) -> None:
    send_at = utcnow() + timedelta(minutes=10)
    scheduled = await started(runtime, send_at=send_at)
    held = await started(runtime, window=closed_window_in_india(utcnow()))
    assert {m.status for m in await messages(runtime, scheduled)} == {status.SCHEDULED}
    assert {m.status for m in await messages(runtime, held)} == {status.HELD}
    for campaign_id in (scheduled, held):
        await act(runtime, service.pause, campaign_id)
    await passes_far_ahead(runtime)
    for campaign_id, waiting in ((scheduled, status.SCHEDULED), (held, status.HELD)):
        found = await messages(runtime, campaign_id)
        assert {(m.status, m.next_attempt_at, m.attempts) for m in found} == {(waiting, None, 0)}


async def test_cancel_ends_held_and_scheduled_rows(runtime: Runtime) -> None:
    scheduled = await started(runtime, send_at=utcnow() + timedelta(minutes=10))
    held = await started(runtime, window=closed_window_in_india(utcnow()))
    await act(runtime, service.pause, held)  # paused first, or not: both end cancelled
    for campaign_id in (scheduled, held):
        await act(runtime, service.cancel, campaign_id)
    await passes_far_ahead(runtime)
    for campaign_id in (scheduled, held):
        found = await messages(runtime, campaign_id)
        assert {(m.status, m.attempts) for m in found} == {(status.CANCELLED, 0)}


async def test_resume_holds_again_by_quiet_hours(runtime: Runtime) -> None:
    window = closed_window_in_india(utcnow())
    campaign_id = await started(runtime, window=window)
    await act(runtime, service.pause, campaign_id)
    await act(runtime, service.resume, campaign_id)
    # Due at once again: released, then the claim finds them inside quiet hours and holds them.
    await runtime.dispatcher.dispatch_due()
    await runtime.dispatcher.dispatch_due()
    found = await messages(runtime, campaign_id)
    assert {(m.status, m.attempts) for m in found} == {(status.HELD, 0)}
    for message in found:
        assert message.next_attempt_at is not None
        assert (message.next_attempt_at + UTC_OFFSET_INDIA).time() == window.start


async def test_resume_before_send_at_waits_for_it(runtime: Runtime) -> None:
    send_at = utcnow() + timedelta(minutes=10)
    campaign_id = await started(runtime, send_at=send_at)
    await act(runtime, service.pause, campaign_id)
    await act(runtime, service.resume, campaign_id)
    await runtime.dispatcher.dispatch_due()
    found = await messages(runtime, campaign_id)
    assert {(m.status, m.next_attempt_at) for m in found} == {(status.SCHEDULED, send_at)}
