"""Scheduled and held messages on a real database: accepted, held, released and sent by the real
dispatcher (Plivo answered by `httpx.MockTransport`), nothing dropped, nothing released twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from textbridge.bootstrap import bootstrap
from textbridge.db.base import utcnow
from textbridge.dispatch import schedule
from textbridge.dispatch.quiet_hours import Window
from textbridge.messaging import outbound, status
from textbridge.models import Contact, Message, MessageEvent
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.textbridge import settings_for

INDIA = "+919812345678"  # Asia/Calcutta: UTC+5:30 all year
UTC_OFFSET_INDIA = timedelta(hours=5, minutes=30)


def plivo_accepts(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        202,
        json={"api_id": "a", "message": "message(s) queued", "message_uuid": [str(uuid.uuid4())]},
    )


@pytest.fixture
async def runtime(database: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = settings_for(database.fresh_url(tmp_path), "http://textbridge.test")
    runtime = build_runtime(settings, httpx.MockTransport(plivo_accepts))
    await bootstrap(runtime)
    yield runtime
    await runtime.aclose()


def closed_window_in_india(now: datetime) -> Window:
    """An hour-long window opening two hours from now, Indian time: closed now."""
    local = now + UTC_OFFSET_INDIA
    start = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    return Window(start, end)


def open_window_in_india(now: datetime) -> Window:
    local = now + UTC_OFFSET_INDIA
    return Window(
        (local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        (local + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )


async def queue(
    runtime: Runtime,
    to: str = INDIA,
    *,
    send_at: datetime | None = None,
    quiet_hours: Window | None = None,
) -> Message:
    async with runtime.unit_of_work() as uow:
        request = outbound.SendRequest(
            to=to,
            text="hello",
            send_at=send_at,
            quiet_hours=str(quiet_hours) if quiet_hours else None,
        )
        message = await outbound.send(uow, request, None, runtime.providers)
        await uow.commit()
        return message


async def load(runtime: Runtime, message_id: uuid.UUID) -> Message:
    async with runtime.sessions() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def history(runtime: Runtime, message_id: uuid.UUID) -> list[str]:
    async with runtime.sessions() as session:
        events = await session.scalars(
            select(MessageEvent.status)
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.received_at)
        )
        return list(events)


async def come_due(runtime: Runtime, *message_ids: uuid.UUID) -> None:
    """The clock reaches the messages' leaving time."""
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.id.in_(message_ids))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def set_time_zone(runtime: Runtime, address: str, zone: str | None) -> None:
    async with runtime.sessions() as session:
        await session.execute(
            update(Contact).where(Contact.address == address).values(time_zone=zone)
        )
        await session.commit()


async def test_a_scheduled_message_waits_for_its_time(runtime: Runtime) -> None:
    send_at = utcnow() + timedelta(hours=1)
    message = await queue(runtime, send_at=send_at)
    assert (message.status, message.next_attempt_at) == (status.SCHEDULED, send_at)
    assert await runtime.dispatcher.dispatch_due() == 0
    assert (await load(runtime, message.id)).status == status.SCHEDULED
    await come_due(runtime, message.id)
    assert await runtime.dispatcher.dispatch_due() == 0  # released to accepted in this pass
    assert (await load(runtime, message.id)).status == status.ACCEPTED
    assert await runtime.dispatcher.dispatch_due() == 1
    assert (await load(runtime, message.id)).status == status.SUBMITTED
    assert await history(runtime, message.id) == [
        status.SCHEDULED,
        status.ACCEPTED,
        status.SENDING,
        status.SUBMITTED,
    ]


async def test_held_at_accept_leaves_when_the_window_opens(runtime: Runtime) -> None:
    window = closed_window_in_india(utcnow())
    message = await queue(runtime, quiet_hours=window)
    assert message.status == status.HELD
    assert message.next_attempt_at is not None
    assert (message.next_attempt_at + UTC_OFFSET_INDIA).time() == window.start
    assert message.next_attempt_at - utcnow() < timedelta(hours=2, minutes=1)
    assert await runtime.dispatcher.dispatch_due() == 0
    await come_due(runtime, message.id)
    await runtime.dispatcher.dispatch_due()
    # Released at the opening (here: the clock was moved, not the window): the claim checks
    # the window again and holds it once more; nothing is sent outside its hours.
    again = await load(runtime, message.id)
    assert again.status == status.ACCEPTED
    await runtime.dispatcher.dispatch_due()
    again = await load(runtime, message.id)
    assert again.status == status.HELD
    assert again.next_attempt_at is not None
    assert (again.next_attempt_at + UTC_OFFSET_INDIA).time() == window.start
    assert await history(runtime, message.id) == [
        status.HELD,
        status.ACCEPTED,
        status.HELD,
    ]


