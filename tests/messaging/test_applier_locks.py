"""What the bulk applier holds while its transaction is open (PostgreSQL): the conversation
`FOR UPDATE`, the contact only `FOR KEY SHARE`, the sender not at all. Locking the
conversation's eagerly joined contact and sender `FOR UPDATE` as well (a plain `FOR UPDATE`
on the joined query) made a send's write, which holds the contact `FOR KEY SHARE`, and a new
conversation of that sender wait for every applier's commit."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import service
from textbridge.models import Sender
from textbridge.providers.base import InboundMessage
from textbridge.realtime.bus import EventBus

from ..support.database import Database

pytestmark = pytest.mark.postgresql_only

OUR_NUMBER = "14155550100"


def _inbound(contact: str) -> InboundMessage:
    return InboundMessage(
        provider="plivo",
        provider_message_id=str(uuid.uuid4()),
        channel="sms",
        from_address=contact,
        to_address=OUR_NUMBER,
        text="hello",
    )


async def test_an_open_apply_holds_the_conversation_but_not_its_contact_or_sender(
    database: Database, tmp_path: Path
) -> None:
    contact = f"1415{uuid.uuid4().int % 10**7:07d}"
    engine = create_engine(database.fresh_url(tmp_path))
    sessions = create_session_factory(engine)
    try:
        async with UnitOfWork(sessions, EventBus(durable=True)) as uow:
            uow.session.add(Sender(provider="plivo", channel="sms", address=OUR_NUMBER))
            await uow.commit()
        async with UnitOfWork(sessions, EventBus(durable=True)) as uow:
            assert await service.apply_in_bulk(uow, [[_inbound(contact)]]) == [None]
            await uow.commit()
        async with UnitOfWork(sessions, EventBus(durable=True)) as applying:
            assert await service.apply_in_bulk(applying, [[_inbound(contact)]]) == [None]
            async with engine.connect() as other:
                for table, where in (
                    ("contacts", "address = :a"),
                    ("senders", "address = :ours"),
                ):
                    await other.execute(
                        text(f"SELECT 1 FROM {table} WHERE {where} FOR KEY SHARE NOWAIT"),
                        {"a": f"+{contact}", "ours": OUR_NUMBER},
                    )
                await other.rollback()
                with pytest.raises(DBAPIError, match="lock"):
                    await other.execute(
                        text(
                            "SELECT 1 FROM conversations WHERE contact_id ="
                            " (SELECT id FROM contacts WHERE address = :a) FOR KEY SHARE NOWAIT"
                        ),
                        {"a": f"+{contact}"},
                    )
            await applying.rollback()
    finally:
        await engine.dispose()
