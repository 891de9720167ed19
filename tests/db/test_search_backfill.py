"""The search migration indexes the messages that exist when it runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from textbridge.db import migrate
from textbridge.db.base import utcnow
from textbridge.messaging import search
from textbridge.models import Contact, Conversation, Message, Sender

from ..support.database import Database, own_postgres_database, run_sync

BEFORE_SEARCH = "9a02c0a29a02"


def _old_rows(database: Database) -> uuid.UUID:
    now = utcnow()
    sender, contact, conversation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    database.run(
        insert(Sender).values(
            id=sender, provider="plivo", channel="sms", address="+14155550100", created_at=now
        )
    )
    database.run(insert(Contact).values(id=contact, address="+14155550123", created_at=now))
    conversation_row = {"contact_id": contact, "sender_id": sender, "channel": "sms"}
    database.run(
        insert(Conversation).values(
            id=conversation, last_message_at=now, created_at=now, **conversation_row
        )
    )
    message = {"direction": "inbound", "channel": "sms", "provider": "plivo", "status": "received"}
    database.run(
        insert(Message).values(
            id=uuid.uuid4(),
            conversation_id=conversation,
            from_address="+14155550123",
            to_address="+14155550100",
            body="an old message about marmalade",
            created_at=now,
            updated_at=now,
            **message,
        )
    )
    return conversation


def _found(url: str, q: str) -> list[uuid.UUID]:
    async def find() -> list[uuid.UUID]:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as db:
                page = await search.list_page(db, None, search.ListQuery(q=q))
                return [uuid.UUID(str(row["id"])) for row in page]
        finally:
            await engine.dispose()

    return run_sync(find())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_messages_written_before_the_migration_are_found(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
        migrate.upgrade(url, BEFORE_SEARCH)
        _check(Database("sqlite", url))
    else:
        with own_postgres_database() as database:
            migrate.downgrade(database.url, BEFORE_SEARCH)
            _check(database)


def _check(database: Database) -> None:
    conversation = _old_rows(database)
    migrate.upgrade(database.url)
    assert _found(database.url, "marmalade") == [conversation]
    assert _found(database.url, "(415) 555-0123") == [conversation]
