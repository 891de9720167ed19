"""The messaging domain: apply inbound messages and status updates; status changes.

Services work inside a `UnitOfWork`: they flush and emit live events; the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import structlog
from sqlalchemy.orm.attributes import set_committed_value

from textbridge.compliance import consent
from textbridge.compliance import inbound as keyword_inbound
from textbridge.compliance.person import PSEUDONYM_PREFIX
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import address, repository, status, storable
from textbridge.messaging.content import SENDER_CHANNEL, attachment_columns, attachments_of
from textbridge.messaging.encoding import analyze
from textbridge.messaging.schemas import ConversationOut, MessageOut
from textbridge.models import Contact, Conversation, Message, MessageEvent
from textbridge.providers.base import InboundMessage, StatusUpdate

log = structlog.get_logger(__name__)

PREVIEW_LENGTH = 120


def preview_of(message: Message) -> str:
    return preview_of_values(
        message.body,
        message.payload,
        lambda: [attachment.kind for attachment in message.attachments],
        message.content_type,
    )


def preview_of_values(
    body: str | None,
    payload: dict[str, Any] | None,
    kinds: Callable[[], Sequence[str]],
    content_type: str,
) -> str:
    """`preview_of` from a message's column values; `kinds` gives its attachments' kinds,
    asked for only when the preview shows them (the API send path builds no ORM object)."""
    if body:
        return body[:PREVIEW_LENGTH]
    template = (payload or {}).get("template")
    if template:
        preview = f"[template {template['name']}]"
    else:
        shown = kinds()
        preview = f"[{', '.join(shown)}]" if shown else f"[{content_type}]"
    return preview[:PREVIEW_LENGTH]


def touch_committed(conversation: Conversation, message: Message) -> None:
    """`touch` for an outbound message whose conversation row is updated by a Core statement
    (`repository.store_outbound`): the object shows the new values without being dirty. A
    later message already recorded stays the last one, as the statement keeps it."""
    last = conversation.last_message_at
    if last is not None and last > message.created_at:
        return
    set_committed_value(conversation, "last_message_at", message.created_at)
    set_committed_value(conversation, "last_message_preview", preview_of(message))


def touch(conversation: Conversation, message: Message, *, inbound: bool) -> None:
    conversation.last_message_at = message.created_at
    conversation.last_message_preview = preview_of(message)
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
    channel = SENDER_CHANNEL[inbound.channel]
    sender = await repository.get_or_create_sender(
        session, inbound.provider, channel, inbound.to_address
    )
    for _ in range(repository.PERSON_LOOKUPS):
        contact = await repository.get_or_create_contact(session, sender_address)
        conversation = await repository.get_or_create_conversation(
            session, contact, sender, channel
        )
        held = {sender_address.value: contact.id}
        if await repository.lock_people(session, held, [conversation.id]):
            break
    else:
        raise RuntimeError("the sender's contact kept being erased")
    if contact.name is None and inbound.profile_name:
        contact.name = inbound.profile_name
    message = _inbound_message(inbound, conversation)
    session.add(message)
    previous = conversation.last_inbound_at
    touch(conversation, message, inbound=True)
    conversation.last_inbound_at = _latest(previous, _sent_at(inbound, message))
    await session.flush()
    await keyword_inbound.on_inbound(
        uow, [keyword_inbound.Arrival(inbound, message.id, conversation)]
    )
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
    return Message(
        **_inbound_columns(inbound, conversation), attachments=attachments_of(inbound.media)
    )


def _inbound_columns(inbound: InboundMessage, conversation: Conversation) -> dict[str, Any]:
    sms = inbound.channel == "sms"
    encoding = analyze(inbound.text) if sms else None
    payload: dict[str, Any] = {}
    if inbound.reply_id is not None:
        payload["reply_id"] = inbound.reply_id
    if inbound.location is not None:
        payload["location"] = asdict(inbound.location)
    return dict(
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
        await consent.note_provider_opt_outs(uow.session, [message])
        uow.emit("message.status", MessageOut.of(message).event_data())
    return applies


def _reference(update: StatusUpdate) -> uuid.UUID | None:
    if update.client_ref is None:
        return None
    try:
        return uuid.UUID(update.client_ref)
    except ValueError:
        return None


def _adoptable(message: Message | None, update: StatusUpdate) -> bool:
    """Whether the message that `client_ref` names may take this callback's provider id."""
    if message is None or message.provider != update.provider or message.direction != "outbound":
        return False
    # Not when another send settled it with another id.
    return message.provider_message_id in (None, update.provider_message_id)


