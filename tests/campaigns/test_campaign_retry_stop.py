"""A campaign paused or cancelled while its messages are being sent: a send answered with a
retry (503) does not go back to the queue. Real database, real dispatcher, Plivo answered by
`httpx.MockTransport` (each answer held until the test has paused or cancelled)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from textbridge.bootstrap import bootstrap
from textbridge.campaigns import service
from textbridge.messaging import status
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.textbridge import settings_for
from .test_campaign_hold import PEOPLE, act, messages, started


class HeldBusy:
    """Answers every send 503 (retry later), once `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await self.release.wait()
        return httpx.Response(503, json={"api_id": "a", "error": "service unavailable"})


@pytest.fixture
async def busy(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Runtime, HeldBusy]]:
    provider = HeldBusy()
    settings = settings_for(database.fresh_url(tmp_path), "http://textbridge.test")
    runtime = build_runtime(settings, httpx.MockTransport(provider))
    await bootstrap(runtime)
    yield runtime, provider
    await runtime.aclose()


async def _retry_while(runtime: Runtime, provider: HeldBusy, stop: object) -> uuid.UUID:
    campaign_id = await started(runtime)
    dispatching = asyncio.create_task(runtime.dispatcher.dispatch_due())
    while provider.calls < PEOPLE:  # every message is in `sending`, its answer held
        await asyncio.sleep(0.01)
    await act(runtime, stop, campaign_id)  # type: ignore[arg-type]
    provider.release.set()
    await dispatching
    return campaign_id


async def test_a_retry_of_a_paused_campaign_waits_for_resume(
    busy: tuple[Runtime, HeldBusy],
) -> None:
    runtime, provider = busy
    campaign_id = await _retry_while(runtime, provider, service.pause)
    waiting = await messages(runtime, campaign_id)
    assert {(m.status, m.next_attempt_at) for m in waiting} == {(status.ACCEPTED, None)}
    assert await runtime.dispatcher.dispatch_due() == 0


async def test_a_retry_of_a_cancelled_campaign_is_cancelled(
    busy: tuple[Runtime, HeldBusy],
) -> None:
    runtime, provider = busy
    campaign_id = await _retry_while(runtime, provider, service.cancel)
    assert {m.status for m in await messages(runtime, campaign_id)} == {status.CANCELLED}
