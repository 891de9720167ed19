"""Which limits the governor holds a message to, on each database: a provider account shared by
its senders, and a sender's own rate from its row (`senders.messages_per_second`), which wins
over TEXTBRIDGE_RATE_SENDERS and is read again after a change without a restart: at once on
the change's notice (NOTIFY, from another process on PostgreSQL), else once stale.

Only the slots the governor hands out are compared (waits decided in one store step), never
the wall clock: these hold on a loaded machine, so they run with the others (no `alone`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.bootstrap import bootstrap
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.dispatch import priority
from textbridge.dispatch.governor import Governor, SenderRates, build_governor
from textbridge.models import Message, Sender
from textbridge.runtime import build_runtime

from ..support.database import Database
from ..support.live import scaled
from ..support.textbridge import SANDBOX_NUMBER, settings_for

ANN, BOB = "+14155550100", "+14155550101"
MARGIN = 0.04
SLACK = 0.02  # waits decided in one step: only float rounding and the test's own pace

MakeGoverned = Callable[..., Awaitable["Governed"]]


def spacing(per_second: float) -> float:
    return 1 / (per_second * (1 - MARGIN))


@dataclass
class Governed:
    governor: Governor
    sessions: async_sessionmaker[AsyncSession]

    async def refresh(self) -> None:
        """What a claim does before `admit`: read the senders' own rates, when stale."""
        async with self.sessions() as session, session.begin():
            await self.governor.refresh(session)

    async def set_rate(self, address: str, per_second: float | None) -> None:
        """On the sender's Plivo row (its Vonage row keeps none)."""
        async with self.sessions() as session, session.begin():
            rate = update(Sender).where(Sender.address == address, Sender.provider == "plivo")
            await session.execute(rate.values(messages_per_second=per_second))

    async def slots(self, *senders: tuple[str, str]) -> list[float]:
        """Admit one message per (provider, sender), in order: their slots, from now."""
        batch = [message(address, provider) for provider, address in senders]
        admitted = await self.governor.admit(batch)
        assert admitted == batch, "every one within max_wait"
        return [self.governor.slot_wait(m.id) for m in batch]

    async def gaps(self, *senders: tuple[str, str]) -> list[float]:
        """The gaps between the slots of one message per (provider, sender), in order."""
        waits = await self.slots(*senders)
        return [later - earlier for earlier, later in pairwise(waits)]


@pytest.fixture
async def governed(database: Database, tmp_path: Path) -> AsyncIterator[MakeGoverned]:
    url = database.fresh_url(tmp_path)
    engines = []

    async def make(**overrides: Any) -> Governed:
        engine = create_engine(url, 4)
        engines.append(engine)
        sessions = create_session_factory(engine)
        settings = settings_for(url, "http://textbridge.test", governor=True, **overrides)
        async with sessions() as session, session.begin():
            for provider in ("plivo", "vonage"):
                for address in (ANN, BOB):
                    session.add(Sender(provider=provider, channel="sms", address=address))
        return Governed(build_governor(settings, sessions), sessions)

    yield make
    for engine in engines:
        await engine.dispose()


def message(sender: str, provider: str = "plivo") -> Message:
    return Message(
        id=uuid.uuid4(),
        provider=provider,
        channel="sms",
        from_address=sender,
        to_address=f"+1415555{uuid.uuid4().int % 10_000:04d}",
        priority=priority.CAMPAIGN,
        segments=1,
        next_attempt_at=utcnow(),
    )


