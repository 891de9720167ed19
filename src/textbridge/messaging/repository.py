"""All SQL of the messaging domain."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    TextClause,
    and_,
    bindparam,
    false,
    func,
    insert,
    null,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.sql.dml import Insert

from textbridge.messaging.address import Address
from textbridge.messaging.schemas import MEDIA_COLUMNS, MESSAGE_COLUMNS, MediaOut, MessageOut
from textbridge.models import Attachment, Contact, Conversation, Message, MessageEvent, Sender

_Row = TypeVar("_Row", Contact, Sender, Conversation)

ProviderId = tuple[str, str]
"""(provider, provider message id)"""
SenderKey = tuple[str, str, str]
"""(provider, channel, address)"""
ConversationKey = tuple[uuid.UUID, uuid.UUID, str]
"""(contact id, sender id, channel)"""


async def get_or_create_contact(session: AsyncSession, address: Address) -> Contact:
    query = select(Contact).where(Contact.address == address.value)
    found = await session.scalar(query)
    if found is not None:
        return found
    contact = Contact(address=address.value, address_kind=address.kind, country=address.country)
    return await _insert_or_fetch(session, contact, query)


async def get_or_create_sender(
    session: AsyncSession, provider: str, channel: str, address: str
) -> Sender:
    query = select(Sender).where(
        Sender.provider == provider, Sender.channel == channel, Sender.address == address
    )
    found = await session.scalar(query)
    if found is not None:
        return found
    return await _insert_or_fetch(
        session, Sender(provider=provider, channel=channel, address=address), query
    )


async def get_or_create_conversation(
    session: AsyncSession, contact: Contact, sender: Sender, channel: str
) -> Conversation:
    query = select(Conversation).where(
        Conversation.contact_id == contact.id,
        Conversation.sender_id == sender.id,
        Conversation.channel == channel,
    )
    found = await session.scalar(query)
    if found is not None:
        return found
    conversation = Conversation(contact=contact, sender=sender, channel=channel)
    return await _insert_or_fetch(session, conversation, query)


async def _insert_or_fetch(session: AsyncSession, row: _Row, query: Select[_Row]) -> _Row:
    # Two requests may create the same contact at once: the loser of the unique constraint
    # rolls back its savepoint and reads the winner's row.
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = await session.scalar(query)
        if found is None:
            raise
        return found
    return row


async def find_sender(
    session: AsyncSession,
    channel: str,
    address: str | None,
    provider: str | None,
    providers: tuple[str, ...],
) -> Sender | None:
    """The sender for a channel, optionally a given number and provider, among `providers`."""
    return await session.scalar(sender_query(channel, address, provider, providers))


def sender_query(
    channel: str, address: str | None, provider: str | None, providers: tuple[str, ...]
) -> Select[Sender]:
    """The query `find_sender` runs (the first matching sender)."""
    query = select(Sender).where(Sender.channel == channel, Sender.provider.in_(providers))
    if address is not None:
        query = query.where(Sender.address == address)
    if provider is not None:
        query = query.where(Sender.provider == provider)
    order = (Sender.created_at, Sender.provider, Sender.address)
    return query.order_by(*order).limit(1)


async def conversation_for_send(
    session: AsyncSession,
    contact_address: str,
    channel: str,
    sender: tuple[str | None, str | None, tuple[str, ...]],
    idempotency_key: str | None = None,
) -> tuple[Conversation, uuid.UUID | None] | None:
    """The conversation between a contact and the sender `find_sender` chooses for `channel`
    and `sender` (number, provider, providers), with both loaded, and the id of the message
    already stored under `idempotency_key` if any: one round trip. None when the sender, the
    contact or the conversation is missing."""
    query = _conversation_for_send(channel, *sender, idempotency_key is not None)
    params = {"contact_address": contact_address}
    if idempotency_key is not None:
        params["idempotency_key"] = idempotency_key
    row = (await session.execute(query, params)).first()
    return None if row is None else (row[0], row[1])


@functools.lru_cache(maxsize=64)
def _conversation_for_send(
    channel: str,
    address: str | None,
    provider: str | None,
    providers: tuple[str, ...],
    with_key: bool,
) -> Select[Conversation, uuid.UUID | None]:
    # Built once per sender choice and reused: building a statement and its cache key cost
    # more CPU than running it. The values are bound parameters.
    senders = sender_query(channel, address, provider, providers)
    chosen = senders.with_only_columns(Sender.id).scalar_subquery()
    key = bindparam("idempotency_key", type_=Message.idempotency_key.type)
    stored = (
        select(Message.id).where(Message.idempotency_key == key).scalar_subquery()
        if with_key
        else null()
    )
    return (
        select(Conversation, stored)
        .join(Conversation.contact)
        .options(contains_eager(Conversation.contact))
        .where(
            Contact.address == bindparam("contact_address", type_=Contact.address.type),
            Conversation.channel == channel,
            Conversation.sender_id == chosen,
        )
    )


async def message_by_idempotency_key(session: AsyncSession, key: str) -> Message | None:
    return await session.scalar(select(Message).where(Message.idempotency_key == key))


async def message_by_provider_id(
    session: AsyncSession, provider: str, provider_message_id: str, *, lock: bool = False
) -> Message | None:
    query = select(Message).where(
        Message.provider == provider, Message.provider_message_id == provider_message_id
    )
    return await session.scalar(query.with_for_update() if lock else query)


async def add_event_once(session: AsyncSession, event: MessageEvent) -> bool:
    """Store an event unless one with its dedup key exists; True when stored."""
    exists = await session.scalar(
        select(MessageEvent.id).where(MessageEvent.dedup_key == event.dedup_key)
    )
    if exists is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return False
    return True


async def events_of(session: AsyncSession, message_id: uuid.UUID) -> Sequence[MessageEvent]:
    result = await session.scalars(
        select(MessageEvent)
        .where(MessageEvent.message_id == message_id)
        .order_by(MessageEvent.received_at, MessageEvent.id)
    )
    return result.all()


async def messages_of(
    session: AsyncSession, conversation_id: uuid.UUID, limit: int, before: datetime | None
) -> Sequence[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before is not None:
        query = query.where(Message.created_at < before)
    query = query.order_by(Message.created_at.desc(), Message.id).limit(limit)
    return list(reversed((await session.scalars(query)).all()))


# ---------------------------------------------------------------------------- in bulk
# The journal applier's batch path: one query per kind of row for a whole batch, and
# get-or-create as INSERT ... ON CONFLICT DO NOTHING then SELECT, so that two appliers
# creating the same contact at once both end up with the one row, without a savepoint.


async def messages_by_provider_ids(
    session: AsyncSession, keys: Collection[ProviderId]
) -> dict[ProviderId, Message]:
    if not keys:
        return {}
    found = await session.scalars(select(Message).where(_by_provider_ids(keys)))
    return {(m.provider, m.provider_message_id or ""): m for m in found}


async def stored_provider_ids(
    session: AsyncSession, keys: Collection[ProviderId]
) -> set[ProviderId]:
    """Which of these (provider, provider message id) a message already has."""
    if not keys:
        return set()
    query, params = _one_provider(_STORED_PROVIDER_IDS, keys)
    if query is None:
        query = select(Message.provider, Message.provider_message_id).where(_by_provider_ids(keys))
    rows = await session.execute(query, params)
    return {(provider, message_id or "") for provider, message_id in rows}


async def messages_by_ids(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Message]:
    if not ids:
        return {}
    found = await session.scalars(select(Message).where(Message.id.in_(ids)))
    return {message.id: message for message in found}


async def lock_messages(session: AsyncSession, ids: Collection[uuid.UUID]) -> None:
    """Lock these messages in id order (the order every writer of several messages uses) and
    refresh the loaded objects with what is committed now."""
    if ids:
        query = select(Message).where(Message.id.in_(ids)).order_by(Message.id)
        locked = query.with_for_update().execution_options(populate_existing=True)
        await session.scalars(locked)


async def lock_people(
    session: AsyncSession,
    contacts: Mapping[str, uuid.UUID],
    conversations: Collection[uuid.UUID],
) -> bool:
    """Before an inbound message is written: hold its contacts (KEY SHARE, in id order) and
    lock its conversations (FOR UPDATE, in id order, read again), so that the counters
    (`unread_count`, `last_inbound_at`) are changed on the committed row: two appliers, or a
    mark-read, wait for each other instead of losing an increment. The order is every
    writer's: contacts, then conversations (a send's write, an erasure, a mark-read).

    `contacts` maps each address to the id of the contact found for it. False when one of
    them no longer has that address: erased meanwhile (the erasure held it, and this waited),
    so the caller looks the address up again, as a new contact."""
    if not contacts:
        return True
    held = await session.execute(
        select(Contact.id, Contact.address)
        .where(Contact.id.in_(contacts.values()))
        .order_by(Contact.id)
        .with_for_update(read=True, key_share=True)
    )
    if {address: contact for contact, address in held} != dict(contacts):
        return False
    locked = (
        select(Conversation)
        .where(Conversation.id.in_(conversations))
        .order_by(Conversation.id)
        .with_for_update(of=Conversation)  # not the eagerly joined contact and sender
        .execution_options(populate_existing=True)
    )
    await session.scalars(locked)
    return True


PERSON_LOOKUPS = 5
"""Tries at finding an inbound's contact that stays put (`lock_people`): each miss is an
erasure that committed meanwhile."""


async def existing_event_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    if not keys:
        return set()
    found = await session.scalars(
        select(MessageEvent.dedup_key).where(MessageEvent.dedup_key.in_(keys))
    )
    return set(found)


async def add_events(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert event rows; one whose dedup key is already there is left out."""
    if rows:
        await session.execute(_insert_ignoring(session, MessageEvent, ["dedup_key"]), rows)


