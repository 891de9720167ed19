"""A unit of work: one session, and the live events it caused, published only after commit."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.realtime.bus import EventBus


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self.session: AsyncSession

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

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        """Queue a live event; it leaves only if the transaction commits."""
        self._pending.append((event_type, data))

    async def commit(self) -> None:
        await self.session.commit()
        pending, self._pending = self._pending, []
        for event_type, data in pending:
            self._bus.publish(event_type, data)

    async def rollback(self) -> None:
        self._pending.clear()
        await self.session.rollback()
