"""Journal retention: applied and unverified entries are deleted after the configured number
of days (an unsigned callback is kept that long for an admin to review: anyone can send one, so
it cannot be kept for ever), refused ones after a day, and signature nonces once they are past
their window; every other state is kept until an admin acts on it.

Deletes go in bounded batches (one short transaction each, so ingest never waits long behind
them); a pass that deleted a full batch runs again at once, else the next one is an hour on.

Each pass (the first at start-up) also makes the months ahead of `messages`' partitions on
PostgreSQL (`db/partitions.py`): the one hourly loop every worker process already runs.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db import partitions
from textbridge.db.base import utcnow
from textbridge.polling import PollingLoop
from textbridge.webhooks import journal

log = structlog.get_logger(__name__)

BATCH = 1000
PASS_INTERVAL_SECONDS = 3600.0
REFUSED_RETENTION = timedelta(days=1)


class JournalPurger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], retention_days: int) -> None:
        self._sessions = sessions
        self._retention = {
            journal.APPLIED: timedelta(days=retention_days),
            journal.UNVERIFIED: timedelta(days=retention_days),
            journal.REFUSED: REFUSED_RETENTION,
        }
        self._loop = PollingLoop("journal-purge", BATCH, PASS_INTERVAL_SECONDS)

    async def run(self) -> None:
        await self._loop.run(self.purge_once)

    async def purge_once(self) -> int:
        """Delete at most one batch per state; returns how many entries were deleted."""
        deleted = {state: await self._purge(state, age) for state, age in self._retention.items()}
        deleted["nonces"] = await self._purge_nonces()
        total = sum(deleted.values())
        if total:
            log.info("journal entries purged", **deleted)
        await self._ensure_months_ahead()
        return total

    async def _ensure_months_ahead(self) -> None:
        """The months' partitions ahead; a failure (its lock timeout under a long
        transaction) is tried again at the next pass and costs this pass nothing."""
        try:
            async with self._sessions() as session:
                await partitions.ensure_months_ahead(session)
        except DBAPIError as exc:
            log.warning(
                "message partitions not made, next pass tries again", error=str(exc).splitlines()[0]
            )

    async def _purge_nonces(self) -> int:
        async with self._sessions() as session:
            count = await journal.purge_nonces(session)
            await session.commit()
        return count

    async def _purge(self, state: str, age: timedelta) -> int:
        async with self._sessions() as session:
            count = await journal.purge(session, state, utcnow() - age, BATCH)
            await session.commit()
        return count