async def test_two_senders_share_their_provider_accounts_limit(governed: MakeGoverned) -> None:
    # Each sender alone could send 100/s; their Plivo account only 5/s, so together they
    # leave one account slot apart, whoever sends. Another provider's account is not counted.
    state = await governed(rate_senders={ANN: 100.0, BOB: 100.0}, rate_plivo_account=5.0)
    gaps = await state.gaps(("plivo", ANN), ("plivo", BOB), ("plivo", ANN), ("plivo", BOB))
    assert gaps == pytest.approx([spacing(5)] * 3, abs=SLACK)
    # Their Vonage rows count against Vonage's account (30/s by default) from now, not after
    # the Plivo account's slots.
    elsewhere = await state.slots(("vonage", ANN), ("vonage", BOB))
    assert elsewhere == pytest.approx([0.0, spacing(30)], abs=SLACK)


async def test_a_senders_own_rate_wins_over_the_settings(governed: MakeGoverned) -> None:
    state = await governed(rate_senders={ANN: 50.0, BOB: 50.0})
    await state.set_rate(ANN, 4.0)  # Ann's Plivo row only (her Vonage row has none)
    await state.refresh()
    assert await state.gaps(("plivo", ANN), ("plivo", ANN)) == pytest.approx(
        [spacing(4)], abs=SLACK
    )
    assert await state.gaps(("plivo", BOB), ("plivo", BOB)) == pytest.approx(
        [spacing(50)], abs=SLACK
    )
    assert await state.gaps(("vonage", ANN), ("vonage", ANN)) == pytest.approx(
        [spacing(50)], abs=SLACK
    )
    await state.set_rate(ANN, None)  # back to TEXTBRIDGE_RATE_SENDERS
    state.governor.rates_changed()
    await state.refresh()
    assert state.governor.sender_rates.rates == {}


async def test_a_changed_rate_is_read_on_notice_or_once_stale(governed: MakeGoverned) -> None:
    state = await governed(rate_senders={BOB: 10.0})
    await state.refresh()
    await state.set_rate(BOB, 2.0)
    await state.refresh()  # read 0 s ago and no notice: the rates held are still used
    assert await state.gaps(("plivo", BOB), ("plivo", BOB)) == pytest.approx(
        [spacing(10)], abs=SLACK
    )
    state.governor.rates_changed()  # the PATCH's notice (here, or over NOTIFY)
    await state.refresh()
    assert state.governor.sender_rates.rates == {("plivo", "sms", BOB): 2.0}
    # Without a notice (a lost NOTIFY), once `sender_refresh_seconds` old.
    state.governor.sender_rates = SenderRates(refresh_seconds=0.0)
    await state.set_rate(BOB, 3.0)
    await state.refresh()
    assert state.governor.sender_rates.rates == {("plivo", "sms", BOB): 3.0}


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_rate_change_reaches_a_worker_process_over_notify(
    database: Database, tmp_path: Path
) -> None:
    # PostgreSQL only: on SQLite one process does everything (the PATCH's own call suffices).
    # Two runtimes on one database, as `serve --no-workers` and `textbridge worker` would be.
    url = database.fresh_url(tmp_path)
    settings = settings_for(url, "http://textbridge.test", governor=True, database_pool_size=4)
    serve, worker = build_runtime(settings), build_runtime(settings)
    serve.workers_role, worker.http_role = False, False
    try:
        await bootstrap(serve)
        serve.start_background()
        worker.start_background()
        await _until(lambda: serve.listener_up and worker.listener_up)
        governor = worker.dispatcher.governor
        governor.sender_rates = SenderRates(refresh_seconds=3600)  # only a notice rereads
        held = Governed(governor, worker.sessions)
        await held.refresh()
        assert governor.sender_rates.rates == {}

        await Governed(governor, serve.sessions).set_rate(SANDBOX_NUMBER, 3.0)
        serve.sender_rates_changed()  # what the PATCH calls after its commit

        async def reread() -> bool:
            await held.refresh()
            return bool(governor.sender_rates.rates)

        await _until_async(reread)
        assert governor.sender_rates.rates == {("plivo", "sms", SANDBOX_NUMBER): 3.0}
    finally:
        await serve.aclose()
        await worker.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + scaled(10)
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _until_async(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + scaled(10)
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
