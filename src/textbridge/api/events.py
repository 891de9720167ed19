"""Server-sent events: every committed change, live (sse-starlette does the wire format).

Every stream opens with `ready`. A client that connects without an id loads its state after
`ready`; one that connects with the id of the last event it saw (the `Last-Event-ID` header,
which `EventSource` sends by itself when it reconnects, or `?last_event_id=` for a client that
cannot set headers) gets every event it missed, then the live ones, with no gap and no
duplicate (`realtime.catchup`); or, when it missed too much or too long ago, `reset`: it loads
its state again. `ready` and `reset` carry the id the stream goes on from.

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
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message, Send

from textbridge.api.deps import ReadDep, RuntimeDep
from textbridge.auth import session
from textbridge.models import ApiKey
from textbridge.realtime import catchup
from textbridge.realtime.bus import Batch, Event, Subscription
from textbridge.runtime import Runtime

router = APIRouter(tags=["events"])

PING_SECONDS = 15
ACCESS_CHECK_SECONDS = 3.0
START_SECONDS = 10.0  # PostgreSQL: how long a stream waits for the relay's first read

EVENT_ID = r"^[0-9]{0,18}$"
EventId = Annotated[str | None, Query(max_length=18, pattern=EVENT_ID)]
EventIdHeader = Annotated[
    str | None, Header(alias="last-event-id", max_length=18, pattern=EVENT_ID)
]


@router.get("/events", response_class=EventSourceResponse)
async def events(
    request: Request,
    runtime: RuntimeDep,
    key: ReadDep,
    last_event_id: EventId = None,
    last_event_id_header: EventIdHeader = None,
) -> EventSourceResponse:
    """`message.created`, `message.status` and `conversation.updated`, each with the same
    JSON as the matching GET, numbered by `id`. Send the last id seen (`Last-Event-ID`, or
    `?last_event_id=`) to get what was missed; `reset` says to refetch instead. The
    stream ends when its API key is revoked or its inbox session signed out."""
    try:
        async with asyncio.timeout(START_SECONDS):
            await runtime.bus.started()
    except TimeoutError:
        raise HTTPException(503, "live events are not available yet; try again") from None
    # The header wins: `EventSource` updates it on each reconnect, the URL stays as it was.
    resume = last_event_id_header or last_event_id or None
    access = _Access(request, runtime, key.id)
    stream = _stream(runtime, access, int(resume) if resume else None)
    return _LiveResponse(stream, ping=PING_SECONDS)


class _LiveResponse(EventSourceResponse):
    """sse-starlette's response, without a cancel scope around each send when there is no
    send timeout (ours): entering and leaving an anyio scope for every event on every stream
    was a sixth of the streams' CPU in a fan-out to 100 of them (py-spy, bench/realtime.py)."""

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)


Credentials = tuple[uuid.UUID, session.SessionClaims | None]


class _Grants:
    """Whether each stream's credentials still hold, looked up at most every few seconds per
    credentials, however many streams share them (a hundred inbox tabs on one key cost one
    look-up, not a hundred)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._checked: dict[Credentials, tuple[float, asyncio.Task[bool]]] = {}

    async def still_granted(self, credentials: Credentials) -> bool:
        now = time.monotonic()
        checked = self._checked.get(credentials)
        if checked is None or now >= checked[0]:
            self._forget_expired(now)
            task = asyncio.create_task(self._look_up(credentials))
            checked = (now + ACCESS_CHECK_SECONDS, task)
            self._checked[credentials] = checked
        return await asyncio.shield(checked[1])

    def _forget_expired(self, now: float) -> None:
        for credentials, (until, task) in list(self._checked.items()):
            if now >= until and task.done():
                del self._checked[credentials]

    async def _look_up(self, credentials: Credentials) -> bool:
        key_id, claims = credentials
        async with self._runtime.sessions() as db:
            if claims is not None:
                return await session.active(db, claims) is not None
            key = await db.get(ApiKey, key_id)
            return key is not None and key.revoked_at is None


class _Access:
    """One stream's credentials, checked through the process's `_Grants`."""

    def __init__(self, request: Request, runtime: Runtime, key_id: uuid.UUID) -> None:
        state = request.app.state
        if getattr(state, "stream_grants", None) is None:
            state.stream_grants = _Grants(runtime)
        self._grants: _Grants = state.stream_grants
        self._credentials: Credentials = (key_id, request.state.web_session)
        self._next_check = time.monotonic() + ACCESS_CHECK_SECONDS

    async def still_granted(self) -> bool:
        if time.monotonic() < self._next_check:
            return True
        self._next_check = time.monotonic() + ACCESS_CHECK_SECONDS
        return await self._grants.still_granted(self._credentials)


async def _stream(
    runtime: Runtime, access: _Access, resume: int | None
) -> AsyncIterator[ServerSentEvent | bytes]:
    async with runtime.bus.subscribe() as subscription:
        sent = subscription.start
        replay = None
        if resume is not None:
            replay = await catchup.plan(runtime.bus, runtime.sessions, resume, sent)
        if replay is None:
            yield ServerSentEvent(id=str(sent), event="ready", data="{}")
            if resume is not None:
                yield ServerSentEvent(id=str(sent), event="reset", data="{}")
        else:
            # Not `start`: a stream cut before the replay ends must resume where it was.
            yield ServerSentEvent(id=str(replay.after), event="ready", data="{}")
            async for event in catchup.replay(runtime.bus, runtime.sessions, replay):
                yield _shown(event)
            sent = max(replay.up_to, sent)
        while True:
            # A disconnect needs no check here: sse-starlette listens for it and cancels us.
            live = await _next(subscription)
            if live is None:
                return
            if not await access.still_granted():
                return
            if isinstance(live, Batch):
                wire = _shown_after(live, sent)
                if wire:
                    yield wire


def _shown(event: Event) -> bytes:
    """The event on the wire, encoded once for every stream it goes to."""
    wire: bytes | None = event.memo.get("sse")
    if wire is None:
        shown_id = str(event.id) if event.id else None  # 0: not in live_events
        wire = ServerSentEvent(id=shown_id, event=event.type, data=json.dumps(event.data)).encode()
        event.memo["sse"] = wire
    return wire


def _shown_after(batch: Batch, sent: int) -> bytes:
    """The batch's events after id `sent` (the replay showed those up to it), as one write:
    the whole batch's bytes, joined once for every stream, in the usual case."""
    if all(event.id == 0 or event.id > sent for event in batch.events):
        wire: bytes | None = batch.memo.get("sse")
        if wire is None:
            wire = batch.memo["sse"] = b"".join(_shown(event) for event in batch.events)
        return wire
    return b"".join(_shown(e) for e in batch.events if e.id == 0 or e.id > sent)


async def _next(subscription: Subscription) -> Batch | bool | None:
    """The next events; True when none came within the check interval; None when dropped."""
    try:
        async with asyncio.timeout(ACCESS_CHECK_SECONDS):
            return await subscription.queue.get()
    except TimeoutError:
        return True