async def _message_of(uow: UnitOfWork, update: StatusUpdate) -> Message | None:
    # Locked: the dispatcher may be recording this message's send at the same moment.
    found = await repository.message_by_provider_id(
        uow.session, update.provider, update.provider_message_id, lock=True
    )
    reference = _reference(update)
    if found is not None or reference is None:
        return found
    message = await uow.session.get(Message, reference, with_for_update=True)
    if message is None or not _adoptable(message, update):
        return None
    # The callback came before our record of the send (or the send's outcome was unknown).
    message.provider_message_id = update.provider_message_id
    return message


def _provider_event(
    message: Message, update: StatusUpdate, our_status: str, applies: bool
) -> MessageEvent:
    return MessageEvent(**_provider_event_row(message, update, our_status, applies))


def _provider_event_row(
    message: Message, update: StatusUpdate, our_status: str, applies: bool
) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "dedup_key": update.dedup_key,
        "source": update.provider,
        "provider_status": update.provider_status,
        "status": our_status,
        "applied": applies,
        "error_code": update.error_code,
        # A report that comes after its person was erased: their number is in the payload.
        "raw": None if _erased(message) else dict(update.raw),
        "occurred_at": update.occurred_at,
    }


def _erased(message: Message) -> bool:
    return any(
        (value or "").startswith(PSEUDONYM_PREFIX)
        for value in (message.to_address, message.from_address)
    )


def _apply(message: Message, update: StatusUpdate, our_status: str) -> None:
    message.status = our_status
    message.updated_at = utcnow()
    if our_status in status.FAILURES:
        message.error_code = update.error_code
        message.error_message = update.error_description
    elif our_status in (status.DELIVERED, status.READ):
        message.error_code = None
        message.delivered_at = message.delivered_at or _delivered_at(message, update)
    if update.price:
        message.price = update.price


def _delivered_at(message: Message, update: StatusUpdate) -> datetime:
    """The provider's time of the report, unless its clock puts it before the message was
    made (then ours): a time to delivered is never negative."""
    now = utcnow()
    reported = update.occurred_at
    if reported is None or reported.tzinfo is None:
        return now
    if reported > now or reported < message.created_at:
        return now
    return reported