async def test_held_at_claim_when_the_window_closed_since(runtime: Runtime) -> None:
    """Accepted inside its window; by the time the dispatcher claims it (here: the contact's
    zone was corrected to one where it is night), it is outside: held, not sent."""
    now = utcnow()
    message = await queue(runtime, quiet_hours=open_window_in_india(now))
    assert message.status == status.ACCEPTED
    await set_time_zone(runtime, INDIA, "Etc/GMT+6")  # UTC-6: 11.5 hours behind India
    assert await runtime.dispatcher.dispatch_due() == 1  # found, and held rather than sent
    held = await load(runtime, message.id)
    assert held.status == status.HELD
    assert held.attempts == 0
    assert held.next_attempt_at is not None
    assert held.next_attempt_at > now
    await set_time_zone(runtime, INDIA, None)
    await come_due(runtime, message.id)
    await runtime.dispatcher.dispatch_due()  # released
    assert await runtime.dispatcher.dispatch_due() == 1  # inside its window again: sent
    assert (await load(runtime, message.id)).status == status.SUBMITTED
    assert await history(runtime, message.id) == [
        status.ACCEPTED,
        status.HELD,
        status.ACCEPTED,
        status.SENDING,
        status.SUBMITTED,
    ]


async def test_conversation_replies_ignore_quiet_hours(runtime: Runtime) -> None:
    await queue(runtime, quiet_hours=open_window_in_india(utcnow()))  # creates the contact
    await set_time_zone(runtime, INDIA, "Etc/GMT+6")  # night there now
    message = await queue(runtime)  # no quiet_hours: a reply, any hour
    assert message.status == status.ACCEPTED
    # The older message of the pair is claimed first (order per recipient) and held; held,
    # it no longer holds the pair back, and the reply leaves on the next pass.
    assert await runtime.dispatcher.dispatch_due() == 1
    assert (await load(runtime, message.id)).status == status.ACCEPTED
    assert await runtime.dispatcher.dispatch_due() == 1
    assert (await load(runtime, message.id)).status == status.SUBMITTED


async def test_a_later_message_overtakes_a_held_and_a_scheduled_one(runtime: Runtime) -> None:
    """By design, the order guarantee is among messages that are due: a message accepted
    later and due at once passes earlier ones to the same person held for quiet hours or
    scheduled for later, and each of those leaves when its own time comes."""
    held = await queue(runtime, quiet_hours=closed_window_in_india(utcnow()))
    scheduled = await queue(runtime, send_at=utcnow() + timedelta(hours=1))
    later = await queue(runtime)
    assert (held.status, scheduled.status, later.status) == (
        status.HELD,
        status.SCHEDULED,
        status.ACCEPTED,
    )
    assert await runtime.dispatcher.dispatch_due() == 1
    assert (await load(runtime, later.id)).status == status.SUBMITTED
    assert (await load(runtime, held.id)).status == status.HELD
    assert (await load(runtime, scheduled.id)).status == status.SCHEDULED
    await come_due(runtime, scheduled.id)
    await runtime.dispatcher.dispatch_due()  # released to accepted in this pass
    assert await runtime.dispatcher.dispatch_due() == 1
    assert (await load(runtime, scheduled.id)).status == status.SUBMITTED
    assert (await load(runtime, held.id)).status == status.HELD


async def test_a_retry_into_quiet_hours_is_held_with_its_attempts(runtime: Runtime) -> None:
    message = await queue(runtime, quiet_hours=open_window_in_india(utcnow()))
    async with runtime.sessions() as session:  # a first attempt failed and is due again
        await session.execute(update(Message).where(Message.id == message.id).values(attempts=1))
        await session.commit()
    await set_time_zone(runtime, INDIA, "Etc/GMT+6")
    await runtime.dispatcher.dispatch_due()
    held = await load(runtime, message.id)
    assert (held.status, held.attempts) == (status.HELD, 1)