async def add_messages(
    session: AsyncSession,
    messages: Sequence[Mapping[str, Any]],
    attachments: Sequence[Mapping[str, Any]],
) -> None:
    """Insert new messages and their attachments (rows with the same columns each)."""
    if messages:
        await session.execute(insert(Message.__table__), messages)  # type: ignore[arg-type]
    if attachments:
        await session.execute(insert(Attachment.__table__), attachments)  # type: ignore[arg-type]


async def held_contacts(
    session: AsyncSession, addresses: Iterable[Address], held: Mapping[str, Contact] | None = None
) -> dict[str, Contact]:
    """The contact of each address, created if new, held `FOR KEY SHARE` (in id order) by
    the very statement that finds it: what `lock_people` does for contacts, without a second
    round trip. A contact that an erasure held is read once the erasure has committed, and
    READ COMMITTED checks the address again on the committed row: the pseudonym no longer
    matches, so the address is new and gets a new contact, as after `lock_people`'s miss.
    `held`: the contacts that a statement of the same transaction already found and held,
    for a superset of these addresses (the ones it did not find are missing)."""
    wanted = {address.value: address for address in addresses}
    if held is None:
        found = await _contacts(session, wanted)
    else:  # already found and held, by `held_contacts_and_stored`
        found = {value: contact for value, contact in held.items() if value in wanted}
    missing = [wanted[value] for value in wanted if value not in found]
    if missing:
        rows = [{"address": a.value, "address_kind": a.kind, "country": a.country} for a in missing]
        await session.execute(_insert_ignoring(session, Contact, ["address"]), rows)
        found |= await _contacts(session, {a.value: a for a in missing})
    return found


