"""Retry a failed message: its content sent again as a new message.

The inbox's Retry button and an application's own retry use it alike. The content is copied
from the stored message, so a template goes again as it was resolved, with its values, and a
location or interactive message goes again as it was; the new message passes every check a
send passes (consent, the WhatsApp window, the sender). The failed message keeps its history."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from textbridge.api.deps import RuntimeDep, SendDep
from textbridge.api.errors import ApiError
from textbridge.api.messages import IdempotencyKey, scoped_key
from textbridge.messaging import outbound
from textbridge.messaging.schemas import MessageOut
from textbridge.messaging.status import FAILURES
from textbridge.models import Message
from textbridge.providers.base import Location, Template

router = APIRouter(prefix="/messages", tags=["messages"])


@router.post("/{message_id}/retry", status_code=202, response_model=MessageOut)
async def retry_message(
    message_id: uuid.UUID,
    response: Response,
    runtime: RuntimeDep,
    caller: SendDep,
    idempotency_key: IdempotencyKey = None,
) -> MessageOut:
    """Send a `failed`, `rejected` or `undelivered` outbound message's content again, as a
    new message, from the same sender. Retries with the same `Idempotency-Key` return the same
    new message."""
    async with runtime.unit_of_work() as uow:
        failed = await uow.session.get(Message, message_id)
        request = retry_request(_retryable(failed, message_id))
        key = scoped_key(caller, idempotency_key)
        message = await outbound.send(uow, request, key, runtime.providers)
        await uow.commit()
    runtime.dispatcher.wake()
    response.headers["Location"] = f"/api/v1/messages/{message.id}"
    return MessageOut.of(message)


def _retryable(message: Message | None, message_id: uuid.UUID) -> Message:
    if message is None or message.direction != "outbound":
        raise ApiError(404, "not_found", f"no outbound message {message_id}", "message_id")
    if message.status not in FAILURES:
        reason = f"only a failed message is retried; this one is {message.status}"
        raise ApiError(409, "not_failed", reason, "message_id")
    if _content_gone(message):
        reason = "its content was purged (retention or erasure): send it anew"
        raise ApiError(409, "content_gone", reason, "message_id")
    return message


def _content_gone(message: Message) -> bool:
    """Retention and erasure clear the body, the payload and the attachments' URLs."""
    has_media = any(item.url for item in message.attachments)
    return not (message.body or message.payload or has_media)


def retry_request(message: Message) -> outbound.SendRequest:
    payload = message.payload or {}
    template = payload.get("template")
    location = payload.get("location")
    return outbound.SendRequest(
        to=message.to_address,
        text=message.body,
        channel=message.channel,
        from_=message.from_address,
        provider=message.provider,
        media=tuple(
            outbound.MediaRequest(item.url, item.caption, item.filename, item.mime_type)
            for item in message.attachments
        ),
        template=_template(template) if template else None,
        interactive=payload.get("interactive"),
        location=Location(**location) if location else None,
        quiet_hours=message.quiet_hours,
    )


def _template(stored: dict[str, object]) -> Template:
    components = stored.get("components") or ()
    return Template(
        name=str(stored["name"]),
        language=str(stored["language"]),
        components=tuple(components),  # type: ignore[arg-type]
    )
