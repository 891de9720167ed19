"""Two batches of the driver's `GroupWriter` that lock the same rows in opposite orders make a
real deadlock on PostgreSQL; the batch chosen as its victim is rolled back whole and runs
again one call at a time, so every caller is answered with its write stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from textbridge.db.driver import DriverPool, GroupWriter, _Call

from ..support.database import Database, own_postgres_database
from ..support.live import wait_until

# Each row's lock is taken, then held while the statement sleeps: both batches hold their
# first row when they ask for their second.
TOUCH = "UPDATE scratch_rows SET n = n + 1 WHERE id = $1 RETURNING pg_sleep($2)"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Database]:
    with own_postgres_database() as database:
        database.rows("CREATE TABLE scratch_rows (id int PRIMARY KEY, n int NOT NULL)")
        yield database


async def _batch(writer: GroupWriter, *args: tuple[int, float]) -> None:
    loop = asyncio.get_running_loop()
    calls = [_Call(arg, loop.create_future()) for arg in args]
    await writer._settle(calls)
    await asyncio.gather(*(call.done for call in calls))


async def test_a_deadlocked_batch_runs_again_one_by_one(postgres: Database) -> None:
    postgres.rows("INSERT INTO scratch_rows VALUES (1, 0), (2, 0)")
    name = postgres.url.rsplit("/", 1)[1]
    postgres.rows(f"ALTER DATABASE {name} SET deadlock_timeout = '100ms'")
    pool = DriverPool(postgres.url, 4)
    try:
        writer = GroupWriter(pool, TOUCH)
        await asyncio.gather(
            _batch(writer, (1, 0.5), (2, 0.0)),
            _batch(writer, (2, 0.5), (1, 0.0)),
        )
    finally:
        await pool.aclose()
    assert postgres.rows("SELECT id, n FROM scratch_rows ORDER BY id") == [(1, 2), (2, 2)]
    wait_until(  # a real deadlock it was (the database is the module's own)
        lambda: (
            postgres.scalar(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            )
            >= 1
        ),
        timeout=30,
    )