async def held_contacts_and_stored(
    session: AsyncSession, addresses: Iterable[Address], keys: Collection[ProviderId]
) -> tuple[dict[str, Contact], set[ProviderId] | None]:
    """PostgreSQL: the contacts of these addresses that exist, held as `_contacts` holds
    them, and `stored_provider_ids(keys)`, in one statement (one round trip fewer for an
    inbound message): the stored ids ride in every contact row. The stored ids are None
    when no contact was found (no row carried them): the caller then asks for them itself.
    Nothing is created here: which contacts are missing for the new messages is for the
    caller to say (`held_contacts`), once it knows which messages are new."""
    wanted = {address.value for address in addresses}
    query, params = _one_provider(_HELD_CONTACTS_AND_STORED, keys)
    if query is None:
        query = _held_contacts_and_stored(_by_provider_ids(keys))
    rows = (await session.execute(query, {**params, "addresses": list(wanted)})).all()
    if not rows:
        return {}, None
    pairs = rows[0][1] or []
    found = {contact.address: contact for contact, _ in rows}
    return found, {(provider, message_id or "") for provider, message_id in pairs}


async def _contacts(session: AsyncSession, wanted: Collection[str]) -> dict[str, Contact]:
    if not wanted:
        return {}
    found = await session.scalars(_HELD_CONTACTS, {"addresses": list(wanted)})
    return {contact.address: contact for contact in found}


# The applier's statements are built once, with bound parameters: SQLAlchemy then computes
# each one's cache key once (it is memoized on the statement), not on every execution.
# Built per call, the cache keys and the building were a quarter of a `serve`'s CPU while
# it applied inbound messages one at a time (py-spy, bench/realtime.py).
_HELD_CONTACTS = (
    select(Contact)
    .where(Contact.address.in_(bindparam("addresses", expanding=True)))
    .order_by(Contact.id)
    .with_for_update(read=True, key_share=True)
    .execution_options(populate_existing=True)
)


def _held_contacts_and_stored(stored_where: ColumnElement[bool]) -> Select[Any]:
    pair = func.json_build_array(Message.provider, Message.provider_message_id)
    stored = select(func.json_agg(pair, type_=postgresql.JSON)).where(stored_where)
    return (
        select(Contact, stored.scalar_subquery())
        .where(Contact.address.in_(bindparam("addresses", expanding=True)))
        .order_by(Contact.id)
        .with_for_update(of=Contact, read=True, key_share=True)
        .execution_options(populate_existing=True)
    )


_OF_ONE_PROVIDER = and_(
    Message.provider == bindparam("provider"),
    Message.provider_message_id.in_(bindparam("provider_ids", expanding=True)),
)
_STORED_PROVIDER_IDS = select(Message.provider, Message.provider_message_id).where(_OF_ONE_PROVIDER)
_HELD_CONTACTS_AND_STORED = _held_contacts_and_stored(_OF_ONE_PROVIDER)

_Prebuilt = TypeVar("_Prebuilt")


def _one_provider(
    prebuilt: _Prebuilt, keys: Collection[ProviderId]
) -> tuple[_Prebuilt | None, dict[str, Any]]:
    """`prebuilt` and its parameters when every key is of one provider (the usual batch),
    else None (the caller builds the statement for several)."""
    providers = {provider for provider, _ in keys}
    if len(providers) != 1:
        return None, {}
    (provider,) = providers
    return prebuilt, {"provider": provider, "provider_ids": [key for _, key in keys]}


