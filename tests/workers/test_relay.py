"""The relay publishes committed live events in id order, waiting for an id whose transaction
is still committing and skipping it once that transaction has rolled back (no timer: it ended
without committing). The events come in their NOTIFY; only a notification too long for them
sends the relay to the table."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.realtime import relay
from textbridge.realtime.bus import Event, EventBus, Subscription
from textbridge.realtime.listener import EVENTS, PgListener, asyncpg_dsn
from textbridge.realtime.relay import EventRelay, LiveEventPurger

from ..support.database import Database, own_postgres_database
from ..support.live import scaled


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
    events: list[Event] = []
    while not subscription.queue.empty():
        batch = subscription.queue.get_nowait()
        assert batch is not None
        events.extend(batch.events)
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
    sessions: async_sessionmaker[AsyncSession],
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


async def test_an_id_whose_transaction_rolled_back_is_skipped_once_it_has_ended(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    await event_relay.relay_once()
    async with bus.subscribe() as subscription, sessions() as slow, sessions() as fast:
        await relay.append(slow, [("test.never", {})])  # takes the lower id
        await relay.append(fast, [("test.after", {})])
        await fast.commit()
        for _ in range(3):  # however often it reads, as long as `slow` may still commit
            await event_relay.relay_once()
        assert _taken(subscription) == [], "the later id waits while the earlier may come"
        await slow.rollback()
        await event_relay.relay_once()  # finds the writer gone
        await event_relay.relay_once()  # reads again after it ended: the id never came
        assert [e.type for e in _taken(subscription)] == ["test.after"]


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


@contextlib.asynccontextmanager
async def listening(postgres: Database, read: Callable[[str], None]) -> AsyncIterator[PgListener]:
    listener = PgListener(asyncpg_dsn(postgres.url), {}, readers={EVENTS: read})
    task = asyncio.create_task(listener.run())
    try:
        async with asyncio.timeout(scaled(10)):
            while not listener.connected:
                await asyncio.sleep(0.01)
        yield listener
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def taken_until(subscription: Subscription, count: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(scaled(10)):
        while len(events) < count:
            batch = await subscription.queue.get()
            assert batch is not None
            events.extend(batch.events)
    return events


async def test_events_come_in_their_notification_without_a_read(
    sessions: async_sessionmaker[AsyncSession], postgres: Database
) -> None:
    """Another process's commit (a bus of its own) reaches this relay through the payload of
    its NOTIFY alone: the relay reads the table only once, to start."""
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    await event_relay.relay_once()
    elsewhere = EventBus(durable=True)
    async with listening(postgres, event_relay.notified), bus.subscribe() as subscription:
        async with UnitOfWork(sessions, elsewhere) as uow:
            uow.emit("test.rolled_back", {"n": 0})
            await uow.rollback()
        async with UnitOfWork(sessions, elsewhere) as uow:
            uow.emit("test.one", {"n": 1, "text": "ünïcode"})
            uow.emit("test.two", {"n": 2})
            await uow.commit()
        events = await taken_until(subscription, 2)
    assert [(e.type, e.data) for e in events] == [
        ("test.one", {"n": 1, "text": "ünïcode"}),
        ("test.two", {"n": 2}),
    ]
    assert events[1].id == events[0].id + 1


async def test_events_too_long_for_a_notification_are_read_from_the_table(
    sessions: async_sessionmaker[AsyncSession], postgres: Database
) -> None:
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    payloads: list[str] = []

    def read(payload: str) -> None:
        payloads.append(payload)
        event_relay.notified(payload)

    long_text = "x" * 9000  # a notification's payload must stay under 8000 bytes
    running = asyncio.create_task(event_relay.run())
    try:
        async with listening(postgres, read), bus.subscribe() as subscription:
            # (`subscribe` waits for the relay's start: what comes after is live)
            async with sessions() as session:
                (appended,) = await relay.append(session, [("test.long", {"text": long_text})])
                await session.commit()
            (event,) = await taken_until(subscription, 1)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert payloads == [str(appended.id)], "the notification names the last id only"
    assert (event.id, event.type, event.data) == (appended.id, "test.long", {"text": long_text})


async def test_the_running_relay_waits_for_an_open_writer_and_skips_a_rolled_back_one(
    sessions: async_sessionmaker[AsyncSession], postgres: Database
) -> None:
    """The relay's own loop, fed by the listener: a later id held behind an open transaction's
    is published right after it once that commits, and alone once it rolls back."""
    bus = EventBus(durable=True)
    event_relay = EventRelay(sessions, bus, lambda: True)
    running = asyncio.create_task(event_relay.run())

    async def gap_confirmed_by_a_read() -> None:
        async with asyncio.timeout(scaled(10)):
            while event_relay._gap is None or event_relay._gap.horizon is None:
                await asyncio.sleep(0.01)

    try:
        async with (
            listening(postgres, event_relay.notified),
            bus.subscribe() as subscription,
            sessions() as slow,
            sessions() as fast,
        ):
            await relay.append(slow, [("test.slow", {})])
            await relay.append(fast, [("test.fast", {})])
            await fast.commit()
            await gap_confirmed_by_a_read()
            assert subscription.queue.empty(), "the later id waits for the open one"
            await slow.commit()
            first = await taken_until(subscription, 2)
            await relay.append(slow, [("test.never", {})])
            await relay.append(fast, [("test.after", {})])
            await fast.commit()
            await gap_confirmed_by_a_read()
            assert subscription.queue.empty(), "the later id waits for the open one"
            await slow.rollback()
            second = await taken_until(subscription, 1)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert [e.type for e in first] == ["test.slow", "test.fast"]
    assert [e.type for e in second] == ["test.after"]
