from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from textbridge.api.deps import ReadDep, RuntimeDep, SendDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.api.schemas import PreviewIn, PreviewOut, SendMessageIn
from textbridge.messaging import outbound, repository
from textbridge.messaging.encoding import analyze
from textbridge.messaging.schemas import MessageDetailOut, MessageOut
from textbridge.models import Message
from textbridge.providers.base import Location

router = APIRouter(prefix="/messages", tags=["messages"])


@router.post("", status_code=202, response_model=MessageOut)
async def send_message(
    body: SendMessageIn,
    response: Response,
    uow: UowDep,
    runtime: RuntimeDep,
    api_key: SendDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> MessageOut:
    """Store a message and answer at once; the dispatcher sends it. Retries with the same
    `Idempotency-Key` and body return the same message."""
    scoped_key = f"{api_key.id}:{idempotency_key}" if idempotency_key else None
    request = _send_request(body, runtime.settings.quiet_hours)
    message = await outbound.send(uow, request, scoped_key, runtime.providers)
    await uow.commit()
    runtime.dispatcher.wake()
    response.headers["Location"] = f"/api/v1/messages/{message.id}"
    return MessageOut.of(message)


def _send_request(body: SendMessageIn, default_quiet_hours: str) -> outbound.SendRequest:
    template = body.template
    location = body.location
    return outbound.SendRequest(
        to=body.to,
        text=body.text,
        channel=body.channel,
        from_=body.from_,
        provider=body.provider,
        media=tuple(
            outbound.MediaRequest(str(m.url), m.caption, m.filename, m.mime_type)
            for m in body.media_list()
        ),
        template=outbound.TemplateRequest(template.name, template.language, template.parameters)
        if template
        else None,
        interactive=body.interactive.model_dump(exclude_none=True) if body.interactive else None,
        location=Location(**location.model_dump()) if location else None,
        send_at=body.send_at,
        quiet_hours=body.quiet_hours_window(default_quiet_hours),
    )


@router.post("/preview", response_model=PreviewOut)
async def preview(body: PreviewIn, _: ReadDep) -> PreviewOut:
    """Encoding, segments and the characters that forced UCS-2, before sending."""
    info = analyze(body.text)
    return PreviewOut(
        encoding=info.encoding,
        segments=info.segments,
        characters=info.characters,
        units=info.units,
        ucs2_characters=list(info.ucs2_characters),
    )


@router.get("/{message_id}", response_model=MessageDetailOut)
async def get_message(message_id: uuid.UUID, uow: UowDep, _: ReadDep) -> MessageDetailOut:
    message = await uow.session.get(Message, message_id)
    if message is None:
        raise ApiError(404, "not_found", f"no message {message_id}", "message_id")
    events = await repository.events_of(uow.session, message_id)
    return MessageDetailOut.with_history(message, list(events))
