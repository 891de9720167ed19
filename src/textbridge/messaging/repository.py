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
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import Insert

from textbridge.messaging.address import Address
from textbridge.models import Attachment, Contact, Conversation, Message, MessageEvent, Sender
from textbridge.realtime.listener import EVENTS

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
    query = select(Message.provider, Message.provider_message_id).where(_by_provider_ids(keys))
    return {(provider, message_id or "") for provider, message_id in await session.execute(query)}


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


async def contacts_by_address(
    session: AsyncSession, addresses: Iterable[Address]
) -> dict[str, Contact]:
    """The contact of each address, created if new."""
    wanted = {address.value: address for address in addresses}
    found = await _contacts(session, wanted)
    missing = [wanted[value] for value in wanted if value not in found]
    if missing:
        rows = [{"address": a.value, "address_kind": a.kind, "country": a.country} for a in missing]
        await session.execute(_insert_ignoring(session, Contact, ["address"]), rows)
        found |= await _contacts(session, {a.value: a for a in missing})
    return found


async def _contacts(session: AsyncSession, wanted: Collection[str]) -> dict[str, Contact]:
    if not wanted:
        return {}
    found = await session.scalars(select(Contact).where(Contact.address.in_(wanted)))
    return {contact.address: contact for contact in found}


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


