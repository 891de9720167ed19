"""The governor's slow-down on 429 and its recovery, through the real dispatcher (its run loop,
the governor on) against a Plivo (httpx.MockTransport) that answers 429 with `Retry-After` for a
while, then accepts. On each database: the governor's state is in PostgreSQL there.

It must show: no retry before the `Retry-After` the provider asked for; 429s use up no attempt
(one attempt allowed, several 429s each, and every message still goes); every message accepted
by the provider exactly once; the sender's rate cut while the 429s came, and back to full
afterwards (`Governor.rate_shares`, the governor's own state).

Only lower bounds on waits are checked against the clock (a loaded machine makes waits longer,
never shorter), so this runs with the other tests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from textbridge.bootstrap import bootstrap
from textbridge.messaging import status
from textbridge.models import Message
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.live import scaled
from ..support.textbridge import SANDBOX_NUMBER, settings_for
from .test_dispatcher import _load, _queue

MESSAGES = 6
RETRY_AFTER = 1.0
RECOVERY_SECONDS = 2.0


@dataclass
class ThrottledPlivo:
    """Plivo's send API answering 429 with `Retry-After: 1` while `throttled`, then 202."""

    throttled: bool = True
    calls: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    """Each message's calls (by our reference): (monotonic time of arrival, status answered)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        callback = json.loads(request.content)["url"]
        reference = parse_qs(urlsplit(callback).query)["ref"][0]
        answer = 429 if self.throttled else 202
        self.calls[reference].append((time.monotonic(), answer))
        if answer == 429:
            headers = {"Retry-After": f"{RETRY_AFTER:g}"}
            return httpx.Response(429, json={"api_id": "a", "error": "slow down"}, headers=headers)
        body = {"api_id": "a", "message": "queued", "message_uuid": [str(uuid.uuid4())]}
        return httpx.Response(202, json=body)

    def rate_limited(self, reference: str) -> int:
        return sum(1 for _, answer in self.calls[reference] if answer == 429)


@pytest.fixture
async def dispatching(
    database: Database, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, ThrottledPlivo]]:
    plivo = ThrottledPlivo()
    settings = settings_for(
        database.fresh_url(tmp_path),
        "http://textbridge.test",
        governor=True,  # off by default in sandbox mode
        rate_senders={SANDBOX_NUMBER: 20.0},
        governor_recovery_seconds=RECOVERY_SECONDS,
        dispatch_max_attempts=1,  # a 429 that used one up would fail its message
        dispatch_max_rate_limited=50,
        database_pool_size=4,
    )
    runtime = build_runtime(settings, httpx.MockTransport(plivo))
    await bootstrap(runtime)
    running = asyncio.create_task(runtime.dispatcher.run())
    try:
        yield runtime, plivo
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await runtime.aclose()


async def test_429s_slow_the_sender_honour_retry_after_and_the_rate_recovers(
    dispatching: tuple[Runtime, ThrottledPlivo],
) -> None:
    runtime, plivo = dispatching
    governor = runtime.dispatcher.governor
    ids = [await _queue(runtime, f"+1415555{number:04d}") for number in range(MESSAGES)]
    probe = await _load(runtime, ids[0])

    # Throttled until every message was answered 429 twice (so each was retried after one).
    await _until(lambda: all(plivo.rate_limited(str(i)) >= 2 for i in ids))
    shares = await governor.rate_shares(probe)
    plivo.throttled = False
    sender_key = next(key for key in shares if key.startswith("sender:"))
    assert shares[sender_key] < 1.0, shares  # cut (to half or less), not recovered yet

    deadline = time.monotonic() + scaled(30)
    while (finals := await _all_submitted(runtime, ids)) is None:
        assert time.monotonic() < deadline, "not all submitted in time"
        await asyncio.sleep(0.05)  # polling for the condition
    for message in finals:
        calls = plivo.calls[str(message.id)]
        assert [answer for _, answer in calls].count(202) == 1, calls  # accepted exactly once
        for (earlier, answer), (later, _) in pairwise(calls):
            assert answer == 429
            assert later - earlier >= RETRY_AFTER, f"retried {later - earlier:.3f} s after"
        # Tries counted: every call; attempts used: only the one that was not a 429.
        assert message.rate_limited == len(calls) - 1 >= 2
        assert message.attempts - message.rate_limited == 1

    # Back to the full rate within the recovery time (from the last cut, at most 1/16 of it).
    deadline = time.monotonic() + scaled(4 * RECOVERY_SECONDS)
    while min((shares := await governor.rate_shares(probe)).values()) < 1.0:
        assert time.monotonic() < deadline, f"not recovered: {shares}"
        await asyncio.sleep(0.1)  # polling for the condition


async def _all_submitted(runtime: Runtime, ids: list[uuid.UUID]) -> list[Message] | None:
    messages = [await _load(runtime, message_id) for message_id in ids]
    assert not [m for m in messages if m.status in (status.FAILED, status.UNKNOWN)]
    return messages if all(m.status == status.SUBMITTED for m in messages) else None


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + scaled(30)
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
