"""All SQL of the messaging domain."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, bindparam, null, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from textbridge.messaging.address import Address
from textbridge.models import Contact, Conversation, Message, MessageEvent, Sender

_Row = TypeVar("_Row", Contact, Sender, Conversation)


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


async def list_conversations(
    session: AsyncSession, limit: int, before: datetime | None
) -> Sequence[Conversation]:
    query = select(Conversation).where(Conversation.last_message_at.is_not(None))
    if before is not None:
        query = query.where(Conversation.last_message_at < before)
    query = query.order_by(Conversation.last_message_at.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def messages_of(
    session: AsyncSession, conversation_id: uuid.UUID, limit: int, before: datetime | None
) -> Sequence[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before is not None:
        query = query.where(Message.created_at < before)
    query = query.order_by(Message.created_at.desc(), Message.id).limit(limit)
    return list(reversed((await session.scalars(query)).all()))
