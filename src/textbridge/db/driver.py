"""A small asyncpg pool of its own for the API send path on PostgreSQL (the driver lane).

Why not the engine's pool: measured on the send path (DESIGN-NOTES, "API send on the driver"),
a checkout with pre-ping is three round trips, and a statement through the session and the
adapter costs about twice its CPU on the bare asyncpg connection. Here a checkout costs no
round trip and statements use asyncpg's prepared-statement cache. A connection PostgreSQL
closed is seen closed by asyncpg and replaced at acquire; one that died unnoticed fails the first
statement (`DISCONNECTS`), and the send path drops it and retries once (nothing was written
yet). asyncpg's pool resets a released connection and closes one whose operation was
cancelled, so no connection comes back with an operation in progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from textbridge.compliance import identity
from textbridge.compliance.identity import AddressHasher
from textbridge.db.conflicts import lost_a_lock_conflict
from textbridge.db.engine import GENERIC_PLANS
from textbridge.realtime.listener import asyncpg_dsn

APPLICATION_NAME = "textbridge-api-send"
# What a statement meets on a connection PostgreSQL closed under it. InternalClientError
# ("cannot switch to state 12; another operation (2) is in progress"): the backend's FATAL
# "terminating connection" arrived while the connection was idle, asyncpg's protocol waits
# for a ReadyForQuery that never comes, and until the socket's end is read the connection
# does not look closed (tests/api/test_send_path.py kills the connections to show it).
DISCONNECTS: tuple[type[BaseException], ...] = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
)


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """At release, instead of asyncpg's reset query (a round trip per send, 6% of the send's
    CPU in the profile): this path's statements run in autocommit and change no session
    state (no SET, LISTEN, advisory lock or cursor). asyncpg still ends an open transaction
    before calling this."""


_T = TypeVar("_T")

# Setup of the API send path's pool (`runtime.build_runtime`). Its statements look up rows by
# key, so one plan serves every value; PostgreSQL's default planned a batch's statement
# (`Combined`) again for each batch, as the arrays' sizes made each custom plan look cheaper
# than the generic one (planning was 10 to 16% of the backends' CPU in the profile).
SEND_SETUP = GENERIC_PLANS


class DriverPool:
    """Opened at the first use (most processes and tests never send through the API)."""

    def __init__(
        self,
        database_url: str,
        max_size: int,
        server_settings: Mapping[str, str] | None = None,
        setup: str | None = None,
    ) -> None:
        """`server_settings` go in the startup packet, which PgBouncer refuses for any but a
        few parameters (`application_name` among them): anything else is `setup`, SQL run
        once on each new connection."""
        self._dsn = asyncpg_dsn(database_url)
        self._max_size = max_size
        self._server_settings = {"application_name": APPLICATION_NAME, **(server_settings or {})}
        self._setup = setup
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self._hasher: AddressHasher | None = None
        self._writers: dict[str, GroupWriter] = {}

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            yield connection

    async def read(self, query: Callable[[asyncpg.Connection], Awaitable[_T]]) -> _T:
        """`query` on a connection, once more on a fresh one if the first was dead (after a
        PostgreSQL restart every pooled connection is): for reads, which are safe to repeat."""
        try:
            async with self.connection() as connection:
                return await query(connection)
        except DISCONNECTS:
            await self.expire()
            async with self.connection() as connection:
                return await query(connection)

    def group_writer(self, sql: str, combined: Combined | None = None) -> GroupWriter:
        """The group commit of `sql` (a statement returning one row) on this pool; a batch
        of more than one runs as `combined` when given. One writer per `sql`: asking for it
        again with another `combined` is a programming error."""
        writer = self._writers.get(sql)
        if writer is None:
            writer = self._writers[sql] = GroupWriter(self, sql, combined)
        elif writer.combined is not combined:
            raise ValueError("this statement's group writer was made with another `combined`")
        return writer

    async def address_hasher(self) -> AddressHasher:
        """This database's address hash (`compliance.identity`), read once."""
        if self._hasher is None:
            async with self.connection() as connection:
                key = await connection.fetchval(identity.KEY_SQL)
            if key is None:
                raise RuntimeError("the address hash key is missing: run `textbridge db upgrade`")
            self._hasher = AddressHasher(bytes.fromhex(key))
        return self._hasher

    async def expire(self) -> None:
        """Replace every connection at its next acquire (after a disconnect, the others may
        be dead too: PostgreSQL restarted or closed them all)."""
        if self._pool is not None:
            await self._pool.expire_connections()

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._closed:
                raise RuntimeError("the driver pool is closed")
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max_size,
                    reset=_keep_session,
                    server_settings=self._server_settings,
                    init=self._run_setup if self._setup else None,
                )
            return self._pool

    async def _run_setup(self, connection: asyncpg.Connection) -> None:
        await connection.execute(self._setup)

    async def aclose(self) -> None:
        for writer in self._writers.values():
            await writer.drain()
        async with self._opening:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


