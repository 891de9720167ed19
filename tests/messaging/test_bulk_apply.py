"""The applier's batch path (`service.apply_in_bulk`) gives what applying one event at a time
gives: any order, duplication and cut into batches of a message's status callbacks ends in the
same final status with one event row per distinct event; a status for a message nobody knows
fails alone; inbound messages are stored once, their contacts and conversations created once
(real database, real services)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import service, status
from textbridge.models import Contact, Conversation, Message, MessageEvent, Sender
from textbridge.providers.base import InboundMessage, StatusUpdate
from textbridge.providers.plivo import PlivoProvider
from textbridge.providers.plivo.vocabulary import STATUS_MAP
from textbridge.realtime.bus import EventBus

from ..support.database import Database
from .test_status_order import _expected, _submitted_message, deliveries


class _Recorder(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        self.published.extend(events)
        super().publish_all(events)


async def _with_uow(url: str, work: Any, bus: EventBus | None = None) -> Any:
    engine = create_engine(url)
    plivo = PlivoProvider("MAXXXXXXXXXXXXXXXXXX", ["token"], "http://unused", httpx.AsyncClient())
    try:
        async with UnitOfWork(create_session_factory(engine), bus or EventBus()) as uow:
            if await uow.session.scalar(select(Sender)) is None:
                uow.session.add(Sender(provider="plivo", channel="sms", address="+14155550100"))
                await uow.commit()
            return await work(uow, plivo)
    finally:
        await plivo.aclose()
        await engine.dispose()


def _status(message: Message, name: str, error: str | None) -> service.ProviderStatus:
    update = StatusUpdate("plivo", message.provider_message_id or "", name, error)
    return service.ProviderStatus(update, STATUS_MAP[name])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(deliveries(), st.lists(st.integers(1, 4), min_size=1, max_size=8))
def test_statuses_in_batches_end_as_one_by_one(
    database: Database,
    tmp_path: Path,
    delivery: tuple[list[tuple[str, str | None]], list[int]],
    cuts: list[int],
) -> None:
    events, order = delivery

    async def work(uow: UnitOfWork, plivo: PlivoProvider) -> tuple[str, int]:
        message = await _submitted_message(uow, {"plivo": plivo})
        queue = [_status(message, *events[index]) for index in order]
        sizes = iter(cuts * len(queue))
        while queue:
            size = next(sizes)
            batch, queue = queue[:size], queue[size:]
            unknown = StatusUpdate("plivo", str(uuid.uuid4()), "delivered")
            entries = [[event] for event in batch] + [
                [service.ProviderStatus(unknown, "delivered")]
            ]
            errors = await service.apply_in_bulk(uow, entries)
            assert errors[:-1] == [None] * len(batch)
            assert isinstance(errors[-1], service.UnknownMessage)
            await uow.commit()
        await uow.session.refresh(message)
        stored = await uow.session.scalar(
            select(func.count())
            .select_from(MessageEvent)
            .where(MessageEvent.message_id == message.id, MessageEvent.source == "plivo")
        )
        return message.status, int(stored or 0)

    # A fresh database per example: a failure with a provider's block code (Plivo 200) records
    # an opt-out, which would refuse the next example's send to the same number.
    url = database.fresh_url(tmp_path)
    final, stored = asyncio.run(_with_uow(url, work))
    assert final == _expected(events)
    assert stored == len(events)


def _inbound(sender: str, text: str, message_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        provider="plivo",
        provider_message_id=message_id or str(uuid.uuid4()),
        channel="sms",
        from_address=sender,
        to_address="14155550100",
        text=text,
    )


def test_inbound_in_bulk_is_stored_once_per_message(database: Database, tmp_path: Path) -> None:
    prefix = f"1415{uuid.uuid4().int % 10**5:05d}"  # the PostgreSQL database is shared
    senders = [f"{prefix}{n:02d}" for n in range(3)]
    first = _inbound(senders[0], "one")
    repeated = _inbound(senders[1], "two")
    bus = _Recorder()

    async def work(uow: UnitOfWork, plivo: PlivoProvider) -> dict[str, Any]:
        assert await service.apply_in_bulk(uow, [[first]]) == [None]
        await uow.commit()
        batch = [
            [first],  # applied before: stored once
            [repeated],
            [_inbound(senders[0], "three")],
            [repeated],  # twice in the batch
            [_inbound("", "no sender")],
            [_inbound(f"+{senders[2]}", "four")],
        ]
        errors = await service.apply_in_bulk(uow, batch)
        await uow.commit()
        assert [error is None for error in errors] == [True, True, True, True, False, True]
        ours = [f"+{sender}" for sender in senders]
        texts = await uow.session.scalars(
            select(Message.body)
            .where(Message.from_address.in_([*senders, *ours]))
            .order_by(Message.created_at)
        )
        unread = await uow.session.execute(
            select(Contact.address, Conversation.unread_count, Conversation.last_message_preview)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(Contact.address.in_(ours))
            .order_by(Contact.address)
        )
        return {"texts": list(texts), "unread": [tuple(row) for row in unread]}

    url = database.fresh_url(tmp_path)  # on PostgreSQL: emptied (no opt-out of an earlier test)
    found = asyncio.run(_with_uow(url, work, bus))
    assert found["texts"] == ["one", "two", "three", "four"]
    assert found["unread"] == [
        (f"+{senders[0]}", 2, "three"),
        (f"+{senders[1]}", 1, "two"),
        (f"+{senders[2]}", 1, "four"),
    ]
    published = [event_type for event_type, _ in bus.published]
    assert published.count("message.created") == 4
    # One per conversation and batch, with its state after the batch.
    assert published.count("conversation.updated") == 1 + 3
    last = [data for kind, data in bus.published if kind == "conversation.updated"][-3:]
    assert sorted(data["unread_count"] for data in last) == [1, 1, 2]


def test_a_redelivery_is_known_when_no_contact_carries_the_stored_ids(
    database: Database, tmp_path: Path
) -> None:
    """On PostgreSQL the stored provider ids ride in the contacts' statement; when no contact
    row comes back (the person's contact was renamed, as an erasure does), they are read on
    their own: a redelivered message is still stored once, and its address does not get a
    new contact. A batch of two providers takes the statement built for several."""
    prefix = f"1415{uuid.uuid4().int % 10**5:05d}"
    kept, renamed = f"{prefix}01", f"{prefix}02"
    before = _inbound(renamed, "before")
    other = InboundMessage("vonage", str(uuid.uuid4()), "sms", kept, "14155550100", "hi")

    async def work(uow: UnitOfWork, plivo: PlivoProvider) -> dict[str, Any]:
        assert await service.apply_in_bulk(uow, [[before], [_inbound(kept, "one")]]) == [
            None,
            None,
        ]
        await uow.commit()
        contact = await uow.session.scalar(select(Contact).where(Contact.address == f"+{renamed}"))
        assert contact is not None
        contact.address = f"pseudonym-{uuid.uuid4().hex}"
        await uow.commit()
        errors = await service.apply_in_bulk(uow, [[before]])  # only the redelivery
        await uow.commit()
        assert errors == [None]
        mixed = [[before], [other], [_inbound(kept, "two")]]  # two providers, one known
        assert await service.apply_in_bulk(uow, mixed) == [None, None, None]
        await uow.commit()
        texts = await uow.session.scalars(
            select(Message.body)
            .where(Message.from_address.in_([f"+{kept}", f"+{renamed}"]))
            .order_by(Message.created_at)
        )
        contacts = await uow.session.scalar(
            select(func.count()).select_from(Contact).where(Contact.address == f"+{renamed}")
        )
        return {"texts": list(texts), "renamed contacts": contacts}

    url = database.fresh_url(tmp_path)
    found = asyncio.run(_with_uow(url, work))
    assert sorted(found["texts"]) == sorted(["before", "one", "hi", "two"])
    assert found["renamed contacts"] == 0


def test_a_status_finds_its_message_by_ref_in_bulk(database: Database, tmp_path: Path) -> None:
    async def work(uow: UnitOfWork, plivo: PlivoProvider) -> Message:
        message = await _submitted_message(uow, {"plivo": plivo})
        message.provider_message_id = None  # the send's outcome is not recorded yet
        await uow.commit()
        provider_id = str(uuid.uuid4())
        update = StatusUpdate("plivo", provider_id, "delivered", client_ref=str(message.id))
        event = service.ProviderStatus(update, status.DELIVERED)
        assert await service.apply_in_bulk(uow, [[event]]) == [None]
        await uow.commit()
        await uow.session.refresh(message)
        assert message.provider_message_id == provider_id
        return message

    url = database.fresh_url(tmp_path)  # on PostgreSQL: emptied (no opt-out of an earlier test)
    message = asyncio.run(_with_uow(url, work))
    assert message.status == status.DELIVERED
