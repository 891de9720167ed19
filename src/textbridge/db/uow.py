"""A unit of work: one session, and the live events it caused, published only after commit.

On PostgreSQL (a `durable` bus) the events are written to `live_events` in the transaction
itself, just before it commits, and reach every process's streams through the relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.realtime import relay
from textbridge.realtime.bus import EventBus
from textbridge.webhooks_out import fanout


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._autocommit = False
        self.session: AsyncSession

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Where this unit of work's session came from: for work split across connections,
        each in a transaction of its own (a large campaign's start)."""
        return self._sessions

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending.clear()
        await self.session.close()

    async def autocommit(self) -> bool:
        """On PostgreSQL, for a unit of work that has run nothing yet: each statement commits
        on its own until `transaction()` (no BEGIN and COMMIT round trips), for work whose
        only write is one atomic statement. False (and nothing changes) otherwise."""
        fresh = not self.session.in_transaction() and not self._pending
        if not fresh or self.session.get_bind().dialect.name != "postgresql":
            return False
        await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        self._autocommit = True
        return True

    @property
    def autocommitting(self) -> bool:
        """Whether statements commit on their own (`autocommit`): none can be undone."""
        return self._autocommit

    async def transaction(self) -> None:
        """Leave `autocommit`: the statements after this one share a transaction."""
        if self._autocommit:
            await self.session.rollback()  # releases the autocommit connection
            self._autocommit = False

    @property
    def durable_events(self) -> bool:
        """Whether live events are rows written in the transaction (PostgreSQL), so a statement
        may write them itself instead of `emit` (see `messaging.repository.store_outbound`)."""
        return self._bus.durable

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        """Queue a live event; it leaves only if the transaction commits."""
        self._pending.append((event_type, data))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: if the block raises, its writes and its live events are
        undone while the rest of the unit of work goes on."""
        mark = len(self._pending)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._pending[mark:]
            raise

    async def commit(self) -> None:
        if self._pending and self._bus.durable:
            committed = await relay.append(self.session, self._pending)
            await self.session.commit()
            self._pending = []
            self._bus.on_commit(committed)
            return
        if not self._pending:
            await self.session.commit()
            return
        # PostgreSQL's `live_events` trigger does this on a durable bus.
        await fanout.fan_out(self.session, self._pending)
        # No deadlock: SQLite transactions begin IMMEDIATE, so whoever holds this lock with a
        # transaction open also holds the database's write lock, which no one else can.
        async with self._bus.commit_order:
            await self.session.commit()
            pending, self._pending = self._pending, []
            self._bus.publish_all(pending)

    async def rollback(self) -> None:
        self._pending.clear()
        self._autocommit = False
        await self.session.rollback()