# Batches of one statement in flight at once. With more, concurrent sends would each find a
# free slot and go alone; with fewer, a batch would wait for the previous one's round trip
# before going out. Two keep one batch on the wire while the next one gathers.
WRITES_IN_FLIGHT = 2
MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class Combined:
    """A statement doing the work of many executions of a `GroupWriter`'s statement at once:
    `sql` takes `pack(calls' arguments)` and returns one row per call, in order, with the
    value the call's own statement would have returned. Calls with the same `key` go in
    separate executions of it (one transaction), in their order."""

    sql: str
    pack: Callable[[Sequence[Sequence[Any]]], Sequence[Any]]
    key: Callable[[Sequence[Any]], Hashable]

    def rounds(self, batch: Sequence[_Call]) -> list[list[int]]:
        """The batch's positions in rounds with distinct keys, each call in the first round
        after its key's previous call."""
        rounds: list[list[int]] = []
        seen: dict[Hashable, int] = {}
        for position, call in enumerate(batch):
            key = self.key(call.args)
            round_ = seen.get(key, -1) + 1
            seen[key] = round_
            if round_ == len(rounds):
                rounds.append([])
            rounds[round_].append(position)
        return rounds


@dataclass(slots=True)
class _Call:
    args: Sequence[Any]
    done: asyncio.Future[Any]


class _Grouped:
    """One statement's executions grouped: the calls waiting when a slot frees go in one round
    trip (asyncpg's `fetchmany`: every execution in one implicit
    transaction, all or nothing), and each caller is answered once it is done. A call that
    finds a free slot goes at once, alone: no timer, no added latency for a lone send. A
    batch PostgreSQL refuses is run again one by one, so a refused call fails alone."""

    def __init__(self, pool: DriverPool, sql: str) -> None:
        self._pool = pool
        self._sql = sql
        self._waiting: list[_Call] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.largest_batch = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def _call(self, args: Sequence[Any]) -> Any:
        """The batch is its own task: a caller that goes away (the client hung up) leaves it
        alone."""
        call = _Call(args, asyncio.get_running_loop().create_future())
        self._waiting.append(call)
        self._start()
        return await call.done

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start(self) -> None:
        while self._waiting and self._in_flight < WRITES_IN_FLIGHT:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            self._in_flight += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            task = asyncio.create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[_Call]) -> None:
        try:
            await self._settle(batch)
        except BaseException as exc:  # every caller is answered, whatever happened
            _fail(batch, exc)
            raise
        finally:
            self._in_flight -= 1
            self._start()

    async def _settle(self, batch: list[_Call], attempt: int = 0) -> None:
        outcome = await self._try(batch)
        if not isinstance(outcome, Exception):
            for call, result in zip(batch, outcome, strict=True):
                if not call.done.done():
                    call.done.set_result(result)
        elif self._retryable(outcome) and not attempt:
            await self._pool.expire()  # the others may be dead too
            await self._settle(batch, attempt + 1)
        elif len(batch) > 1 and lost_a_lock_conflict(outcome):
            # Two batches in flight can lock the same conversations in different orders and
            # deadlock (40P01), or lose a serialization conflict (40001): PostgreSQL rolled
            # this one back whole, so nothing of it is stored. One by one, each write holds a
            # single conversation's lock at a time, so it cannot close a cycle again.
            await self._one_by_one(batch)
        elif len(batch) > 1 and isinstance(outcome, (asyncpg.PostgresError, asyncpg.DataError)):
            await self._one_by_one(batch)  # refused as a whole, so nothing was stored
        else:
            _fail(batch, outcome)

    async def _one_by_one(self, batch: list[_Call]) -> None:
        for call in batch:
            await self._settle([call])

    async def _try(self, batch: list[_Call]) -> list[Any] | Exception:
        async with self._pool.connection() as connection:
            try:
                return await self._run(connection, batch)
            except Exception as exc:
                if isinstance(exc, DISCONNECTS):
                    connection.terminate()  # not to be handed out again
                return exc

    def _retryable(self, error: Exception) -> bool:
        raise NotImplementedError

    async def _run(self, connection: asyncpg.Connection, batch: list[_Call]) -> list[Any]:
        raise NotImplementedError


