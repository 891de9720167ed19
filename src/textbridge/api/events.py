"""Server-sent events: every committed change, live (sse-starlette does the wire format)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from textbridge.api.deps import ApiKeyDep, RuntimeDep

router = APIRouter(tags=["events"])

PING_SECONDS = 15


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request, runtime: RuntimeDep, _: ApiKeyDep) -> EventSourceResponse:
    """`message.created`, `message.status` and `conversation.updated`, each with the same
    JSON as the matching GET. After a reconnect, refetch: events are not replayed."""
    return EventSourceResponse(_stream(request, runtime), ping=PING_SECONDS)


async def _stream(request: Request, runtime: RuntimeDep) -> AsyncIterator[ServerSentEvent]:
    async with runtime.bus.subscribe() as subscription:
        yield ServerSentEvent(event="ready", data="{}")
        async for event in subscription:
            if await request.is_disconnected():
                return
            yield ServerSentEvent(id=str(event.id), event=event.type, data=json.dumps(event.data))
