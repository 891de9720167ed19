"""TEXTBRIDGE_DISPATCH_MAX_ATTEMPTS reaches both places that count attempts: the dispatcher
(a message answered 503 every time fails after exactly that many calls) and the review's
resend (one more attempt, counted against the same number). 7, not the default 5, so a place
that fell back to the default shows. TEXTBRIDGE_DISPATCH_MAX_RATE_LIMITED reaches the
dispatcher as well."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from textbridge.bootstrap import bootstrap
from textbridge.dispatch.policy import MAX_ATTEMPTS
from textbridge.messaging import status
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.textbridge import running_textbridge, settings_for
from .test_dispatcher import _load, _make_due, _queue

CONFIGURED = 7
assert CONFIGURED != MAX_ATTEMPTS


def _answering(
    database: Database, tmp_path: Path, code: int, error: str, **settings: Any
) -> tuple[Runtime, list[httpx.Request]]:
    """A runtime whose Plivo answers every send `code` with `error`, and the calls it got."""
    calls: list[httpx.Request] = []

    def plivo(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(code, json={"api_id": "a", "error": error})

    configured = settings_for(
        database.fresh_url(tmp_path), "http://textbridge.test", database_pool_size=4, **settings
    )
    return build_runtime(configured, httpx.MockTransport(plivo)), calls


@pytest.fixture
async def unavailable(
    database: Database, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, list[httpx.Request]]]:
    runtime, calls = _answering(
        database, tmp_path, 503, "down for maintenance", dispatch_max_attempts=CONFIGURED
    )
    await bootstrap(runtime)
    yield runtime, calls
    await runtime.aclose()


async def test_the_dispatcher_gives_up_after_the_configured_attempts(
    unavailable: tuple[Runtime, list[httpx.Request]],
) -> None:
    runtime, calls = unavailable
    message_id = await _queue(runtime)
    for _ in range(CONFIGURED + 2):  # more passes than attempts: the extra ones find nothing
        await _make_due(runtime, message_id)
        await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.attempts) == (status.FAILED, CONFIGURED)
    assert f"gave up after {CONFIGURED} attempts" in (message.error_message or "")
    assert len(calls) == CONFIGURED


async def test_the_dispatcher_gives_up_after_the_configured_429s(
    database: Database, tmp_path: Path
) -> None:
    # TEXTBRIDGE_DISPATCH_MAX_RATE_LIMITED reaches it too (3, not the default 100).
    runtime, calls = _answering(
        database, tmp_path, 429, "too many requests", dispatch_max_rate_limited=3
    )
    try:
        await bootstrap(runtime)
        message_id = await _queue(runtime)
        for _ in range(5):
            await _make_due(runtime, message_id)
            await runtime.dispatcher.dispatch_due()
        message = await _load(runtime, message_id)
        assert (message.status, message.rate_limited, len(calls)) == (status.FAILED, 3, 3)
        assert "answered 429 3 times" in (message.error_message or "")
    finally:
        await runtime.aclose()


def test_a_resend_after_review_is_one_more_of_the_configured_attempts(
    database: Database, tmp_path: Path
) -> None:
    with running_textbridge(
        database, tmp_path, dispatch_max_attempts=CONFIGURED, database_pool_size=4
    ) as textbridge:
        # A 500 that took nothing (no status callback will settle it): `unknown` until reviewed.
        faults = {"random_sends": {"rates": {"500": 1.0}, "taken": []}, "record_sends": True}
        assert textbridge.simulator.put("/control/faults", json=faults).status_code == 200
        message_id = textbridge.send(to="+14155550185", text="did it go?")["id"]
        textbridge.wait_for_status(message_id, "unknown")

        faults = {"random_sends": {"rates": {"503": 1.0}}}
        assert textbridge.simulator.put("/control/faults", json=faults).status_code == 200
        resent = textbridge.api.post(f"/api/v1/messages/{message_id}/resend")
        assert resent.status_code == 200, resent.text
        # The resend's one attempt is the last of CONFIGURED: a 503 then fails it at once. Had
        # the resend counted against the default (5), the dispatcher (7) would retry it later.
        failed = textbridge.wait_for_status(message_id, "failed")
        assert f"gave up after {CONFIGURED} attempts" in failed["error_message"]
        calls = [
            call
            for call in textbridge.simulator.get("/control/sends").json()
            if call["reference"] == message_id
        ]
        assert [call["status"] for call in calls] == [500, 503]