class GroupWriter(_Grouped):
    """Group commit: each caller is answered once the transaction holding its write is
    committed. A disconnect is retried only when asyncpg refused before sending anything
    (InternalClientError: a connection PostgreSQL killed while idle, see DISCONNECTS; a bare
    InterfaceError: a connection already seen closed); any other may have committed, so
    every caller of that batch gets it, as a lone write would."""

    def __init__(self, pool: DriverPool, sql: str, combined: Combined | None = None) -> None:
        super().__init__(pool, sql)
        self.combined = combined
        self.combined_batches = 0  # batches written as one `combined` statement (tests)

    async def execute(self, args: Sequence[Any]) -> Any:
        """Returns once `args`' execution is committed, with the first value of the row it
        returned (None if none); raises what its execution raised."""
        return await self._call(args)

    def _retryable(self, error: Exception) -> bool:
        return (
            isinstance(error, asyncpg.InternalClientError) or type(error) is asyncpg.InterfaceError
        )

    async def _run(self, connection: asyncpg.Connection, batch: list[_Call]) -> list[Any]:
        if len(batch) == 1:
            return [await connection.fetchval(self._sql, *batch[0].args)]
        if self.combined is not None:
            return await self._run_combined(connection, batch, self.combined)
        # asyncpg's `fetchmany`: one transaction, as `executemany`, and the rows in order
        # (the statement returns one row per execution).
        rows = await connection.fetchmany(self._sql, [call.args for call in batch])
        return [row[0] for row in rows]

    async def _run_combined(
        self, connection: asyncpg.Connection, batch: list[_Call], combined: Combined
    ) -> list[Any]:
        rounds = combined.rounds(batch)
        if len(rounds) == 1:  # the common case: one statement in autocommit
            results = await _fetch_combined(connection, combined, batch)
        else:
            results = await _fetch_in_rounds(connection, combined, batch, rounds)
        self.combined_batches += 1
        return results


async def _fetch_in_rounds(
    connection: asyncpg.Connection,
    combined: Combined,
    batch: list[_Call],
    rounds: Sequence[Sequence[int]],
) -> list[Any]:
    results: list[Any] = [None] * len(batch)
    async with connection.transaction():  # all or nothing, as `fetchmany`
        for positions in rounds:
            calls = [batch[position] for position in positions]
            values = await _fetch_combined(connection, combined, calls)
            for position, value in zip(positions, values, strict=True):
                results[position] = value
    return results


async def _fetch_combined(
    connection: asyncpg.Connection, combined: Combined, calls: Sequence[_Call]
) -> list[Any]:
    rows = await connection.fetch(combined.sql, *combined.pack([call.args for call in calls]))
    if len(rows) != len(calls):
        raise RuntimeError(f"{len(rows)} rows for {len(calls)} calls: {combined.sql}")
    return [row[0] for row in rows]


def _fail(batch: Sequence[_Call], error: BaseException) -> None:
    for call in batch:
        if not call.done.done():
            call.done.set_exception(error)
