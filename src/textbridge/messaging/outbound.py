"""Accepting an outbound message: validate it, choose the sender, store it for the dispatcher.

Everything that can be refused is refused here, before anything is stored or sent: a bad
number, a channel no configured sender carries, content the chosen provider cannot carry,
a template with missing or extra parameters, free-form WhatsApp outside the window.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from asyncpg import UniqueViolationError  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from textbridge.compliance import consent
from textbridge.db.base import utcnow
from textbridge.db.driver import DISCONNECTS, Combined, DriverPool
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import priority, schedule
from textbridge.dispatch.quiet_hours import InvalidWindow, window_of
from textbridge.messaging import address, repository
from textbridge.messaging.content import (
    SENDER_CHANNEL,
    Content,
    attachment_columns,
    media_kind,
    to_payload,
)
from textbridge.messaging.encoding import analyze
from textbridge.messaging.errors import (
    IdempotencyConflict,
    MessagingError,
    NotReplyable,
    OutsideWhatsAppWindow,
)
from textbridge.messaging.phone import InvalidPhoneNumber, to_e164
from textbridge.messaging.repository import Announcement
from textbridge.messaging.schemas import ConversationOut, MediaOut, MessageOut
from textbridge.messaging.service import preview_of, preview_of_values, touch_committed
from textbridge.models import Attachment, Conversation, Message
from textbridge.providers.base import Location, Media, OutboundMessage, Provider, Template
from textbridge.whatsapp import registry, window
from textbridge.whatsapp.templates import TemplateError, normalize_values

# The strictest SMS limit of our providers (Plivo: 1600 GSM-7 / 737 UCS-2 characters).
MAX_SMS_CHARACTERS = {"GSM-7": 1600, "UCS-2": 737}


@dataclass(frozen=True, slots=True)
class MediaRequest:
    url: str
    caption: str | None = None
    filename: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateRequest:
    name: str
    language: str = "en_US"
    parameters: dict[str, str] | list[str] | None = None


@dataclass(frozen=True, slots=True)
class SendRequest:
    to: str
    text: str | None = None
    channel: str = "sms"
    from_: str | None = None
    provider: str | None = None
    media: tuple[MediaRequest, ...] = ()
    template: TemplateRequest | Template | None = None
    """A template by name and values, or one already resolved (a retry of a sent one)."""
    interactive: dict[str, Any] | None = None
    location: Location | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    send_at: datetime | None = None
    quiet_hours: str | None = None
    """The local hours it may reach the recipient ("08:00-21:00"), or None: any hour."""

    def fingerprint(self) -> str:
        """The stored `request_hash`: the same for the same request, in every version."""
        canonical = json.dumps(self._plain(), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _plain(self) -> dict[str, Any]:
        """`asdict(self)`. A plain text message (the API's common send) has nothing nested
        to convert: its fields as they are give the same JSON, without `asdict`'s deep copy
        (3% of a send's CPU in the profile)."""
        if self.media or self.template or self.interactive or self.location or self.extra:
            return asdict(self)
        return {name: getattr(self, name) for name in _SEND_REQUEST_FIELDS}


_SEND_REQUEST_FIELDS = tuple(item.name for item in fields(SendRequest))


async def send(
    uow: UnitOfWork,
    request: SendRequest,
    idempotency_key: str | None,
    providers: Mapping[str, Provider],
) -> Message:
    """Store an outbound message for the dispatcher (status `accepted`, or `scheduled` or
    `held` until it may leave: see `dispatch.schedule`). Caller commits.

    On PostgreSQL a unit of work that has run nothing yet runs in autocommit while the
    conversation exists: one read, then one statement that writes everything (see
    `repository.store_outbound`); a contact's first message takes a transaction."""
    await uow.autocommit()
    if idempotency_key is None:
        return await _accept(uow, request, None, providers)
    try:
        return await _accept(uow, request, idempotency_key, providers)
    except MessagingError:
        # A retry answers the stored message even where the request would be refused now
        # (the configuration changed); a stored message for another body is a conflict.
        existing = await _replay(uow, request, idempotency_key)
        if existing is None:
            raise
        return existing
    except IntegrityError:
        # A concurrent request with the same key got in first (on PostgreSQL both pass the
        # replay check; the loser's INSERT waits for the winner's commit, then fails). The
        # winner's message is the answer: the same one, or a conflict for another body.
        await uow.rollback()
        winner = await _replay(uow, request, idempotency_key)
        if winner is None:
            raise
        return winner


@dataclass(frozen=True, slots=True)
class Accepted:
    """A stored message as the API answers it: its id, and its `MessageOut` as JSON."""

    id: uuid.UUID
    json: str

    @classmethod
    def of(cls, out: MessageOut) -> Accepted:
        return cls(out.id, out.event_json())


async def send_direct(
    pool: DriverPool,
    request: SendRequest,
    idempotency_key: str | None,
    providers: Mapping[str, Provider],
) -> Accepted | None:
    """`send` for PostgreSQL's common case, on the driver (`db/driver.py`): an existing
    conversation, no message under the key yet, no template. One read and one write
    statement, each in autocommit. The stored message as the API shows it; None when it is
    not that case, or when the request is refused or loses an idempotency race: nothing was
    written, and `send` then gives the answer (the replay, the conflict or the refusal) as
    always.

    Why a second path: on the measured hot path, SQLAlchemy's checkout with pre-ping, the
    session and the adapter layer cost several times the statements themselves; and it
    builds no ORM object (the conversation and the message are their column values)."""
    if request.template is not None:
        return None  # a template is resolved through the session (`whatsapp.registry`)
    try:
        recipient = _recipient(request)
        _check_shape(request)
        _check_schedule(request)
        number, provider, providers_ = _sender_choice(request, providers)
    except MessagingError:
        return None
    channel = SENDER_CHANNEL[request.channel]
    read = (recipient.value, idempotency_key, channel, list(providers_), number, provider)
    row = await _direct_read(pool, recipient, read)
    if row is None or row[-1] is not None or row[-2]:
        # A contact's first message, a retry, or a recipient with consent records: `send`
        # decides those (its opt-out check reads the ledger).
        return None
    conversation = repository.conversation_values(row)
    try:
        sent, write = _direct_row(request, idempotency_key, recipient, conversation, providers)
        # Group commit with the concurrent sends (`driver.GroupWriter`): answered once the
        # batch holding this write is committed; a write refused alone fails alone.
        outcome = await pool.group_writer(repository.STORE_OUTBOUND_SQL, STORE_BATCH).execute(write)
    except (MessagingError, UniqueViolationError):
        return None
    if outcome == repository.REFUSED:
        return None  # erased since the read: `send` finds their opt-out and refuses (409)
    if outcome == repository.STORED:  # the conversation changed since the read
        await _announce_again_direct(pool, sent)  # see `repository._ANNOUNCE`
    return sent.answer


# A batch of sends in one statement (`repository.STORE_OUTBOUND_BATCH_SQL`).
STORE_BATCH = Combined(
    repository.STORE_OUTBOUND_BATCH_SQL,
    repository.store_outbound_batch_args,
    repository.conversation_of,
)


@dataclass(frozen=True, slots=True)
class _Sent:
    """A message written on the driver: its columns, as the API shows it (serialized once,
    for its `message.created` event and the answer), and its preview."""

    columns: dict[str, Any]
    answer: Accepted
    preview: str


async def _announce_again_direct(pool: DriverPool, sent: _Sent) -> None:
    """`repository.announce_again` on the driver."""
    conversation_id = sent.columns["conversation_id"]
    async with pool.connection() as connection:
        for _ in range(repository.ANNOUNCE_ATTEMPTS):
            row = await connection.fetchrow(repository.CONVERSATION_BY_ID_SQL, conversation_id)
            if row is None:
                return  # erased meanwhile: nothing to announce
            seen, events = _announcement_of_values(sent, repository.conversation_values(row))
            args = repository.announce_again_args(sent.columns, sent.preview, events, seen)
            if await connection.fetchval(repository.ANNOUNCE_AGAIN_SQL, *args):
                return
    raise RuntimeError(f"conversation {conversation_id} kept changing")


def _announcement(message: Message, conversation: Conversation) -> Announcement:
    """The live events of a new message, built from its conversation as read (the `seen_of`
    values, taken before the message is set as the conversation's last)."""
    seen = repository.seen_of(conversation)
    touch_committed(conversation, message)
    events = [
        ("message.created", MessageOut.of(message).event_data()),
        ("conversation.updated", ConversationOut.of(conversation).event_data()),
    ]
    return seen, events


def _announcement_of_values(
    sent: _Sent, conversation: Mapping[str, Any]
) -> tuple[Mapping[str, Any], str]:
    """`_announcement` for a conversation's `repository.conversation_values`, the events as
    `repository.live_events_json`'s text."""
    seen = repository.seen_of_values(conversation)
    created_at = sent.columns["created_at"]
    last = conversation["last_message_at"]
    if last is None or last <= created_at:  # a later message stays the last (`touch_committed`)
        conversation = {
            **conversation,
            "last_message_at": created_at,
            "last_message_preview": sent.preview,
        }
    events = [
        ("message.created", sent.answer.json),
        ("conversation.updated", ConversationOut.of_row(conversation).event_json()),
    ]
    return seen, repository.live_events_json_of(events)


async def _direct_read(
    pool: DriverPool, recipient: address.Address, read: tuple[Any, ...]
) -> Any | None:
    """`repository.CONVERSATION_FOR_SEND_SQL`'s row for `read` (its first six arguments)."""
    hashed = (await pool.address_hasher())(recipient.value)
    for attempt in range(2):
        async with pool.connection() as connection:
            try:
                return await connection.fetchrow(
                    repository.CONVERSATION_FOR_SEND_SQL, *read, hashed
                )
            except DISCONNECTS:
                # The connection died before this read, its first statement: nothing was
                # written, so once more on another (the pool replaces the dropped one).
                connection.terminate()
                await pool.expire()
                if attempt:
                    raise
    return None  # unreachable: the second attempt returns or raises


def _direct_row(
    request: SendRequest,
    idempotency_key: str | None,
    recipient: address.Address,
    conversation: Mapping[str, Any],
    providers: Mapping[str, Provider],
) -> tuple[_Sent, list[Any]]:
    """`_accept`'s checks and row for a conversation read on the driver (its
    `repository.conversation_values`), and the arguments of `repository.STORE_OUTBOUND_SQL`
    that store it (what `_store` writes)."""
    provider, sender_address = conversation["provider"], conversation["sender_address"]
    to = recipient.value
    _check_replyable(recipient, request.channel, provider)
    content = Content(request.text, _media(request), None, request.interactive, request.location)
    _check_window(request, content, conversation["last_inbound_at"])
    _check_provider(providers[provider], request, content, sender_address, to)
    leaving = _departure(request, to, conversation["contact_time_zone"])
    columns = _message_columns(
        request, content, conversation["id"], provider, sender_address, to, idempotency_key, leaving
    )
    attachments = _attachment_rows(columns, content)
    preview = preview_of_values(
        columns["body"],
        columns["payload"],
        lambda: [row["kind"] for row in attachments],
        columns["content_type"],
    )
    media = [MediaOut.model_validate(row) for row in attachments]
    sent = _Sent(columns, Accepted.of(MessageOut.of_row(columns, media)), preview)
    seen, events = _announcement_of_values(sent, conversation)
    write = repository.store_outbound_args(
        columns, attachments, _first_event(columns), preview, events, seen
    )
    return sent, write


async def _accept(
    uow: UnitOfWork,
    request: SendRequest,
    idempotency_key: str | None,
    providers: Mapping[str, Provider],
) -> Message:
    recipient = _recipient(request)
    _check_shape(request)
    _check_schedule(request)
    conversation = await _conversation(uow, request, recipient, providers, idempotency_key)
    if isinstance(conversation, Message):
        return conversation  # a retry: the message stored under its key
    sender = conversation.sender
    to = recipient.value
    content = await _content(uow, request)
    _check_window(request, content, conversation.last_inbound_at)
    _check_provider(providers[sender.provider], request, content, sender.address, to)
    leaving = _departure(request, to, conversation.contact.time_zone)
    columns = _message_columns(
        request,
        content,
        conversation.id,
        sender.provider,
        sender.address,
        to,
        idempotency_key,
        leaving,
    )
    message = Message(**columns)
    await consent.refuse_if_opted_out(uow.session, message)
    await _store(uow, message, content, conversation)
    return message


async def _store(
    uow: UnitOfWork, message: Message, content: Content, conversation: Conversation
) -> None:
    """Write the new message with its first event and the conversation's last message, in
    Core statements (one on PostgreSQL: see `repository.store_outbound`), then keep the
    objects in the session as if they had been loaded, so a caller can go on changing them."""
    columns = _columns_of(message)
    attachments = _attachment_rows(columns, content)
    message.attachments = [Attachment(**row) for row in attachments]
    seen, events = _announcement(message, conversation)
    durable = uow.durable_events
    preview = preview_of(message)
    outcome = await repository.store_outbound(
        uow.session,
        columns,
        attachments,
        _first_event(columns),
        preview,
        events if durable else (),
        seen,
    )
    if outcome == repository.REFUSED:
        # Erased since the read: an erasure leaves an opt-out of every sender.
        raise consent.refusal(message.from_address)
    if outcome == repository.STORED:  # changed since the read: see `repository._ANNOUNCE`
        await repository.announce_again(
            uow.session, columns, preview, functools.partial(_announcement, message)
        )
    if not durable:
        for event_type, data in events:
            uow.emit(event_type, data)
    for row in (message, *message.attachments):
        make_transient_to_detached(row)
    uow.session.add(message)


async def _replay(uow: UnitOfWork, request: SendRequest, key: str) -> Message | None:
    existing = await repository.message_by_idempotency_key(uow.session, key)
    if existing is not None and existing.request_hash != request.fingerprint():
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
        )
    return existing


def _recipient(request: SendRequest) -> address.Address:
    try:
        recipient = address.of_recipient(request.to, request.channel)
    except InvalidPhoneNumber as exc:
        raise MessagingError(str(exc), field="to") from None
    # Before the sender is chosen: refused whatever the sender (an alphanumeric sender ID).
    _check_replyable(recipient, request.channel, None)
    return recipient


def _check_replyable(recipient: address.Address, channel: str, provider: str | None) -> None:
    reason = address.refusal(recipient, channel, provider)
    if reason is not None:
        raise NotReplyable(reason, field="to", address_kind=recipient.kind)


def _phone(raw: str, field: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhoneNumber as exc:
        raise MessagingError(str(exc), field=field) from None


def _check_shape(request: SendRequest) -> None:
    """Which content goes with which channel, independent of the provider."""
    whatsapp_only = {
        "template": request.template,
        "interactive": request.interactive,
        "location": request.location,
    }
    for name, value in whatsapp_only.items():
        if value is not None and request.channel != "whatsapp":
            raise MessagingError(f"{name} can only be sent on WhatsApp", field=name)
    leading = [name for name, value in whatsapp_only.items() if value is not None]
    if len(leading) > 1:
        raise MessagingError(f"send one of {', '.join(leading)}, not several", field=leading[1])
    if leading and request.media:
        raise MessagingError(f"{leading[0]} cannot be combined with media", field="media")
    has_text = bool(request.text and request.text.strip())
    if request.channel == "sms" and request.media:
        raise MessagingError("SMS cannot carry media; use channel mms", field="media")
    if request.channel == "mms" and not request.media:
        raise MessagingError("an MMS needs at least one media item", field="media")
    if not (has_text or request.media or leading):
        raise MessagingError("text must not be empty", field="text")
    if request.channel == "sms" and request.text is not None:
        _check_sms_length(request.text)


def _check_schedule(request: SendRequest) -> None:
    if request.send_at is not None:
        try:
            schedule.check_send_at(request.send_at, utcnow())
        except schedule.InvalidSendAt as exc:
            raise MessagingError(str(exc), field="send_at") from None
    if request.quiet_hours is not None:
        try:
            window_of(request.quiet_hours)
        except InvalidWindow as exc:
            raise MessagingError(str(exc), field="quiet_hours") from None


def _departure(request: SendRequest, to: str, time_zone: str | None) -> schedule.Departure:
    window = window_of(request.quiet_hours) if request.quiet_hours else None
    return schedule.departure(
        utcnow(), to, send_at=request.send_at, window=window, time_zone=time_zone
    )


def _check_sms_length(text: str) -> None:
    encoding = analyze(text)
    limit = MAX_SMS_CHARACTERS[encoding.encoding]
    if encoding.characters > limit:
        raise MessagingError(
            f"an SMS in {encoding.encoding} holds at most {limit} characters; "
            f"this one has {encoding.characters}",
            field="text",
        )


async def _conversation(
    uow: UnitOfWork,
    request: SendRequest,
    recipient: address.Address,
    providers: Mapping[str, Provider],
    idempotency_key: str | None,
) -> Conversation | Message:
    """The conversation with the chosen sender (loaded with it and the contact), or the message
    already stored under the key. One round trip when the conversation exists, as it does for
    every message after a contact's first, whether a message is stored under the key or not."""
    channel = SENDER_CHANNEL[request.channel]
    sender_choice = _sender_choice(request, providers)
    found = await _first_read(uow, recipient.value, channel, sender_choice, idempotency_key)
    if found is None or found[1] is not None:
        # No conversation yet, or a retry: the stored message (or a conflict) comes first.
        existing = await _replay(uow, request, idempotency_key) if idempotency_key else None
        if existing is not None:
            return existing
    if found is not None:
        _check_replyable(recipient, request.channel, found[0].sender.provider)
        return found[0]
    await uow.transaction()  # the get-or-creates below need savepoints
    sender = await repository.find_sender(uow.session, channel, *sender_choice)
    if sender is None:
        raise MessagingError(_no_sender(request), field="from" if request.from_ else "channel")
    _check_replyable(recipient, request.channel, sender.provider)
    contact = await repository.get_or_create_contact(uow.session, recipient)
    return await repository.get_or_create_conversation(uow.session, contact, sender, sender.channel)


async def _first_read(
    uow: UnitOfWork,
    contact_address: str,
    channel: str,
    sender_choice: tuple[str | None, str | None, tuple[str, ...]],
    idempotency_key: str | None,
) -> tuple[Conversation, uuid.UUID | None] | None:
    try:
        return await repository.conversation_for_send(
            uow.session, contact_address, channel, sender_choice, idempotency_key
        )
    except DBAPIError as exc:
        if not (exc.connection_invalidated and uow.autocommitting):
            raise
    # The connection died between its pre-ping and this read (db/engine.py), the unit of
    # work's first statement: nothing was written, so once more, on a fresh connection
    # (SQLAlchemy has invalidated the pool's older ones).
    await uow.rollback()
    await uow.autocommit()
    return await repository.conversation_for_send(
        uow.session, contact_address, channel, sender_choice, idempotency_key
    )


def _sender_choice(
    request: SendRequest, providers: Mapping[str, Provider]
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """What `repository.find_sender` chooses among (number, provider, providers), after
    checking what the request names."""
    if request.provider is not None and request.provider not in providers:
        configured = ", ".join(sorted(providers)) or "none"
        raise MessagingError(
            f"provider {request.provider!r} is not configured (configured: {configured})",
            field="provider",
        )
    number = _phone(request.from_, "from") if request.from_ else None
    return number, request.provider, tuple(providers)


def _no_sender(request: SendRequest) -> str:
    where = f" with number {request.from_}" if request.from_ else ""
    via = f" on {request.provider}" if request.provider else ""
    return f"no {request.channel} sender{where}{via} is configured"


def _media(request: SendRequest) -> tuple[Media, ...]:
    return tuple(
        Media(
            url=item.url,
            kind=media_kind(item.mime_type, item.url),
            mime_type=item.mime_type,
            caption=item.caption,
            filename=item.filename,
        )
        for item in request.media
    )


async def _content(uow: UnitOfWork, request: SendRequest) -> Content:
    media = _media(request)
    template = None
    if isinstance(request.template, Template):
        template = request.template  # as it was resolved for the message being retried
    elif request.template is not None:
        values = normalize_values(request.template.parameters)
        try:
            template = await registry.resolve_for_sending(
                uow.session, request.template.name, request.template.language, values
            )
        except TemplateError as exc:
            raise MessagingError(str(exc), field=exc.field) from None
    return Content(request.text, media, template, request.interactive, request.location)


def _check_window(request: SendRequest, content: Content, last_inbound_at: datetime | None) -> None:
    """Free-form WhatsApp only within the window the conversation's last inbound opened."""
    if request.channel != "whatsapp" or content.template is not None:
        return
    if window.is_open(last_inbound_at, utcnow()):
        return
    closed_at = window.window_expires_at(last_inbound_at)
    since = (
        f"closed at {closed_at.isoformat()}"
        if closed_at
        else "has never been opened (the contact has not written to this number)"
    )
    raise OutsideWhatsAppWindow(
        f"the WhatsApp customer-care window {since}; outside it only an approved template "
        "can be sent",
        field="template",
        window_closed_at=closed_at.isoformat() if closed_at else None,
    )


def _check_provider(
    provider: Provider, request: SendRequest, content: Content, sender_address: str, to: str
) -> None:
    if request.channel not in provider.channels:
        raise MessagingError(f"{provider.name} does not carry {request.channel}", field="channel")
    problems = provider.check(_outbound(request, content, sender_address, to))
    if problems:
        first = problems[0]
        raise MessagingError(
            "; ".join(f"{p.field}: {p.message}" for p in problems),
            field=first.field,
            provider=provider.name,
        )


def _outbound(
    request: SendRequest, content: Content, sender_address: str, to: str
) -> OutboundMessage:
    return OutboundMessage(
        message_id="",
        channel=request.channel,  # type: ignore[arg-type]
        from_address=sender_address,
        to_address=to,
        text=content.text,
        status_callback_url="",
        media=content.media,
        template=content.template,
        interactive=content.interactive,
        location=content.location,
    )


def _first_event(message: Mapping[str, Any]) -> dict[str, Any]:
    """The event `record_internal` would store for a new message (same dedup key): `accepted`,
    or `scheduled` or `held`. The message is new, so the event cannot exist yet: it needs
    neither `record_internal`'s look-up nor its savepoint."""
    message_id, created_at = message["id"], message["created_at"]
    return {
        "id": uuid.uuid4(),
        "message_id": message_id,
        "dedup_key": f"textbridge:{message_id}:{message['status']}:0",
        "source": "textbridge",
        "provider_status": None,
        "status": message["status"],
        "applied": True,
        "error_code": None,
        "raw": None,
        "occurred_at": created_at,
        "received_at": created_at,
    }


def _attachment_rows(message: Mapping[str, Any], content: Content) -> list[dict[str, Any]]:
    """The rows of a new message's attachments (`message`: its columns)."""
    return [
        {
            **attachment_columns(item, position),
            "id": uuid.uuid4(),
            "message_id": message["id"],
            "local_path": None,
            "download_state": None,
            "download_error": None,
            "download_attempts": 0,
            "download_next_at": None,
            "created_at": message["created_at"],
        }
        for position, item in enumerate(content.media)
    ]


_MESSAGE_COLUMNS = tuple(column.key for column in Message.__table__.columns)


def _columns_of(message: Message) -> dict[str, Any]:
    return {name: getattr(message, name) for name in _MESSAGE_COLUMNS}


def _message_columns(
    request: SendRequest,
    content: Content,
    conversation_id: uuid.UUID,
    provider: str,
    sender_address: str,
    to: str,
    idempotency_key: str | None,
    leaving: schedule.Departure,
) -> dict[str, Any]:
    """Every column of the new message (none left to a default: the row is written by Core
    and the object then stands for a loaded one), from its conversation's sender."""
    outbound = _outbound(request, content, sender_address, to)
    encoding = analyze(content.text) if request.channel == "sms" and content.text else None
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "direction": "outbound",
        "channel": request.channel,
        "provider": provider,
        "provider_message_id": None,
        "from_address": sender_address,
        "to_address": to,
        "body": content.text,
        "content_type": outbound.content_type,
        "payload": to_payload(content),
        "status": leaving.status,
        "error_code": None,
        "error_message": None,
        "encoding": encoding.encoding if encoding else None,
        "segments": encoding.segments if encoding else None,
        "price": None,
        "attempts": 0,
        "rate_limited": 0,
        "priority": priority.CONVERSATION,
        "next_attempt_at": leaving.leaves_at,
        "lease_expires_at": None,
        "send_at": request.send_at,
        "quiet_hours": str(window_of(request.quiet_hours)) if request.quiet_hours else None,
        "idempotency_key": idempotency_key,
        "request_hash": request.fingerprint(),
        "campaign_id": None,
        "created_at": now,
        "updated_at": now,
    }