async def test_nothing_is_dropped(runtime: Runtime) -> None:
    now = utcnow()
    numbers = [f"+9198123456{n:02d}" for n in range(30)]
    kinds = [
        {"quiet_hours": closed_window_in_india(now)},
        {"send_at": now + timedelta(minutes=10)},
        {"send_at": now + timedelta(minutes=10), "quiet_hours": closed_window_in_india(now)},
        {},
    ]
    ids = [
        (await queue(runtime, number, **kinds[i % len(kinds)])).id  # type: ignore[arg-type]
        for i, number in enumerate(numbers)
    ]
    for _ in range(10):
        await come_due(runtime, *ids)
        async with runtime.sessions() as session:  # the clock reaches every window's opening
            await session.execute(update(Message).values(quiet_hours=None))
            await session.commit()
        if not await runtime.dispatcher.dispatch_due():
            await runtime.dispatcher.dispatch_due()
        statuses = {(await load(runtime, message_id)).status for message_id in ids}
        if statuses == {status.SUBMITTED}:
            break
    assert statuses == {status.SUBMITTED}


async def test_concurrent_passes_release_each_row_once(
    runtime: Runtime, database: Database
) -> None:
    """Two dispatchers (two engines, as two worker processes would have) release the same due
    rows at once: each row is released exactly once, and sent exactly once."""
    ids = [
        (await queue(runtime, f"+9198123457{n:02d}", send_at=utcnow() + timedelta(hours=1))).id
        for n in range(60)
    ]
    await come_due(runtime, *ids)
    other = build_runtime(runtime.settings, httpx.MockTransport(plivo_accepts))
    try:
        await asyncio.gather(runtime.dispatcher.dispatch_due(), other.dispatcher.dispatch_due())
        for _ in range(5):
            await asyncio.gather(runtime.dispatcher.dispatch_due(), other.dispatcher.dispatch_due())
    finally:
        await other.aclose()
    async with runtime.sessions() as session:
        releases = await session.scalar(
            select(func.count())
            .select_from(MessageEvent)
            .where(MessageEvent.message_id.in_(ids), MessageEvent.status == status.ACCEPTED)
        )
        sent = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.id.in_(ids), Message.status == status.SUBMITTED, Message.attempts == 1)
        )
    assert (releases, sent) == (len(ids), len(ids))


def test_open_window_helper_is_open() -> None:
    now = utcnow()
    assert open_window_in_india(now).contains((now + UTC_OFFSET_INDIA).time())
    assert not closed_window_in_india(now).contains((now + UTC_OFFSET_INDIA).time())


async def test_departure_columns_decide_rows_in_sql(runtime: Runtime) -> None:
    """What the campaign enqueue uses: each row's status and leaving time by its zone key,
    inside one SELECT (here over contacts, whose `time_zone` stands in for the staged key)."""
    now = utcnow()
    window = Window.parse(
        f"{now + UTC_OFFSET_INDIA - timedelta(hours=1):%H:%M}-"
        f"{now + UTC_OFFSET_INDIA + timedelta(hours=1):%H:%M}"
    )  # open now in India, closed 11.5 hours behind it
    keys = {"+10": "Asia/Calcutta", "+11": "Etc/GMT+6", "+12": "Nowhere/Unknown"}
    async with runtime.sessions() as session:
        for address, key in keys.items():
            session.add(Contact(address=address, time_zone=key))
        await session.commit()
        statuses, times = schedule.departure_columns(
            Contact.time_zone, ["Asia/Calcutta", "Etc/GMT+6"], now, window=window
        )
        rows = await session.execute(
            select(Contact.address, statuses, times).where(Contact.address.in_(keys))
        )
        found = {address: (row_status, leaves_at) for address, row_status, leaves_at in rows}
    assert found["+10"] == (status.ACCEPTED, now)
    assert found["+11"][0] == status.HELD
    assert found["+11"][1] > now
    assert found["+12"] == (status.ACCEPTED, now)  # unknown key: the claim decides


async def test_departure_columns_without_a_window_are_constants(runtime: Runtime) -> None:
    send_at = utcnow() + timedelta(hours=1)
    statuses, times = schedule.departure_columns(Contact.time_zone, [], utcnow(), send_at=send_at)
    async with runtime.sessions() as session:
        assert (await session.execute(select(statuses, times))).one() == (
            status.SCHEDULED,
            send_at,
        )


async def test_an_unreadable_window_does_not_stop_the_claim(runtime: Runtime) -> None:
    first = await queue(runtime, quiet_hours=open_window_in_india(utcnow()))
    second = await queue(runtime, "+919812345600")
    async with runtime.sessions() as session:  # a row edited by hand
        await session.execute(
            update(Message).where(Message.id == first.id).values(quiet_hours="whenever")
        )
        await session.commit()
    assert await runtime.dispatcher.dispatch_due() == 2
    for message_id in (first.id, second.id):
        assert (await load(runtime, message_id)).status == status.SUBMITTED
