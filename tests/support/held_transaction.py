"""A PostgreSQL transaction held open in a thread of its own: its statements run and keep
their row locks until the caller lets it commit, so that a test can make the app wait on a
lock at a chosen moment."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg  # type: ignore[import-untyped]

from textbridge.realtime.listener import asyncpg_dsn


@contextmanager
def held_transaction(
    url: str, statements: tuple[str, ...], argument: str, *, roll_back: bool = False
) -> Iterator[threading.Event]:
    """Run `statements` (each taking `argument` as `$1`) in one transaction; it commits (or
    rolls back, with `roll_back`) when the yielded event is set, or when the block ends."""
    done, commit = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            transaction = connection.transaction()
            await transaction.start()
            for statement in statements:
                await connection.execute(statement, argument)
            done.set()
            while not commit.is_set():
                await asyncio.sleep(0.01)
            await (transaction.rollback() if roll_back else transaction.commit())
        finally:
            await connection.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert done.wait(30)
        yield commit
    finally:
        commit.set()
        holder.join()
