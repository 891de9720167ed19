"""The relay publishes committed live events in id order, waiting for an id whose transaction
is still committing and skipping it only once that transaction must have rolled back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.realtime import relay
from textbridge.realtime.bus import Event, EventBus, Subscription
from textbridge.realtime.relay import EventRelay, LiveEventPurger

from ..support.database import Database, own_postgres_database


@pytest.fixture(scope="module")
def postgres() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


@pytest.fixture
async def sessions(postgres: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(postgres.url)
    yield create_session_factory(engine)
    await engine.dispose()


def _taken(subscription: Subscription) -> list[Event]:
    events = []
    while not subscription.queue.empty():
        event = subscription.queue.get_nowait()
        assert event is not None
        events.append(event)
    return events


async def test_events_of_units_of_work_are_relayed_with_the_table_ids(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    await event_relay.relay_once()  # starts after what is already there
    async with bus.subscribe() as subscription:
        async with UnitOfWork(sessions, bus) as uow:
            uow.emit("test.one", {"n": 1})
            uow.emit("test.two", {"n": 2, "text": "ünïcode"})
            await uow.commit()
        async with UnitOfWork(sessions, bus) as uow:
            uow.emit("test.rolled_back", {"n": 3})
            await uow.rollback()
        assert _taken(subscription) == [], "nothing is published before the relay reads it"
        await event_relay.relay_once()
        events = _taken(subscription)
    assert [(e.type, e.data) for e in events] == [
        ("test.one", {"n": 1}),
        ("test.two", {"n": 2, "text": "ünïcode"}),
    ]
    assert events[1].id == events[0].id + 1


async def test_a_later_id_committed_first_waits_for_the_earlier_one(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    await event_relay.relay_once()
    async with bus.subscribe() as subscription, sessions() as slow, sessions() as fast:
        await relay.append(slow, [("test.slow", {})])  # takes the lower id, commits later
        await relay.append(fast, [("test.fast", {})])
        await fast.commit()
        await event_relay.relay_once()
        assert _taken(subscription) == [], "the later id waits for the earlier one"
        await slow.commit()
        await event_relay.relay_once()
        assert [e.type for e in _taken(subscription)] == ["test.slow", "test.fast"]

        monkeypatch.setattr(relay, "GAP_GRACE_SECONDS", 0.2)
        await relay.append(slow, [("test.never", {})])
        await relay.append(fast, [("test.after", {})])
        await fast.commit()
        await slow.rollback()
        waited_from = time.monotonic()
        while not (events := _taken(subscription)):
            await event_relay.relay_once()
            await asyncio.sleep(0.02)
        assert time.monotonic() - waited_from >= 0.2, "skipped only after the grace period"
        assert [e.type for e in events] == ["test.after"]


async def test_old_events_are_purged(
    sessions: async_sessionmaker[AsyncSession], postgres: Database
) -> None:
    # The young rows of the module's earlier tests would hold the purge back (it deletes
    # only a prefix of the ids).
    postgres.rows("DELETE FROM live_events")
    async with sessions() as session:
        await relay.append(session, [("test.old", {}), ("test.new", {})])
        await session.commit()
    postgres.rows(
        "UPDATE live_events SET created_at = now() - interval '2 hours' WHERE type = 'test.old'"
    )
    assert await LiveEventPurger(sessions).purge_once() >= 1
    assert postgres.scalar("SELECT count(*) FROM live_events WHERE type = 'test.old'") == 0
    assert postgres.scalar("SELECT count(*) FROM live_events WHERE type = 'test.new'") == 1


async def test_a_relay_started_on_an_emptied_table_does_not_wait_for_old_ids(
    sessions: async_sessionmaker[AsyncSession], postgres: Database
) -> None:
    async with sessions() as session:
        await relay.append(session, [("test.before", {})])
        await session.commit()
    postgres.rows("DELETE FROM live_events")  # as a purge leaves it; the ids go on
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    await event_relay.relay_once()
    async with bus.subscribe() as subscription:
        async with sessions() as session:
            await relay.append(session, [("test.after", {})])
            await session.commit()
        await event_relay.relay_once()
        assert [e.type for e in _taken(subscription)] == ["test.after"]


async def test_interleaved_ids_of_one_transaction_are_offered_only_while_next(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two transactions appending at once interleave on the sequence: `first` takes the ids
    p+1 and p+3, `second` p+2. Offering `first`'s events publishes p+1 only; p+2 and p+3 come
    from the table, in order, none lost for having been overtaken."""
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    await event_relay.relay_once()
    async with bus.subscribe() as subscription, sessions() as first, sessions() as second:
        offered = await relay.append(first, [("test.first.a", {})])
        await relay.append(second, [("test.second", {})])
        offered += await relay.append(first, [("test.first.b", {})])
        assert offered[1].id - offered[0].id == 2, "the ids of `first` are not consecutive"
        await first.commit()
        event_relay.offer(offered)
        assert [e.type for e in _taken(subscription)] == ["test.first.a"]
        await second.commit()
        await event_relay.relay_once()
        events = _taken(subscription)
    assert [e.type for e in events] == ["test.second", "test.first.b"]
    assert [e.id for e in events] == [offered[0].id + 1, offered[1].id]