async def conversations_by_key(
    session: AsyncSession, keys: Collection[ConversationKey]
) -> dict[ConversationKey, Conversation]:
    """The conversation of each (contact, sender, channel), created if new."""
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
    found = await session.scalars(select(Conversation).where(_in(columns, keys)))
    return {(c.contact_id, c.sender_id, c.channel): c for c in found}


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
# written and the statement answers `touched` 0: the caller reads again and runs
# `_ANNOUNCE_AGAIN` (rare: a reply, a mark-read or a rename between the read and the write).
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
    ), notified AS (
        SELECT pg_notify(:notify_channel, '') FROM (SELECT count(*) AS n FROM live) AS done
        WHERE n > 0
    )
    SELECT (SELECT count(*) FROM conversation) AS touched, (SELECT count(*) FROM notified)"""

_SEEN_TIMES = (
    bindparam("seen_last_inbound_at", type_=Conversation.last_inbound_at.type),
    bindparam("seen_last_message_at", type_=Conversation.last_message_at.type),
)
_STORE_OUTBOUND = text(
    """
    WITH message AS (
        INSERT INTO messages (
            id, conversation_id, direction, channel, provider, from_address, to_address, body,
            content_type, payload, status, encoding, segments, attempts, rate_limited, priority,
            next_attempt_at, send_at, quiet_hours, idempotency_key, request_hash, created_at,
            updated_at
        ) VALUES (
            :id, :conversation_id, :direction, :channel, :provider, :from_address, :to_address,
            :body, :content_type, CAST(:payload AS jsonb), :status, :encoding, :segments,
            :attempts, :rate_limited, :priority, :next_attempt_at, :send_at, :quiet_hours,
            :idempotency_key, :request_hash, :created_at, :updated_at
        )
        RETURNING id
    ), attachment AS (
        INSERT INTO attachments (
            id, message_id, position, url, kind, mime_type, size, caption, filename,
            download_attempts, created_at
        )
        SELECT a.id, message.id, a.position, a.url, a.kind, a.mime_type, a.size, a.caption,
               a.filename, 0, a.created_at
        FROM message, jsonb_to_recordset(CAST(:attachments AS jsonb)) AS a(
            id uuid, position integer, url text, kind text, mime_type text, size integer,
            caption text, filename text, created_at timestamptz
        )
    ), event AS (
        INSERT INTO message_events (
            id, message_id, dedup_key, source, status, applied, occurred_at, received_at
        )
        SELECT CAST(:event_id AS uuid), message.id, CAST(:dedup_key AS varchar), 'textbridge',
               CAST(:status AS varchar), true, CAST(:created_at AS timestamptz),
               CAST(:created_at AS timestamptz)
        FROM message
    ), {_ANNOUNCE}
    """.replace("{_ANNOUNCE}", _ANNOUNCE.replace("{_FROM}", "FROM message"))
).bindparams(
    bindparam("created_at", type_=Message.created_at.type),
    bindparam("updated_at", type_=Message.updated_at.type),
    bindparam("next_attempt_at", type_=Message.next_attempt_at.type),
    bindparam("send_at", type_=Message.send_at.type),
    *_SEEN_TIMES,
)
_ANNOUNCE_AGAIN = text("WITH " + _ANNOUNCE.replace("{_FROM}", "")).bindparams(
    bindparam("created_at", type_=Message.created_at.type), *_SEEN_TIMES
)


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
) -> bool:
    """Write a new outbound message (column values), its attachments, its first event, and
    the conversation's last message (unless a later one is recorded). On PostgreSQL
    `live_events` are written in the same statement (`realtime/relay.py`), and only if the
    conversation still has the values `seen` (`seen_of`) they were built from: False when it
    changed, and then neither the conversation nor the events were written (the message
    was): see `announce_again`. On SQLite the transaction began IMMEDIATE, so the read is
    current; the caller emits the events."""
    if session.get_bind().dialect.name == "postgresql":
        params = _outbound_params(message, attachments, event, preview, live_events, seen)
        touched = (await session.execute(_STORE_OUTBOUND, params)).scalar_one()
        return bool(touched)
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
    return True


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
        params = _announce_params(message, preview, events, seen)
        if (await session.execute(_ANNOUNCE_AGAIN, params)).scalar_one():
            return
    raise RuntimeError(f"conversation {message['conversation_id']} kept changing")


ANNOUNCE_ATTEMPTS = 20


def _announce_params(
    message: Mapping[str, Any],
    preview: str,
    live_events: Sequence[tuple[str, dict[str, Any]]],
    seen: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "conversation_id": message["conversation_id"],
        "created_at": message["created_at"],
        "preview": preview,
        "events": json.dumps([{"type": kind, "data": data} for kind, data in live_events]),
        "notify_channel": EVENTS,
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
    live_events: Sequence[tuple[str, dict[str, Any]]],
    seen: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        **message,
        "payload": None if message["payload"] is None else json.dumps(message["payload"]),
        "attachments": json.dumps([_json_row(row) for row in attachments]),
        "event_id": event["id"],
        "dedup_key": event["dedup_key"],
        **_announce_params(message, preview, live_events, seen),
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

_CONVERSATION_COLUMNS = tuple(c.name for c in _CONVERSATIONS.columns)
_CONTACT_COLUMNS = tuple(c.name for c in Contact.__table__.columns)
_SENDER_COLUMNS = tuple(c.name for c in Sender.__table__.columns)

# `sender_query`'s choice with its options as parameters (one statement for every choice):
# the sender for channel $3 among providers $4, of number $5 and provider $6 when given.
# Only our own tables' column names are formatted in; every value is a parameter.
CONVERSATION_FOR_SEND_SQL = f"""
    SELECT {", ".join(f"c.{name}" for name in _CONVERSATION_COLUMNS)},
           {", ".join(f"k.{name}" for name in _CONTACT_COLUMNS)},
           {", ".join(f"s.{name}" for name in _SENDER_COLUMNS)},
           EXISTS (SELECT 1 FROM consent_records WHERE address_hash = $7::varchar),
           (SELECT m.id FROM messages AS m WHERE m.idempotency_key = $2::varchar)
    FROM conversations AS c
    JOIN contacts AS k ON k.id = c.contact_id
    JOIN senders AS s ON s.id = c.sender_id
    WHERE k.address = $1::varchar AND c.channel = $3::varchar AND c.sender_id = (
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
    SELECT {", ".join(f"c.{name}" for name in _CONVERSATION_COLUMNS)},
           {", ".join(f"k.{name}" for name in _CONTACT_COLUMNS)},
           {", ".join(f"s.{name}" for name in _SENDER_COLUMNS)},
           false, NULL::uuid
    FROM conversations AS c
    JOIN contacts AS k ON k.id = c.contact_id
    JOIN senders AS s ON s.id = c.sender_id
    WHERE c.id = $1::uuid
"""  # noqa: S608


def conversation_from_row(row: Sequence[Any]) -> tuple[Conversation, uuid.UUID | None]:
    """A row of `CONVERSATION_FOR_SEND_SQL` as the objects `conversation_for_send` returns
    (not in a session), and the id of the message stored under the key, if any. (Its
    next-to-last column says whether the recipient has any consent record.)"""
    values = iter(row)
    conversation = Conversation(**{name: next(values) for name in _CONVERSATION_COLUMNS})
    contact = Contact(**{name: next(values) for name in _CONTACT_COLUMNS})
    sender = Sender(**{name: next(values) for name in _SENDER_COLUMNS})
    set_committed_value(conversation, "contact", contact)
    set_committed_value(conversation, "sender", sender)
    return conversation, row[-1]


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
    live_events: Sequence[tuple[str, dict[str, Any]]],
    seen: Mapping[str, Any],
) -> list[Any]:
    """`STORE_OUTBOUND_SQL`'s arguments, in order."""
    params = _outbound_params(message, attachments, event, preview, live_events, seen)
    return [params[name] for name in _STORE_OUTBOUND_NAMES]


def announce_again_args(
    message: Mapping[str, Any],
    preview: str,
    live_events: Sequence[tuple[str, dict[str, Any]]],
    seen: Mapping[str, Any],
) -> list[Any]:
    """`ANNOUNCE_AGAIN_SQL`'s arguments, in order."""
    params = _announce_params(message, preview, live_events, seen)
    return [params[name] for name in _ANNOUNCE_AGAIN_NAMES]
