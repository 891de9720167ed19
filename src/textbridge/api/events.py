"""Server-sent events: every committed change, live (sse-starlette does the wire format).

A stream lives as long as its credentials: every `ACCESS_CHECK_SECONDS` it looks its API key
(and, for the inbox, its session) up again, and ends once the key is revoked or the session
signed out. Keys are revoked by the CLI, in another process, so a cheap periodic look-up is
what reaches every stream.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from textbridge.api.deps import ReadDep, RuntimeDep
from textbridge.auth import session
from textbridge.models import ApiKey
from textbridge.realtime.bus import Event, Subscription
from textbridge.runtime import Runtime

router = APIRouter(tags=["events"])

PING_SECONDS = 15
ACCESS_CHECK_SECONDS = 3.0


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request, runtime: RuntimeDep, key: ReadDep) -> EventSourceResponse:
    """`message.created`, `message.status` and `conversation.updated`, each with the same
    JSON as the matching GET. After a reconnect, refetch: events are not replayed. The
    stream ends when its API key is revoked or its inbox session signed out."""
    access = _Access(runtime, key.id, request.state.web_session)
    return EventSourceResponse(_stream(request, runtime, access), ping=PING_SECONDS)


class _Access:
    """Whether the stream's credentials still hold, looked up at most every few seconds."""

    def __init__(
        self, runtime: Runtime, key_id: uuid.UUID, claims: session.SessionClaims | None
    ) -> None:
        self._runtime = runtime
        self._key_id = key_id
        self._claims = claims
        self._next_check = time.monotonic() + ACCESS_CHECK_SECONDS

    async def still_granted(self) -> bool:
        if time.monotonic() < self._next_check:
            return True
        self._next_check = time.monotonic() + ACCESS_CHECK_SECONDS
        async with self._runtime.sessions() as db:
            if self._claims is not None:
                return await session.active(db, self._claims) is not None
            key = await db.get(ApiKey, self._key_id)
            return key is not None and key.revoked_at is None


async def _stream(
    request: Request, runtime: Runtime, access: _Access
) -> AsyncIterator[ServerSentEvent]:
    async with runtime.bus.subscribe() as subscription:
        yield ServerSentEvent(event="ready", data="{}")
        while True:
            event = await _next(subscription)
            if event is None or await request.is_disconnected():
                return
            if not await access.still_granted():
                return
            if isinstance(event, Event):
                shown_id = str(event.id) if event.id else None  # 0: not in live_events
                yield ServerSentEvent(id=shown_id, event=event.type, data=json.dumps(event.data))


async def _next(subscription: Subscription) -> Event | bool | None:
    """The next event; True when none came within the check interval; None when dropped."""
    try:
        return await asyncio.wait_for(subscription.queue.get(), ACCESS_CHECK_SECONDS)
    except TimeoutError:
        return True