async def senders_by_key(
    session: AsyncSession, keys: Collection[SenderKey]
) -> dict[SenderKey, Sender]:
    """The sender of each (provider, channel, address), created if new."""
    found = await _senders(session, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        rows = [{"provider": p, "channel": c, "address": a} for p, c, a in missing]
        await session.execute(
            _insert_ignoring(session, Sender, ["provider", "channel", "address"]), rows
        )
        found |= await _senders(session, missing)
    return found


async def _senders(session: AsyncSession, keys: Collection[SenderKey]) -> dict[SenderKey, Sender]:
    if not keys:
        return {}
    columns = (Sender.provider, Sender.channel, Sender.address)
    found = await session.scalars(select(Sender).where(_in(columns, keys)))
    return {(s.provider, s.channel, s.address): s for s in found}


async def held_conversations(
    session: AsyncSession, keys: Collection[ConversationKey]
) -> dict[ConversationKey, Conversation]:
    """The conversation of each (contact, sender, channel), created if new, locked `FOR
    UPDATE` (in id order) and read as committed by the statement that finds it (after the
    contacts: `held_contacts`), so that `touch` adds to the committed counters."""
    found = await _conversations(session, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        rows = [{"contact_id": c, "sender_id": s, "channel": ch} for c, s, ch in missing]
        unique = ["contact_id", "sender_id", "channel"]
        await session.execute(_insert_ignoring(session, Conversation, unique), rows)
        found |= await _conversations(session, missing)
    return found


async def _conversations(
    session: AsyncSession, keys: Collection[ConversationKey]
) -> dict[ConversationKey, Conversation]:
    if not keys:
        return {}
    columns = (Conversation.contact_id, Conversation.sender_id, Conversation.channel)
    query = (
        select(Conversation)
        .where(_in(columns, keys))
        .order_by(Conversation.id)
        .with_for_update(of=Conversation)  # not the eagerly joined contact and sender
        .execution_options(populate_existing=True)
    )
    found = await session.scalars(query)
    return {(c.contact_id, c.sender_id, c.channel): c for c in found}


ConversationBySender = tuple[uuid.UUID, SenderKey, str]
"""(contact id, the sender's (provider, channel, address), channel)"""


async def held_existing_conversations(
    session: AsyncSession, keys: Collection[ConversationBySender]
) -> dict[ConversationBySender, Conversation]:
    """`held_conversations` for those of these conversations that exist, found by their
    sender's number instead of its id: when they all exist, the senders need no read of their
    own (the statement joins them)."""
    if not keys:
        return {}
    wanted = [(contact, *sender, channel) for contact, sender, channel in keys]
    found = await session.scalars(_HELD_EXISTING_CONVERSATIONS, {"keys": wanted})
    return {(c.contact_id, _sender_key(c.sender), c.channel): c for c in found}


_HELD_EXISTING_CONVERSATIONS = (
    select(Conversation)
    .join(Conversation.sender)
    .options(contains_eager(Conversation.sender))
    .where(
        tuple_(
            Conversation.contact_id,
            Sender.provider,
            Sender.channel,
            Sender.address,
            Conversation.channel,
        ).in_(bindparam("keys", expanding=True))
    )
    .order_by(Conversation.id)
    .with_for_update(of=Conversation)
    .execution_options(populate_existing=True)
)


def _sender_key(sender: Sender) -> SenderKey:
    return sender.provider, sender.channel, sender.address


def _by_provider_ids(keys: Collection[ProviderId]) -> ColumnElement[bool]:
    by_provider: dict[str, list[str]] = {}
    for provider, message_id in keys:
        by_provider.setdefault(provider, []).append(message_id)
    return or_(
        false(),
        *(
            and_(Message.provider == provider, Message.provider_message_id.in_(ids))
            for provider, ids in by_provider.items()
        ),
    )


def _in(columns: tuple[Any, ...], keys: Collection[tuple[Any, ...]]) -> ColumnElement[bool]:
    # Row values (`(a, b) IN ((..), (..))`): PostgreSQL and SQLite >= 3.15 both have them.
    return tuple_(*columns).in_(list(keys))


def _insert_ignoring(session: AsyncSession, model: type[Any], unique: list[str]) -> Insert:
    table: Table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)


# ---------------------------------------------------------------------------- the send path
# A new outbound message is written with Core statements, not the unit-of-work flush: on
# PostgreSQL one data-modifying CTE stores the message, its attachments, its first event, the
# conversation's last message and the live events (one round trip instead of five); on SQLite
# the same writes are separate statements of the same transaction.

# The conversation's update and the live events, shared by `_STORE_OUTBOUND` and
# `_ANNOUNCE_AGAIN`. The live events were built in Python from the conversation as read
# before the write, with no lock: the UPDATE matches only while the values they show are
# still there (`Seen`), and a later message stays the last one. Under READ COMMITTED, an
# UPDATE that waited for a concurrent change re-checks its WHERE on the new row, so when it
# matches, the event is what the row is once committed. When it matches nothing, neither is
# written and the statement says so (`STORED`, or 0 for `_ANNOUNCE_AGAIN`): the caller reads
# again and runs `_ANNOUNCE_AGAIN` (rare: a reply, a mark-read or a rename in between).
_ANNOUNCE = """conversation AS (
        UPDATE conversations
        SET last_message_at = GREATEST(conversations.last_message_at,
                                       CAST(:created_at AS timestamptz)),
            last_message_preview = CASE
                WHEN conversations.last_message_at > CAST(:created_at AS timestamptz)
                THEN conversations.last_message_preview
                ELSE CAST(:preview AS varchar) END
        {_FROM}
        WHERE conversations.id = CAST(:conversation_id AS uuid)
          AND conversations.unread_count = CAST(:seen_unread_count AS integer)
          AND conversations.last_inbound_at
              IS NOT DISTINCT FROM CAST(:seen_last_inbound_at AS timestamptz)
          AND conversations.last_message_at
              IS NOT DISTINCT FROM CAST(:seen_last_message_at AS timestamptz)
          AND EXISTS (
              SELECT 1 FROM contacts
              WHERE contacts.id = conversations.contact_id
                AND contacts.address = CAST(:seen_contact_address AS varchar)
                AND contacts.name IS NOT DISTINCT FROM CAST(:seen_contact_name AS varchar)
          )
        RETURNING conversations.id
    ), live AS (
        -- After the conversation's row lock (the rows come from the UPDATE): live event ids
        -- follow commit order for one conversation, as `realtime/relay.py` requires.
        INSERT INTO live_events (type, data, created_at)
        SELECT e.event ->> 'type', e.event -> 'data', now()
        FROM conversation,
             jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(event, n)
        ORDER BY e.n
        RETURNING id
    )
    SELECT {_OUTCOME}"""

_SEEN_TIMES = (
    bindparam("seen_last_inbound_at", type_=Conversation.last_inbound_at.type),
    bindparam("seen_last_message_at", type_=Conversation.last_message_at.type),
)
# The columns of a new message, its attachments and its first event, shared by
# `_STORE_OUTBOUND` and `STORE_OUTBOUND_BATCH_SQL`: each inserts from its own `message` CTE
# (the messages it wrote), the one send's values as parameters, the batch's from `input`.
_MESSAGE_INSERTED = (
    "id, conversation_id, direction, channel, provider, from_address, to_address, body, "
    "content_type, payload, status, encoding, segments, attempts, rate_limited, priority, "
    "next_attempt_at, send_at, quiet_hours, idempotency_key, request_hash, created_at, "
    "updated_at"
)
_ATTACHMENT_INSERTED = (
    "id, message_id, position, url, kind, mime_type, size, caption, filename, "
    "download_attempts, created_at"
)
_ATTACHMENT_SELECTED = (
    "a.id, message.id, a.position, a.url, a.kind, a.mime_type, a.size, a.caption, a.filename, "
    "0, a.created_at"
)
# The attachments come as one JSON array of these records (`_json_row`).
_ATTACHMENT_RECORD = (
    "id uuid, position integer, url text, kind text, mime_type text, size integer, "
    "caption text, filename text, created_at timestamptz"
)
_EVENT_INSERTED = "id, message_id, dedup_key, source, status, applied, occurred_at, received_at"


def _message_values(value: str) -> str:
    """`_MESSAGE_INSERTED`'s values: `value` formatted with each column's name (the payload
    comes as JSON text)."""
    return ", ".join(
        f"CAST({value.format(name)} AS jsonb)" if name == "payload" else value.format(name)
        for name in _MESSAGE_INSERTED.split(", ")
    )


def _event_values(value: str) -> str:
    """`_EVENT_INSERTED`'s values (`outbound._first_event`'s row): `value` formatted with the
    name and type of each of the send's own values."""
    event_id, dedup_key, status, created_at = (
        value.format(name, kind)
        for name, kind in (
            ("event_id", "uuid"),
            ("dedup_key", "varchar"),
            ("status", "varchar"),
            ("created_at", "timestamptz"),
        )
    )
    return (
        f"{event_id}, message.id, {dedup_key}, 'textbridge', {status}, true, "
        f"{created_at}, {created_at}"
    )


# The person's row, held for the statement's transaction (KEY SHARE: concurrent sends and a
# rename go on; an erasure, which locks its person's contacts FOR UPDATE before anything
# else, waits for it, or it for the erasure). Under READ COMMITTED a lock that waited is
# taken on the row as committed and the WHERE checked again: an erasure changed the address
# to a pseudonym, so nothing is written (`REFUSED`). Either the send commits before the
# erasure reads the messages, and is erased with them, or it stores nothing.
_STORE_ANNOUNCE = _ANNOUNCE.replace("{_FROM}", "FROM message").replace(
    "{_OUTCOME}", "(SELECT count(*) FROM message) + (SELECT count(*) FROM conversation)"
)
_STORE_OUTBOUND = text(
    f"""
    WITH person AS (
        SELECT k.id FROM contacts k JOIN conversations c ON c.contact_id = k.id
        WHERE c.id = :conversation_id AND k.address = CAST(:seen_contact_address AS varchar)
        FOR KEY SHARE OF k
    ), message AS (
        INSERT INTO messages ({_MESSAGE_INSERTED})
        SELECT {_message_values(":{}")}
        FROM person
        RETURNING id
    ), attachment AS (
        INSERT INTO attachments ({_ATTACHMENT_INSERTED})
        SELECT {_ATTACHMENT_SELECTED}
        FROM message, jsonb_to_recordset(CAST(:attachments AS jsonb)) AS a({_ATTACHMENT_RECORD})
    ), event AS (
        INSERT INTO message_events ({_EVENT_INSERTED})
        SELECT {_event_values("CAST(:{} AS {})")}
        FROM message
    ), {_STORE_ANNOUNCE}
    """  # noqa: S608 (our own SQL text, no value formatted in)
).bindparams(
    bindparam("created_at", type_=Message.created_at.type),
    bindparam("updated_at", type_=Message.updated_at.type),
    bindparam("next_attempt_at", type_=Message.next_attempt_at.type),
    bindparam("send_at", type_=Message.send_at.type),
    *_SEEN_TIMES,
)
_ANNOUNCE_AGAIN = text(
    "WITH "  # noqa: S608 (our own SQL text, no value formatted in)
    + _ANNOUNCE.replace("{_FROM}", "").replace("{_OUTCOME}", "(SELECT count(*) FROM conversation)")
).bindparams(bindparam("created_at", type_=Message.created_at.type), *_SEEN_TIMES)


REFUSED, STORED, ANNOUNCED = 0, 1, 2
"""What `_STORE_OUTBOUND` answers: nothing written (the person was erased meanwhile); the
message written but not the conversation's update and live events (it changed since the
read: `announce_again`); everything written."""


def seen_of(conversation: Conversation) -> dict[str, Any]:
    """What a send's `conversation.updated` shows that others change (a reply, a mark-read, a
    rename), as read: the write goes through only while they are unchanged (`_ANNOUNCE`)."""
    return {
        "seen_unread_count": conversation.unread_count,
        "seen_last_inbound_at": conversation.last_inbound_at,
        "seen_last_message_at": conversation.last_message_at,
        "seen_contact_address": conversation.contact.address,
        "seen_contact_name": conversation.contact.name,
    }


async def store_outbound(
    session: AsyncSession,
    message: Mapping[str, Any],
    attachments: Sequence[Mapping[str, Any]],
    event: Mapping[str, Any],
    preview: str,
    live_events: Sequence[tuple[str, dict[str, Any]]],
    seen: Mapping[str, Any],
) -> int:
    """Write a new outbound message (column values), its attachments, its first event, and
    the conversation's last message (unless a later one is recorded). On PostgreSQL
    `live_events` are written in the same statement (`realtime/relay.py`), and only if the
    conversation still has the values `seen` (`seen_of`) they were built from: `STORED` when
    it changed, and then neither the conversation nor the events were written (the message
    was): see `announce_again`; `REFUSED` when the recipient was erased since the read, and
    nothing was written. On SQLite the transaction began IMMEDIATE, so the read is current;
    the caller emits the events."""
    if session.get_bind().dialect.name == "postgresql":
        events = live_events_json(live_events)
        params = _outbound_params(message, attachments, event, preview, events, seen)
        outcome: int = (await session.execute(_STORE_OUTBOUND, params)).scalar_one()
        return outcome
    await session.execute(insert(Message.__table__), dict(message))  # type: ignore[arg-type]
    if attachments:
        await session.execute(insert(Attachment.__table__), list(attachments))  # type: ignore[arg-type]
    await session.execute(insert(MessageEvent.__table__), dict(event))  # type: ignore[arg-type]
    last = seen["seen_last_message_at"]
    if last is None or last <= message["created_at"]:
        await session.execute(
            _TOUCH_CONVERSATION,
            {
                "conversation_id": message["conversation_id"],
                "last_message_at": message["created_at"],
                "last_message_preview": preview,
            },
        )
    return ANNOUNCED


Announcement = tuple[Mapping[str, Any], Sequence[tuple[str, dict[str, Any]]]]
"""The `seen_of` values of a conversation and the live events built from it."""


async def announce_again(
    session: AsyncSession,
    message: Mapping[str, Any],
    preview: str,
    announce: Callable[[Conversation], Announcement],
) -> None:
    """After `store_outbound` found the conversation changed (PostgreSQL): read it again,
    build the events from it (`announce`) and write them with the conversation's update,
    until nothing changed in between. Each miss means another write committed."""
    query = (
        select(Conversation)
        .options(joinedload(Conversation.contact), joinedload(Conversation.sender))
        .where(Conversation.id == message["conversation_id"])
        .execution_options(populate_existing=True)
    )
    for _ in range(ANNOUNCE_ATTEMPTS):
        conversation = await session.scalar(query)
        if conversation is None:
            return  # erased meanwhile: nothing to announce
        seen, events = announce(conversation)
        params = _announce_params(message, preview, live_events_json(events), seen)
        if (await session.execute(_ANNOUNCE_AGAIN, params)).scalar_one():
            return
    raise RuntimeError(f"conversation {message['conversation_id']} kept changing")


ANNOUNCE_ATTEMPTS = 20


def live_events_json(live_events: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The `events` parameter of the statements that write live events: a JSON array of
    `{"type": ..., "data": ...}`, in order."""
    return json.dumps([{"type": kind, "data": data} for kind, data in live_events])


def live_events_json_of(live_events: Sequence[tuple[str, str]]) -> str:
    """`live_events_json` for events whose data is JSON text already (the driver lane
    serializes a new message once, for its event and for the API's answer)."""
    return "[" + ",".join(_EVENT_JSON.format(kind, data) for kind, data in live_events) + "]"


_EVENT_JSON = '{{"type":"{}","data":{}}}'  # an event type is one of our own names


def _announce_params(
    message: Mapping[str, Any], preview: str, events: str, seen: Mapping[str, Any]
) -> dict[str, Any]:
    """`events`: `live_events_json`'s text."""
    return {
        "conversation_id": message["conversation_id"],
        "created_at": message["created_at"],
        "preview": preview,
        "events": events,
        **seen,
    }


_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
_TOUCH_CONVERSATION = (
    _CONVERSATIONS.update()
    .where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(
        last_message_at=bindparam("last_message_at"),
        last_message_preview=bindparam("last_message_preview"),
    )
)


def _outbound_params(
    message: Mapping[str, Any],
    attachments: Sequence[Mapping[str, Any]],
    event: Mapping[str, Any],
    preview: str,
    events: str,
    seen: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        **message,
        "payload": None if message["payload"] is None else json.dumps(message["payload"]),
        "attachments": json.dumps([_json_row(row) for row in attachments]),
        "event_id": event["id"],
        "dedup_key": event["dedup_key"],
        **_announce_params(message, preview, events, seen),
    }


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat()
        if isinstance(value, datetime)
        else str(value)
        if isinstance(value, uuid.UUID)
        else value
        for name, value in row.items()
    }


# ---------------------------------------------------------------------------- on the driver
# The same read and write as `conversation_for_send` and `store_outbound` on PostgreSQL, as
# SQL for a bare asyncpg connection (`db/driver.py`): the API send path's hot statements,
# prepared once per connection by asyncpg's statement cache.

# What a send needs of its conversation, contact and sender: the columns
# `ConversationOut.of_row` takes, and the contact's time zone (its quiet hours).
_SEND_READ_COLUMNS = {
    "id": "c.id",
    "channel": "c.channel",
    "last_message_at": "c.last_message_at",
    "last_inbound_at": "c.last_inbound_at",
    "last_message_preview": "c.last_message_preview",
    "unread_count": "c.unread_count",
    "contact_address": "k.address",
    "contact_address_kind": "k.address_kind",
    "contact_name": "k.name",
    "contact_time_zone": "k.time_zone",
    "sender_address": "s.address",
    "provider": "s.provider",
}
_SEND_READ_SELECTED = ", ".join(_SEND_READ_COLUMNS.values())

# `sender_query`'s choice with its options as parameters (one statement for every choice):
# the sender for channel $3 among providers $4, of number $5 and provider $6 when given.
# Only our own tables' column names are formatted in; every value is a parameter.
CONVERSATION_FOR_SEND_SQL = f"""
    SELECT {_SEND_READ_SELECTED},
           EXISTS (SELECT 1 FROM consent_records WHERE address_hash = $7::varchar),
           -- The key's owner from `message_keys` (migration a104): one probe of one
           -- unpartitioned index, where `messages.idempotency_key` probes every month's.
           (SELECT mk.message_id FROM message_keys AS mk WHERE mk.key = 'i:' || $2::varchar)
    FROM conversations AS c
    JOIN contacts AS k ON k.id = c.contact_id
    JOIN senders AS s ON s.id = c.sender_id
    WHERE k.address = $1::varchar AND c.channel = $3::varchar
      -- The contact by its address first, whatever the statistics: with a table never
      -- analyzed, the plan kept for this prepared statement walked every conversation of the
      -- sender and looked each one's contact up (found in a fresh bench, 0.4 to 0.8 ms).
      AND c.contact_id = (SELECT id FROM contacts WHERE address = $1::varchar)
      AND c.sender_id = (
        SELECT id FROM senders
        WHERE channel = $3::varchar AND provider = ANY($4::varchar[])
          AND ($5::varchar IS NULL OR address = $5::varchar)
          AND ($6::varchar IS NULL OR provider = $6::varchar)
        ORDER BY created_at, provider, address
        LIMIT 1
    )
"""  # noqa: S608


# The same columns for one conversation (after `STORE_OUTBOUND_SQL` found it changed).
CONVERSATION_BY_ID_SQL = f"""
    SELECT {_SEND_READ_SELECTED}, false, NULL::uuid
    FROM conversations AS c
    JOIN contacts AS k ON k.id = c.contact_id
    JOIN senders AS s ON s.id = c.sender_id
    WHERE c.id = $1::uuid
"""  # noqa: S608


def conversation_values(row: Sequence[Any]) -> dict[str, Any]:
    """A row of `CONVERSATION_FOR_SEND_SQL` (or `CONVERSATION_BY_ID_SQL`) as the values of
    `_SEND_READ_COLUMNS`, with no ORM object: building the conversation, its contact and its
    sender as objects cost more than the read itself. Its last two columns say whether the
    recipient has any consent record, and which message is stored under the key, if any."""
    return dict(zip(_SEND_READ_COLUMNS, row, strict=False))


def seen_of_values(conversation: Mapping[str, Any]) -> dict[str, Any]:
    """`seen_of` for a conversation's `conversation_values`."""
    return {
        "seen_unread_count": conversation["unread_count"],
        "seen_last_inbound_at": conversation["last_inbound_at"],
        "seen_last_message_at": conversation["last_message_at"],
        "seen_contact_address": conversation["contact_address"],
        "seen_contact_name": conversation["contact_name"],
    }


def _driver_sql(statement: TextClause) -> tuple[str, tuple[str, ...]]:
    compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
    return compiled.string, tuple(compiled.positiontup or ())


STORE_OUTBOUND_SQL, _STORE_OUTBOUND_NAMES = _driver_sql(_STORE_OUTBOUND)
ANNOUNCE_AGAIN_SQL, _ANNOUNCE_AGAIN_NAMES = _driver_sql(_ANNOUNCE_AGAIN)


def store_outbound_args(
    message: Mapping[str, Any],
    attachments: Sequence[Mapping[str, Any]],
    event: Mapping[str, Any],
    preview: str,
    events: str,
    seen: Mapping[str, Any],
) -> list[Any]:
    """`STORE_OUTBOUND_SQL`'s arguments, in order (`events`: `live_events_json`'s text)."""
    params = _outbound_params(message, attachments, event, preview, events, seen)
    return [params[name] for name in _STORE_OUTBOUND_NAMES]


# The same write for a batch of sends (the group writer's, `db/driver.py`): one statement
# instead of one per send. Measured on a send (DESIGN-NOTES, "API send: one statement per
# batch"), most of PostgreSQL's CPU for the single-send statement is spent once per statement,
# not per row: starting the executor for its nine nodes, and the four statement triggers
# (`message_counts`, and on `live_events` the writer's lock, the NOTIFY and the webhook
# fan-out), each running its own SQL. Each argument of `STORE_OUTBOUND_SQL` comes as an array,
# one element per send; the answer is one `STORE_OUTBOUND_SQL` outcome per send, in order.
# The sends of one batch must be to distinct conversations (`conversation_of`): an UPDATE
# changes a row once per statement, whatever its FROM matches. The contacts are held as in
# `_STORE_OUTBOUND` (KEY SHARE, in id order), their address checked again under the lock.
_BATCH_TYPES = {
    "id": "uuid",
    "conversation_id": "uuid",
    "event_id": "uuid",
    "body": "text",
    "payload": "text",
    "attachments": "text",
    "events": "text",
    "segments": "integer",
    "attempts": "integer",
    "rate_limited": "integer",
    "seen_unread_count": "integer",
    "priority": "smallint",
    "next_attempt_at": "timestamptz",
    "send_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "seen_last_inbound_at": "timestamptz",
    "seen_last_message_at": "timestamptz",
}
_CONVERSATION_ARGUMENT = _STORE_OUTBOUND_NAMES.index("conversation_id")
_ARRAYS = ", ".join(
    f"${n}::{_BATCH_TYPES.get(name, 'varchar')}[]"
    for n, name in enumerate(_STORE_OUTBOUND_NAMES, 1)
)
STORE_OUTBOUND_BATCH_SQL = f"""
    WITH input AS (
        SELECT * FROM unnest({_ARRAYS}) WITH ORDINALITY AS i({", ".join(_STORE_OUTBOUND_NAMES)}, n)
    ), person AS (
        -- By key, through the conversations: by `address = ANY(...)` the planner took the
        -- trigram index (tens of ms a batch). The address is compared below, on the row as
        -- locked (the version an erasure committed, if it waited for one), and only with the
        -- conversation's own contact: a person who wrote again after an erasure has a new
        -- contact with the same address, which must not let a send read before the erasure
        -- into the erased conversation.
        SELECT c.id AS conversation_id, k.address
        FROM contacts k JOIN conversations c ON c.contact_id = k.id
        WHERE c.id = ANY(${1 + _CONVERSATION_ARGUMENT}::uuid[])
        ORDER BY k.id
        FOR KEY SHARE OF k
    ), message AS (
        INSERT INTO messages ({_MESSAGE_INSERTED})
        SELECT {_message_values("input.{}")}
        FROM input JOIN person ON person.conversation_id = input.conversation_id
            AND person.address = input.seen_contact_address
        ORDER BY input.n
        RETURNING id
    ), attachment AS (
        INSERT INTO attachments ({_ATTACHMENT_INSERTED})
        SELECT {_ATTACHMENT_SELECTED}
        FROM input JOIN message ON message.id = input.id,
             jsonb_to_recordset(CAST(input.attachments AS jsonb)) AS a({_ATTACHMENT_RECORD})
    ), event AS (
        INSERT INTO message_events ({_EVENT_INSERTED})
        SELECT {_event_values("input.{}")}
        FROM input JOIN message ON message.id = input.id
    ), conversation AS (
        UPDATE conversations
        SET last_message_at = GREATEST(conversations.last_message_at, input.created_at),
            last_message_preview = CASE
                WHEN conversations.last_message_at > input.created_at
                THEN conversations.last_message_preview
                ELSE input.preview END
        FROM input JOIN message ON message.id = input.id
        WHERE conversations.id = input.conversation_id
          -- The same as an array: the rows found by their key, not the table scanned.
          AND conversations.id = ANY(${1 + _CONVERSATION_ARGUMENT}::uuid[])
          AND conversations.unread_count = input.seen_unread_count
          AND conversations.last_inbound_at IS NOT DISTINCT FROM input.seen_last_inbound_at
          AND conversations.last_message_at IS NOT DISTINCT FROM input.seen_last_message_at
          -- A subquery per conversation, by the contact's key: as an EXISTS, the planner
          -- joined every contact to the batch by address.
          AND (
              SELECT contacts.address = input.seen_contact_address
                     AND contacts.name IS NOT DISTINCT FROM input.seen_contact_name
              FROM contacts WHERE contacts.id = conversations.contact_id
          )
        RETURNING input.n
    ), live AS (
        -- After the conversations' row locks (the rows come from the UPDATE), as in
        -- `_ANNOUNCE`; one conversation's events in the order built.
        INSERT INTO live_events (type, data, created_at)
        SELECT e.event ->> 'type', e.event -> 'data', now()
        FROM conversation JOIN input ON input.n = conversation.n,
             jsonb_array_elements(CAST(input.events AS jsonb)) WITH ORDINALITY AS e(event, k)
        ORDER BY input.n, e.k
        RETURNING id
    )
    SELECT (message.id IS NOT NULL)::integer + (conversation.n IS NOT NULL)::integer
    FROM input
    LEFT JOIN message ON message.id = input.id
    LEFT JOIN conversation ON conversation.n = input.n
    ORDER BY input.n
"""  # noqa: S608 (our own names and types formatted in; every value is a parameter)


def conversation_of(args: Sequence[Any]) -> Any:
    """The conversation a send's `STORE_OUTBOUND_SQL` arguments write to."""
    return args[_CONVERSATION_ARGUMENT]


def store_outbound_batch_args(batch: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """`STORE_OUTBOUND_BATCH_SQL`'s arguments for sends' `STORE_OUTBOUND_SQL` arguments: each
    argument's values as one array."""
    return [list(values) for values in zip(*batch, strict=True)]


def announce_again_args(
    message: Mapping[str, Any], preview: str, events: str, seen: Mapping[str, Any]
) -> list[Any]:
    """`ANNOUNCE_AGAIN_SQL`'s arguments, in order (`events`: `live_events_json`'s text)."""
    params = _announce_params(message, preview, events, seen)
    return [params[name] for name in _ANNOUNCE_AGAIN_NAMES]


# ---------------------------------------------------------------------------- the thread
# `messages_of` for PostgreSQL's inbox reads pool (`messaging.search.inbox_reads_pool`): the
# conversation's existence, its page of messages and their attachments in one statement and
# one round trip (the ORM took three, plus BEGIN, and most of the request's CPU).

_MEDIA_JSON = ", ".join(f"'{name}', a.{name}" for name in MEDIA_COLUMNS)
THREAD_SQL = f"""
    SELECT c.id AS found, m.*
    FROM conversations AS c
    LEFT JOIN LATERAL (
        SELECT {", ".join(f"m.{name}" for name in MESSAGE_COLUMNS)},
               (SELECT json_agg(json_build_object({_MEDIA_JSON}) ORDER BY a.position, a.id)
                FROM attachments AS a WHERE a.message_id = m.id) AS media
        FROM messages AS m
        WHERE m.conversation_id = c.id
          AND ($2::timestamptz IS NULL OR m.created_at < $2::timestamptz)
        ORDER BY m.created_at DESC, m.id
        LIMIT $3::integer
    ) AS m ON true
    WHERE c.id = $1::uuid
    ORDER BY m.created_at DESC, m.id
"""  # noqa: S608


async def thread_page(
    connection: Any, conversation_id: uuid.UUID, limit: int, before: datetime | None
) -> list[MessageOut] | None:
    """The thread's page, oldest first, on a bare asyncpg connection; None when there is no
    such conversation."""
    rows = await connection.fetch(THREAD_SQL, conversation_id, before, limit)
    if not rows:
        return None
    page = []
    for row in reversed(rows):
        if row["id"] is None:  # the conversation, with no message (before `before`)
            continue
        values = dict(row.items())
        if isinstance(values["payload"], str):
            values["payload"] = json.loads(values["payload"])
        media = json.loads(row["media"]) if row["media"] is not None else []
        page.append(MessageOut.of_row(values, [MediaOut.model_validate(item) for item in media]))
    return page
