"""A claim takes only what the dispatcher can send now, and `drain` (the graceful stop) lets
what is in flight finish: on a real database, Plivo's answers held by an httpx.MockTransport
until the test releases them."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from textbridge.dispatch.dispatcher import Dispatcher
from textbridge.messaging import status
from textbridge.models import Message
from textbridge.runtime import Runtime

from ..support.live import scaled
from .test_dispatcher import FakePlivo, _queue, accepted, plivo

__all__ = ["plivo"]  # the fixture

CONCURRENCY = 3


@dataclass
class HeldAnswers:
    """Each send reaches the provider and waits there until the test releases one."""

    released: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    arrived: int = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrived += 1
        await self.released.acquire()
        return accepted(request)


async def _until(probe: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while not await probe():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {scaled(timeout)} s")
        await asyncio.sleep(0.01)


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(Message.status, func.count()).group_by(Message.status))
        return {name: count for name, count in rows}


def _dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(
        runtime.sessions,
        runtime.bus,
        runtime.providers,
        lambda message: f"http://textbridge.test/webhooks/plivo/status?ref={message.id}",
        concurrency=CONCURRENCY,
    )


async def _queue_to_many(runtime: Runtime, count: int) -> list[uuid.UUID]:
    """One message to each of `count` recipients (no per-recipient order holds any back)."""
    return [await _queue(runtime, f"+1415555{n:04d}") for n in range(count)]


def _hold_sends(fake: FakePlivo, count: int) -> HeldAnswers:
    held = HeldAnswers()
    fake.answers.extend([held] * count)  # type: ignore[list-item]
    return held


async def test_no_more_rows_are_sending_than_the_dispatcher_sends_at_once(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """Nine messages, three send slots, each send held at the provider: never more than three
    rows in `sending` (a kill leaves at most that many to become `unknown`), and a freed slot
    is claimed again while the other sends are still held."""
    runtime, fake = plivo
    held = _hold_sends(fake, 9)
    await _queue_to_many(runtime, 9)
    dispatcher = _dispatcher(runtime)
    running = asyncio.create_task(dispatcher.run())
    most_sending = 0

    async def sending_is(expected: int, arrived: int) -> bool:
        nonlocal most_sending
        sending = (await _counts(runtime)).get(status.SENDING, 0)
        most_sending = max(most_sending, sending)
        return sending == expected and held.arrived == arrived

    try:
        await _until(lambda: sending_is(CONCURRENCY, CONCURRENCY))
        for arrived in range(CONCURRENCY + 1, 10):
            held.released.release()  # one send answers: its slot is claimed again at once
            await _until(functools.partial(sending_is, CONCURRENCY, arrived))
        for _ in range(CONCURRENCY):
            held.released.release()
        await _until(lambda: sending_is(0, 9))
    finally:
        await dispatcher.drain(grace=scaled(5))
        await asyncio.wait_for(running, scaled(5))
    assert most_sending == CONCURRENCY
    assert await _counts(runtime) == {status.SUBMITTED: 9}


async def test_drain_finishes_the_sends_in_flight_and_claims_nothing_more(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    runtime, fake = plivo
    held = _hold_sends(fake, 6)
    await _queue_to_many(runtime, 6)
    dispatcher = _dispatcher(runtime)
    running = asyncio.create_task(dispatcher.run())
    await _until(functools.partial(_arrived, held, CONCURRENCY))
    draining = asyncio.create_task(dispatcher.drain(grace=scaled(10)))
    await asyncio.sleep(0)  # drain has begun: nothing more is claimed
    for _ in range(CONCURRENCY):
        held.released.release()
    await asyncio.wait_for(draining, scaled(10))
    await asyncio.wait_for(running, scaled(5))
    assert held.arrived == CONCURRENCY
    assert await _counts(runtime) == {status.SUBMITTED: 3, status.ACCEPTED: 3}


async def test_sends_still_held_after_the_grace_are_recorded_at_once(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """Past the grace, a send at the provider becomes `unknown` now (it may have been sent),
    not when its lease expires; nothing is left in `sending`."""
    runtime, fake = plivo
    held = _hold_sends(fake, 5)
    await _queue_to_many(runtime, 5)
    dispatcher = _dispatcher(runtime)
    running = asyncio.create_task(dispatcher.run())
    await _until(functools.partial(_arrived, held, CONCURRENCY))
    await asyncio.wait_for(dispatcher.drain(grace=0.2), scaled(10))
    await asyncio.wait_for(running, scaled(5))
    assert await _counts(runtime) == {status.UNKNOWN: 3, status.ACCEPTED: 2}
    async with runtime.sessions() as session:
        errors = await session.scalars(
            select(Message.error_message).where(Message.status == status.UNKNOWN)
        )
        assert all("stopped during the provider call" in (text or "") for text in errors)


async def _arrived(held: HeldAnswers, count: int) -> bool:
    return held.arrived == count
