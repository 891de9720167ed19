"""The listener: a wake-up in one process reaches the listening roles of another over NOTIFY,
and a listener whose connection is killed reconnects and says so (its roles then catch up)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from textbridge.realtime.listener import (
    APPLICATION_NAME,
    DISPATCH,
    MEDIA,
    PgListener,
    asyncpg_dsn,
)
from textbridge.realtime.wakeups import Wakeups

from ..support.database import Database, own_postgres_database
from ..support.live import scaled


@pytest.fixture(scope="module")
def postgres() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


@contextlib.asynccontextmanager
async def running(listener: PgListener) -> AsyncIterator[PgListener]:
    task = asyncio.create_task(listener.run())
    try:
        await until(lambda: listener.connected)
        yield listener
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(scaled(timeout)):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_wake_up_reaches_the_roles_of_another_process(postgres: Database) -> None:
    woken: list[str] = []
    receiver = PgListener(asyncpg_dsn(postgres.url), {DISPATCH: lambda: woken.append("there")})
    sender = PgListener(asyncpg_dsn(postgres.url), {})
    wakeups = Wakeups()
    wakeups.listener = sender
    wake = wakeups.broadcasting(DISPATCH, lambda: woken.append("here"))
    async with running(receiver), running(sender):
        wake()
        wake()  # coalesced with the first or sent after it: never lost
        await until(lambda: "there" in woken)
    assert woken.count("here") == 2
    assert wakeups.local[DISPATCH] is not wake, "notifications call the local wake only"


async def test_a_killed_listener_reconnects(postgres: Database) -> None:
    connects: list[int] = []
    woken: list[str] = []
    listener = PgListener(
        asyncpg_dsn(postgres.url),
        {MEDIA: lambda: woken.append("media")},
        lambda: connects.append(1),
    )
    async with running(listener):
        killed = postgres.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
        )
        assert killed == 1
        await until(lambda: len(connects) == 2)
        postgres.rows(f"NOTIFY {MEDIA}")
        await until(lambda: woken == ["media"])