# ---------------------------------------------------------------------------- in bulk


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A status update and our status for it (None: a provider status we do not know)."""

    update: StatusUpdate
    our_status: str | None


BulkEvent = InboundMessage | ProviderStatus


@dataclass
class _Batch:
    """What `apply_in_bulk` looked up for a whole batch, and what it decided so far."""

    errors: list[Exception | None]
    outbound: dict[repository.ProviderId, Message] = field(default_factory=dict)
    referenced: dict[uuid.UUID, Message] = field(default_factory=dict)
    event_keys: set[str] = field(default_factory=set)
    inbound_seen: set[repository.ProviderId] = field(default_factory=set)
    conversations: dict[tuple[str, str, str], Conversation] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    new_messages: list[dict[str, Any]] = field(default_factory=list)
    new_attachments: list[dict[str, Any]] = field(default_factory=list)
    emits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # One `conversation.updated` per conversation and batch, with its state after the batch:
    # the events leave together at commit, so the ones before would be stale at once.
    touched: dict[uuid.UUID, Conversation] = field(default_factory=dict)
    arrivals: list[keyword_inbound.Arrival] = field(default_factory=list)  # for keywords


async def apply_in_bulk(
    uow: UnitOfWork, entries: Sequence[Sequence[BulkEvent]]
) -> list[Exception | None]:
    """Apply the events of many journal entries, in order, with a few queries for all of them
    and one flush: what `apply_inbound` and `apply_status` do one event at a time.

    Returns, per entry, None when it was applied, or the error that those would have raised
    for it (`WebhookPayloadError`, `UnknownMessage`, an invalid address): such an entry has
    none of its events applied, and the others are applied all the same. Any other exception
    (the database's) escapes: the caller then applies the batch entry by entry."""
    entries, errors = _storable(entries)
    batch = _Batch(errors)
    # People first (contacts, then their conversations), then the messages of the statuses:
    # an erasure locks its person's contact before their messages, so the other order could
    # deadlock with it on a batch holding both a reply and a receipt of the same person.
    await _load_inbound(uow, entries, batch)
    await _load_outbound(uow, entries, batch)
    for index, events in enumerate(entries):
        if batch.errors[index] is None:
            for event in events:
                if isinstance(event, InboundMessage):
                    _add_inbound(uow, event, batch)
                else:
                    _add_status(event, batch)
    await uow.session.flush()
    await repository.add_messages(uow.session, batch.new_messages, batch.new_attachments)
    await repository.add_events(uow.session, batch.events)
    await keyword_inbound.on_inbound(uow, batch.arrivals)
    await consent.note_provider_opt_outs(uow.session, batch.outbound.values())
    for event_type, data in batch.emits:
        uow.emit(event_type, data)
    for conversation in batch.touched.values():
        uow.emit("conversation.updated", ConversationOut.of(conversation).event_data())
    return batch.errors


def _storable(
    entries: Sequence[Sequence[BulkEvent]],
) -> tuple[list[list[BulkEvent]], list[Exception | None]]:
    stored: list[list[BulkEvent]] = []
    errors: list[Exception | None] = []
    for events in entries:
        try:
            stored.append([_storable_event(event) for event in events])
            errors.append(None)
        except Exception as exc:  # the entry's own fault: it fails alone
            stored.append([])
            errors.append(exc)
    return stored, errors


def _storable_event(event: BulkEvent) -> BulkEvent:
    if isinstance(event, InboundMessage):
        inbound = storable.inbound(event)
        address.of_sender(inbound.from_address, inbound.channel)  # raises if it is not one
        return inbound
    return ProviderStatus(storable.status(event.update), event.our_status)


async def _load_outbound(uow: UnitOfWork, entries: list[list[BulkEvent]], batch: _Batch) -> None:
    """Lock the messages the statuses are about (by provider id, else by `ref`), mark the
    entries with a status for an unknown message, and load the event keys already stored."""
    updates = [
        (index, event.update)
        for index, events in enumerate(entries)
        for event in events
        if isinstance(event, ProviderStatus)
    ]
    keys = {(u.provider, u.provider_message_id) for _, u in updates}
    batch.outbound = await repository.messages_by_provider_ids(uow.session, keys)
    references = {
        reference
        for _, update in updates
        if (update.provider, update.provider_message_id) not in batch.outbound
        and (reference := _reference(update)) is not None
    }
    batch.referenced = await repository.messages_by_ids(uow.session, references)
    # Found first, then locked all at once in id order (and read again): locking the two sets
    # one after the other could take two rows in the opposite order to the dispatcher's record.
    found = {m.id for m in batch.outbound.values()} | set(batch.referenced)
    await repository.lock_messages(uow.session, found)
    for index, update in updates:
        if batch.errors[index] is None and _outbound_of(update, batch, adopt=False) is None:
            batch.errors[index] = UnknownMessage(update.provider_message_id)
    batch.event_keys = await repository.existing_event_keys(
        uow.session, {update.dedup_key for index, update in updates if batch.errors[index] is None}
    )


def _outbound_of(update: StatusUpdate, batch: _Batch, *, adopt: bool) -> Message | None:
    """The message of a status, as `_message_of` finds it, from what the batch loaded."""
    key = (update.provider, update.provider_message_id)
    found = batch.outbound.get(key)
    reference = _reference(update)
    if found is not None or reference is None:
        return found
    message = batch.referenced.get(reference)
    if message is None or not _adoptable(message, update):
        return None
    if adopt:
        message.provider_message_id = update.provider_message_id
        batch.outbound[key] = message
    return message


def _add_status(event: ProviderStatus, batch: _Batch) -> None:
    update, our_status = event.update, event.our_status
    message = _outbound_of(update, batch, adopt=True)
    assert message is not None  # entries with an unknown message were set aside
    if our_status is None:
        log.warning(
            "unknown provider status kept",
            provider=update.provider,
            provider_status=update.provider_status,
        )
    if update.dedup_key in batch.event_keys:
        return
    batch.event_keys.add(update.dedup_key)
    applies = our_status is not None and status.advances(message.status, our_status)
    batch.events.append(_provider_event_row(message, update, our_status or message.status, applies))
    if applies and our_status is not None:
        _apply(message, update, our_status)
        batch.emits.append(("message.status", MessageOut.of(message).event_data()))


async def _load_inbound(uow: UnitOfWork, entries: list[list[BulkEvent]], batch: _Batch) -> None:
    """The messages already stored, and the contacts, senders and conversations of the
    others, created where new."""
    inbound = [
        event
        for index, events in enumerate(entries)
        if batch.errors[index] is None
        for event in events
        if isinstance(event, InboundMessage)
    ]
    if not inbound:
        return
    keys = {(m.provider, m.provider_message_id) for m in inbound}
    people = {m.from_address: address.of_sender(m.from_address, m.channel) for m in inbound}
    held: dict[str, Contact] | None = None
    seen: set[repository.ProviderId] | None = None
    if uow.session.get_bind().dialect.name == "postgresql":
        # The stored ids ride in the statement that finds and holds the contacts (of every
        # inbound message: which are new is not known yet); the new ones' missing contacts
        # are created below, as before.
        held, seen = await repository.held_contacts_and_stored(uow.session, people.values(), keys)
    if seen is None:
        seen = await repository.stored_provider_ids(uow.session, keys)
    batch.inbound_seen = seen
    new = [m for m in inbound if (m.provider, m.provider_message_id) not in batch.inbound_seen]
    senders_of = {m.from_address: people[m.from_address] for m in new}
    # Each found and locked by one statement (contacts, then their conversations: the order
    # of every writer of a person's rows), as committed when the lock was granted.
    contacts = await repository.held_contacts(uow.session, senders_of.values(), held)
    wanted = {
        _conversation_key(m): (
            contacts[senders_of[m.from_address].value].id,
            _sender_key(m),
            SENDER_CHANNEL[m.channel],
        )
        for m in new
    }
    found = await _held_conversations(uow, set(wanted.values()))
    batch.conversations = {key: found[ids] for key, ids in wanted.items()}
    batch.contacts = {raw: contacts[sender.value] for raw, sender in senders_of.items()}


async def _held_conversations(
    uow: UnitOfWork, keys: set[repository.ConversationBySender]
) -> dict[repository.ConversationBySender, Conversation]:
    """The conversations, locked; the missing ones (and their senders) created."""
    found = await repository.held_existing_conversations(uow.session, keys)
    missing = keys - found.keys()
    if missing:
        senders = await repository.senders_by_key(uow.session, {key for _, key, _ in missing})
        by_ids = {(c, senders[key].id, channel): (c, key, channel) for c, key, channel in missing}
        created = await repository.held_conversations(uow.session, set(by_ids))
        found |= {by_ids[ids]: conversation for ids, conversation in created.items()}
    return found


def _sender_key(inbound: InboundMessage) -> repository.SenderKey:
    return inbound.provider, SENDER_CHANNEL[inbound.channel], inbound.to_address


def _conversation_key(inbound: InboundMessage) -> tuple[str, str, str]:
    return inbound.provider, inbound.channel, f"{inbound.from_address}\0{inbound.to_address}"


def _add_inbound(uow: UnitOfWork, inbound: InboundMessage, batch: _Batch) -> None:
    key = (inbound.provider, inbound.provider_message_id)
    if key in batch.inbound_seen:
        return  # applied before (or earlier in this batch): stored once
    batch.inbound_seen.add(key)
    contact = batch.contacts[inbound.from_address]
    if contact.name is None and inbound.profile_name:
        contact.name = inbound.profile_name
    conversation = batch.conversations[_conversation_key(inbound)]
    columns = _inbound_columns(inbound, conversation)
    columns["updated_at"] = columns["created_at"]  # as the live event says
    media = [
        {**attachment_columns(item, index), "id": uuid.uuid4(), "message_id": columns["id"]}
        for index, item in enumerate(inbound.media)
    ]
    batch.new_messages.append(columns)
    batch.new_attachments.extend(media)
    batch.arrivals.append(keyword_inbound.Arrival(inbound, columns["id"], conversation))
    # A stand-in with the attributes `touch` and `MessageOut` read: building ORM instances
    # (and flushing them one by one) took a third of the applier's time.
    message = cast(Message, _Row(**_NEW_MESSAGE_DEFAULTS, **columns, attachments=_rows(media)))
    previous = conversation.last_inbound_at
    touch(conversation, message, inbound=True)
    conversation.last_inbound_at = _latest(previous, _sent_at(inbound, message))
    batch.emits.append(("message.created", MessageOut.of(message).event_data()))
    batch.touched[conversation.id] = conversation


_Row = SimpleNamespace
_NEW_MESSAGE_DEFAULTS: dict[str, Any] = {
    "error_code": None,
    "error_message": None,
    "price": None,
    "attempts": 0,
    "send_at": None,
    "quiet_hours": None,
    "next_attempt_at": None,
}
_NEW_ATTACHMENT_DEFAULTS: dict[str, Any] = {"download_state": None, "download_error": None}


def _rows(media: list[dict[str, Any]]) -> list[SimpleNamespace]:
    return [_Row(**_NEW_ATTACHMENT_DEFAULTS, **item) for item in media]
