"""The messaging domain: apply inbound messages and status updates; status changes.

Services work inside a `UnitOfWork`: they flush and emit live events; the caller commits.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import structlog

from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import address, repository, status, storable
from textbridge.messaging.content import SENDER_CHANNEL, attachments_of
from textbridge.messaging.encoding import analyze
from textbridge.messaging.schemas import ConversationOut, MessageOut
from textbridge.models import Conversation, Message, MessageEvent
from textbridge.providers.base import InboundMessage, StatusUpdate

log = structlog.get_logger(__name__)

PREVIEW_LENGTH = 120


def _preview(message: Message) -> str:
    if message.body:
        return message.body
    template = (message.payload or {}).get("template")
    if template:
        return f"[template {template['name']}]"
    kinds = [attachment.kind for attachment in message.attachments]
    return f"[{', '.join(kinds)}]" if kinds else f"[{message.content_type}]"


def touch(conversation: Conversation, message: Message, *, inbound: bool) -> None:
    conversation.last_message_at = message.created_at
    conversation.last_message_preview = _preview(message)[:PREVIEW_LENGTH]
    if inbound:
        conversation.last_inbound_at = message.created_at
        conversation.unread_count += 1


async def record_internal(uow: UnitOfWork, message: Message, new_status: str) -> None:
    await uow.session.flush()
    event = MessageEvent(
        message_id=message.id,
        dedup_key=f"textbridge:{message.id}:{new_status}:{message.attempts}",
        source="textbridge",
        status=new_status,
        error_code=message.error_code,
        occurred_at=utcnow(),
    )
    await repository.add_event_once(uow.session, event)


async def set_status(uow: UnitOfWork, message: Message, new_status: str, **changes: Any) -> None:
    """A status change made by textbridge itself (dispatch), kept in the history like any."""
    message.status = new_status
    for name, value in changes.items():
        setattr(message, name, value)
    await record_internal(uow, message, new_status)
    uow.emit("message.status", MessageOut.of(message).event_data())


async def apply_inbound(uow: UnitOfWork, inbound: InboundMessage) -> Message:
    """Store a message a contact sent us. Applying the same message twice stores it once.

    Raises `WebhookPayloadError` when it cannot be stored (see `storable`)."""
    session = uow.session
    inbound = storable.inbound(inbound)
    existing = await repository.message_by_provider_id(
        session, inbound.provider, inbound.provider_message_id
    )
    if existing is not None:
        return existing
    sender_address = address.of_sender(inbound.from_address, inbound.channel)
    contact = await repository.get_or_create_contact(session, sender_address)
    if contact.name is None and inbound.profile_name:
        contact.name = inbound.profile_name
    channel = SENDER_CHANNEL[inbound.channel]
    sender = await repository.get_or_create_sender(
        session, inbound.provider, channel, inbound.to_address
    )
    conversation = await repository.get_or_create_conversation(session, contact, sender, channel)
    message = _inbound_message(inbound, conversation)
    session.add(message)
    previous = conversation.last_inbound_at
    touch(conversation, message, inbound=True)
    conversation.last_inbound_at = _latest(previous, _sent_at(inbound, message))
    await session.flush()
    uow.emit("message.created", MessageOut.of(message).event_data())
    uow.emit("conversation.updated", ConversationOut.of(conversation).event_data())
    return message


def _sent_at(inbound: InboundMessage, message: Message) -> datetime:
    """The contact's own time if the provider gave it (never in the future), else when we
    received it."""
    if inbound.sent_at is None:
        return message.created_at
    return min(inbound.sent_at, message.created_at)


def _latest(previous: datetime | None, sent_at: datetime) -> datetime:
    """A late webhook for an older message never moves the window back."""
    return sent_at if previous is None else max(previous, sent_at)


def _inbound_message(inbound: InboundMessage, conversation: Conversation) -> Message:
    sms = inbound.channel == "sms"
    encoding = analyze(inbound.text) if sms else None
    payload: dict[str, Any] = {}
    if inbound.reply_id is not None:
        payload["reply_id"] = inbound.reply_id
    if inbound.location is not None:
        payload["location"] = asdict(inbound.location)
    return Message(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        direction="inbound",
        channel=inbound.channel,
        provider=inbound.provider,
        provider_message_id=inbound.provider_message_id,
        from_address=inbound.from_address,
        to_address=inbound.to_address,
        body=inbound.text,
        content_type=inbound.content_type,
        payload=payload or None,
        attachments=attachments_of(inbound.media),
        status=status.RECEIVED,
        encoding=encoding.encoding if encoding else None,
        segments=(inbound.segments or encoding.segments) if encoding else inbound.segments,
        created_at=utcnow(),
    )


class UnknownMessage(LookupError):
    """A status update for a message we do not (yet) know: the send may not be recorded yet."""


async def apply_status(uow: UnitOfWork, update: StatusUpdate, our_status: str | None) -> bool:
    """Record a provider status event; move the message forward if it ranks higher.

    Returns True when the message's status changed. Raises UnknownMessage when no message has
    this provider id, `WebhookPayloadError` when the update cannot be stored.
    """
    update = storable.status(update)
    message = await _message_of(uow, update)
    if message is None:
        raise UnknownMessage(update.provider_message_id)
    if our_status is None:
        log.warning(
            "unknown provider status kept",
            provider=update.provider,
            provider_status=update.provider_status,
        )
    applies = our_status is not None and status.advances(message.status, our_status)
    event = _provider_event(message, update, our_status or message.status, applies)
    if not await repository.add_event_once(uow.session, event):
        return False
    if applies and our_status is not None:
        _apply(message, update, our_status)
        uow.emit("message.status", MessageOut.of(message).event_data())
    return applies


async def _message_of(uow: UnitOfWork, update: StatusUpdate) -> Message | None:
    # Locked: the dispatcher may be recording this message's send at the same moment.
    found = await repository.message_by_provider_id(
        uow.session, update.provider, update.provider_message_id, lock=True
    )
    if found is not None or update.client_ref is None:
        return found
    try:
        reference = uuid.UUID(update.client_ref)
    except ValueError:
        return None
    message = await uow.session.get(Message, reference, with_for_update=True)
    if message is None or message.provider != update.provider or message.direction != "outbound":
        return None
    if message.provider_message_id not in (None, update.provider_message_id):
        return None  # the reference names a message that another send settled
    # The callback came before our record of the send (or the send's outcome was unknown).
    message.provider_message_id = update.provider_message_id
    return message


def _provider_event(
    message: Message, update: StatusUpdate, our_status: str, applies: bool
) -> MessageEvent:
    return MessageEvent(
        message_id=message.id,
        dedup_key=update.dedup_key,
        source=update.provider,
        provider_status=update.provider_status,
        status=our_status,
        applied=applies,
        error_code=update.error_code,
        raw=dict(update.raw),
        occurred_at=update.occurred_at,
    )


def _apply(message: Message, update: StatusUpdate, our_status: str) -> None:
    message.status = our_status
    message.updated_at = utcnow()
    if our_status in status.FAILURES:
        message.error_code = update.error_code
        message.error_message = update.error_description
    elif our_status in (status.DELIVERED, status.READ):
        message.error_code = None
    if update.price:
        message.price = update.price
