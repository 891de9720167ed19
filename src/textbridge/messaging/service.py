"""The messaging domain: accept outbound messages, apply inbound messages and status updates.

Services work inside a `UnitOfWork`: they flush and emit live events; the caller commits.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import structlog

from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import repository, status
from textbridge.messaging.encoding import EncodingInfo, analyze
from textbridge.messaging.phone import InvalidPhoneNumber, to_e164
from textbridge.messaging.schemas import ConversationOut, MessageOut
from textbridge.models import Conversation, Message, MessageEvent
from textbridge.providers.base import InboundMessage, StatusUpdate

log = structlog.get_logger(__name__)

PREVIEW_LENGTH = 120
# The strictest provider limit (Plivo: 1600 GSM-7 / 737 UCS-2 characters per message).
MAX_SMS_CHARACTERS = {"GSM-7": 1600, "UCS-2": 737}


class MessagingError(Exception):
    """A request the messaging domain refuses; `field` names the input at fault, if any."""

    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IdempotencyConflict(MessagingError):
    code = "idempotency_key_reused"


@dataclass(frozen=True, slots=True)
class SendRequest:
    to: str
    text: str
    channel: str = "sms"
    from_: str | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps(
            {"to": self.to, "text": self.text, "channel": self.channel, "from": self.from_},
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


async def send(uow: UnitOfWork, request: SendRequest, idempotency_key: str | None) -> Message:
    """Store an outbound message for the dispatcher (status `accepted`). Caller commits."""
    if idempotency_key is not None:
        existing = await _replay(uow, request, idempotency_key)
        if existing is not None:
            return existing
    to = _phone(request.to, "to")
    sender = await repository.find_sender(
        uow.session, request.channel, _phone(request.from_, "from") if request.from_ else None
    )
    if sender is None:
        where = f" with number {request.from_}" if request.from_ else ""
        raise MessagingError(f"no {request.channel} sender{where} is configured", field="from")
    if not request.text.strip():
        raise MessagingError("text must not be empty", field="text")
    encoding = analyze(request.text)
    _check_length(encoding)
    contact = await repository.get_or_create_contact(uow.session, to)
    conversation = await repository.get_or_create_conversation(
        uow.session, contact, sender, request.channel
    )
    message = Message(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        direction="outbound",
        channel=request.channel,
        provider=sender.provider,
        from_address=sender.address,
        to_address=to,
        body=request.text,
        status=status.ACCEPTED,
        encoding=encoding.encoding,
        segments=encoding.segments,
        next_attempt_at=utcnow(),
        idempotency_key=idempotency_key,
        request_hash=request.fingerprint(),
    )
    uow.session.add(message)
    await _record_internal(uow, message, status.ACCEPTED)
    _touch(conversation, message, inbound=False)
    await uow.session.flush()
    uow.emit("message.created", MessageOut.of(message).event_data())
    uow.emit("conversation.updated", ConversationOut.of(conversation).event_data())
    return message


async def _replay(uow: UnitOfWork, request: SendRequest, key: str) -> Message | None:
    existing = await repository.message_by_idempotency_key(uow.session, key)
    if existing is not None and existing.request_hash != request.fingerprint():
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
        )
    return existing


def _check_length(encoding: EncodingInfo) -> None:
    limit = MAX_SMS_CHARACTERS[encoding.encoding]
    if encoding.characters > limit:
        raise MessagingError(
            f"an SMS in {encoding.encoding} holds at most {limit} characters; "
            f"this one has {encoding.characters}",
            field="text",
        )


def _phone(raw: str, field: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhoneNumber as exc:
        raise MessagingError(str(exc), field=field) from None


def _touch(conversation: Conversation, message: Message, *, inbound: bool) -> None:
    conversation.last_message_at = message.created_at
    conversation.last_message_preview = (message.body or "")[:PREVIEW_LENGTH]
    if inbound:
        conversation.last_inbound_at = message.created_at
        conversation.unread_count += 1


async def _record_internal(uow: UnitOfWork, message: Message, new_status: str) -> None:
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
    await _record_internal(uow, message, new_status)
    uow.emit("message.status", MessageOut.of(message).event_data())


async def apply_inbound(uow: UnitOfWork, inbound: InboundMessage) -> Message:
    """Store a message a contact sent us. Applying the same message twice stores it once."""
    session = uow.session
    existing = await repository.message_by_provider_id(
        session, inbound.provider, inbound.provider_message_id
    )
    if existing is not None:
        return existing
    contact = await repository.get_or_create_contact(session, inbound.from_address)
    sender = await repository.get_or_create_sender(
        session, inbound.provider, inbound.channel, inbound.to_address
    )
    conversation = await repository.get_or_create_conversation(
        session, contact, sender, inbound.channel
    )
    encoding = analyze(inbound.text)
    message = Message(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        direction="inbound",
        channel=inbound.channel,
        provider=inbound.provider,
        provider_message_id=inbound.provider_message_id,
        from_address=inbound.from_address,
        to_address=inbound.to_address,
        body=inbound.text,
        status=status.RECEIVED,
        encoding=encoding.encoding,
        segments=inbound.segments or encoding.segments,
        created_at=utcnow(),
    )
    session.add(message)
    _touch(conversation, message, inbound=True)
    await session.flush()
    uow.emit("message.created", MessageOut.of(message).event_data())
    uow.emit("conversation.updated", ConversationOut.of(conversation).event_data())
    return message


class UnknownMessage(LookupError):
    """A status update for a message we do not (yet) know: the send may not be recorded yet."""


async def apply_status(uow: UnitOfWork, update: StatusUpdate, our_status: str | None) -> bool:
    """Record a provider status event; move the message forward if it ranks higher.

    Returns True when the message's status changed. Raises UnknownMessage when no message has
    this provider id.
    """
    message = await repository.message_by_provider_id(
        uow.session, update.provider, update.provider_message_id
    )
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
