"""Export (GDPR article 15): everything we hold about one person, as one JSON document.

    {"format": "textbridge.contact-export/1", "exported_at", "address", "address_hash",
     "contact": {...} | null, "conversations": [...], "consent": [...],
     "campaign_recipients": [...], "messages": [{..., "media": [...], "events": [...]}, ...]}

It is written as a stream of text chunks: messages are read `PAGE` at a time (keyset order
by creation time and id), each page with its attachments and events, in its own short
transaction. Memory is bounded by one page (500 messages with their media and events) however
many messages the person has; a page's transaction is short because on SQLite every
transaction takes the write lock (see docs/DESIGN-NOTES.md). The price: the document is not
one snapshot; a message that arrives during the export may or may not be in it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.audit import log as audit
from textbridge.compliance.person import Person, person
from textbridge.db.base import utcnow
from textbridge.models import (
    Attachment,
    CampaignRecipient,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEvent,
)

FORMAT = "textbridge.contact-export/1"
PAGE = 500


class NothingToExport(LookupError):
    """No contact and no consent record for this address."""


async def begin(
    sessions: async_sessionmaker[AsyncSession], raw_address: str, *, actor: str, origin: str | None
) -> Person:
    """Check there is something to export and record `contact.exported` (committed before the
    first byte leaves: a stream cannot be rolled back)."""
    async with sessions() as db:
        who = await person(db, raw_address)
        contact = await _contact(db, who)
        consent = await db.scalar(
            select(ConsentRecord.id).where(ConsentRecord.address_hash == who.address_hash).limit(1)
        )
        if contact is None and consent is None:
            raise NothingToExport(who.address)
        await audit.record(
            db,
            actor=actor,
            action="contact.exported",
            target=f"address:{who.address_hash}",
            origin=origin,
        )
        await db.commit()
    return who


async def stream(sessions: async_sessionmaker[AsyncSession], who: Person) -> AsyncIterator[str]:
    """The export document, in chunks (one message per line inside `messages`)."""
    async with sessions() as db:
        head, conversations = await _head(db, who)
        await db.commit()
    yield _dumps(head)[:-1] + ',\n"messages": ['
    first = True
    async for message in _messages(sessions, conversations):
        yield ("\n" if first else ",\n") + _dumps(message)
        first = False
    yield "\n]}\n"


async def _head(db: AsyncSession, who: Person) -> tuple[dict[str, Any], list[uuid.UUID]]:
    contact = await _contact(db, who)
    conversations = (
        list(await db.scalars(select(Conversation).where(Conversation.contact_id == contact.id)))
        if contact is not None
        else []
    )
    consent = await db.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.address_hash == who.address_hash)
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    )
    staged = await db.scalars(
        select(CampaignRecipient).where(CampaignRecipient.to_address.in_(who.forms))
    )
    head = {
        "format": FORMAT,
        "exported_at": utcnow(),
        "address": who.address,
        "address_hash": who.address_hash,
        "contact": _contact_out(contact) if contact is not None else None,
        "conversations": [_conversation_out(item) for item in conversations],
        "consent": [_consent_out(record) for record in consent],
        "campaign_recipients": [_staged_out(row) for row in staged],
    }
    return head, [item.id for item in conversations]


async def _contact(db: AsyncSession, who: Person) -> Contact | None:
    return await db.scalar(select(Contact).where(Contact.address.in_(who.forms)))


async def _messages(
    sessions: async_sessionmaker[AsyncSession], conversations: Sequence[uuid.UUID]
) -> AsyncIterator[dict[str, Any]]:
    after: tuple[datetime, uuid.UUID] | None = None
    while conversations:
        async with sessions() as db:
            page = await _page(db, conversations, after)
            events = await _events(db, [message.id for message in page])
            await db.commit()
        for message in page:
            yield _message_out(message, events.get(message.id, []))
        if len(page) < PAGE:
            return
        after = (page[-1].created_at, page[-1].id)


async def _page(
    db: AsyncSession, conversations: Sequence[uuid.UUID], after: tuple[datetime, uuid.UUID] | None
) -> list[Message]:
    query = select(Message).where(Message.conversation_id.in_(conversations))
    if after is not None:
        moment, last_id = after
        same_moment = and_(Message.created_at == moment, Message.id > last_id)
        query = query.where(or_(Message.created_at > moment, same_moment))
    return list(await db.scalars(query.order_by(Message.created_at, Message.id).limit(PAGE)))


async def _events(
    db: AsyncSession, message_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[MessageEvent]]:
    found: dict[uuid.UUID, list[MessageEvent]] = {}
    if not message_ids:
        return found
    query = (
        select(MessageEvent)
        .where(MessageEvent.message_id.in_(message_ids))
        .order_by(MessageEvent.received_at, MessageEvent.id)
    )
    for event in await db.scalars(query):
        found.setdefault(event.message_id, []).append(event)
    return found


def _contact_out(contact: Contact) -> dict[str, Any]:
    return {
        "address": contact.address,
        "address_kind": contact.address_kind,
        "name": contact.name,
        "country": contact.country,
        "time_zone": contact.time_zone,
        "created_at": contact.created_at,
    }


def _conversation_out(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "our_address": conversation.sender.address,
        "provider": conversation.sender.provider,
        "last_message_at": conversation.last_message_at,
        "last_inbound_at": conversation.last_inbound_at,
        "created_at": conversation.created_at,
    }


def _consent_out(record: ConsentRecord) -> dict[str, Any]:
    return {
        "action": record.action,
        "scope": record.scope,
        "channel": record.channel,
        "source": record.source,
        "kind": record.kind,
        "expires_at": record.expires_at,
        "evidence": record.evidence,
        "recorded_at": record.recorded_at,
    }


def _staged_out(row: CampaignRecipient) -> dict[str, Any]:
    return {"campaign_id": row.campaign_id, "text": row.body, "payload": row.payload}


def _message_out(message: Message, events: list[MessageEvent]) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "channel": message.channel,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "from": message.from_address,
        "to": message.to_address,
        "text": message.body,
        "content_type": message.content_type,
        "payload": message.payload,  # template, interactive, location, reply id
        "status": message.status,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "segments": message.segments,
        "price": message.price,
        "campaign_id": message.campaign_id,
        "send_at": message.send_at,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "media": [_media_out(item) for item in message.attachments],
        "events": [_event_out(event) for event in events],
    }


def _media_out(item: Attachment) -> dict[str, Any]:
    stored = item.download_state == "stored" and item.local_path is not None
    return {
        "id": item.id,
        "url": item.url,
        "kind": item.kind,
        "mime_type": item.mime_type,
        "size": item.size,
        "caption": item.caption,
        "filename": item.filename,
        "download_state": item.download_state,
        "local_url": f"/api/v1/media/{item.id}" if stored else None,
    }


def _event_out(event: MessageEvent) -> dict[str, Any]:
    return {
        "source": event.source,
        "provider_status": event.provider_status,
        "status": event.status,
        "applied": event.applied,
        "error_code": event.error_code,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "raw": event.raw,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
