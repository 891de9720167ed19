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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]

from textbridge.compliance import identity
from textbridge.compliance.identity import AddressHasher
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


class DriverPool:
    """Opened at the first use (most processes and tests never send through the API)."""

    def __init__(self, database_url: str, max_size: int) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self._hasher: AddressHasher | None = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            yield connection

    async def address_hasher(self, connection: asyncpg.Connection) -> AddressHasher:
        """This database's address hash (`compliance.identity`), read once."""
        if self._hasher is None:
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
                    server_settings={"application_name": APPLICATION_NAME},
                )
            return self._pool

    async def aclose(self) -> None:
        async with self._opening:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
