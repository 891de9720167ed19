"""Live events across processes (PostgreSQL): the `live_events` table is the stream.

A unit of work appends its events to the table in its own transaction (`append`), so an event
exists if and only if its change committed, whichever process made it; the same statement
NOTIFYs `textbridge_events`, which PostgreSQL delivers at commit. Every process that serves
event streams runs one `EventRelay`: woken by that notification (or by its poll when the
listener is down) it reads the rows after the last one it published, in id order, and
publishes them to its in-process `EventBus`. Row ids are the SSE event ids.

Identity values are taken before commit, so a later id can commit first. The relay publishes
only a gap-free run of ids: when an id is missing it waits for it (its transaction is
committing; its NOTIFY will wake the relay) and skips it only after `GAP_GRACE_SECONDS`, when
its transaction must have rolled back. Order on every stream is thus id order.

Rows are deleted an hour after they were written (`LiveEventPurger`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.base import utcnow
from textbridge.logging import RepeatedErrors
from textbridge.models import LiveEvent
from textbridge.polling import PollingLoop, wait_awhile
from textbridge.realtime.bus import Event, EventBus
from textbridge.realtime.listener import EVENTS

log = structlog.get_logger(__name__)

BATCH = 1000
GAP_GRACE_SECONDS = 5.0
GAP_POLL_SECONDS = 0.25
FALLBACK_POLL_SECONDS = 0.5  # while the listener is down
IDLE_POLL_SECONDS = 5.0  # while it is up: a safety net only
RETENTION = timedelta(hours=1)
PURGE_BATCH = 5000
PURGE_INTERVAL_SECONDS = 600.0
_NO_LIMIT = 2**63 - 1

_APPEND = text(
    """
    WITH appended AS (
        INSERT INTO live_events (type, data, created_at)
        SELECT event ->> 'type', event -> 'data', now()
        FROM jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(event, n)
        ORDER BY n
        RETURNING id
    )
    SELECT pg_notify(:channel, ''), ids
    FROM (SELECT array_agg(id ORDER BY id) AS ids FROM appended) AS done
    """
)


_LAST_ID = text("SELECT pg_sequence_last_value(pg_get_serial_sequence('live_events', 'id'))")


async def append(
    session: AsyncSession, events: Sequence[tuple[str, dict[str, Any]]]
) -> list[Event]:
    """Write `events` in the session's transaction, in order, with one statement; returns
    them with their ids (for `EventRelay.offer`, once committed)."""
    rows = [{"type": event_type, "data": data} for event_type, data in events]
    result = await session.execute(_APPEND, {"events": json.dumps(rows), "channel": EVENTS})
    ids = result.one()[1]
    return [Event(kind, data, id_) for id_, (kind, data) in zip(ids, events, strict=True)]


async def events_after(
    session: AsyncSession, after: int, up_to: int | None = None, limit: int = BATCH
) -> Sequence[tuple[int, str, dict[str, Any]]]:
    """The stored events with ids after `after` (and at most `up_to`), in id order."""
    query = select(LiveEvent.id, LiveEvent.type, LiveEvent.data).where(LiveEvent.id > after)
    if up_to is not None:
        query = query.where(LiveEvent.id <= up_to)
    rows = await session.execute(query.order_by(LiveEvent.id).limit(limit))
    return [(row[0], row[1], row[2]) for row in rows]


async def last_id_taken(session: AsyncSession) -> int:
    """The last id the table's sequence gave out, committed or not (0 before the first)."""
    return int(await session.scalar(_LAST_ID) or 0)


class EventRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        listening: Callable[[], bool],
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._listening = listening
        self._published: int | None = None  # the last id published (or skipped)
        self._gap: tuple[int, float] | None = None  # the id waited for, since when
        self._wake = asyncio.Event()
        self._errors = RepeatedErrors(log)

    def wake(self) -> None:
        self._wake.set()

    def offer(self, committed: Sequence[Event]) -> None:
        """Events this process has just committed: published at once while each is the next
        id (no query, no waiting for their NOTIFY); the relay reads the rest from the table.

        The ids of one transaction need not be consecutive: two transactions appending at
        once interleave on the sequence (A takes 5 and 7, B takes 6). Publishing A's 7 would
        mark 6 as published before it was, and the relay would then skip it for good."""
        for event in committed:
            if self._published is None or event.id > self._published + 1:
                self.wake()
                return
            if event.id <= self._published:
                continue  # the relay read it from the table first
            self._gap = None
            self._published = event.id
            self._bus.deliver(event)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                more = await self.relay_once()
            except Exception:
                self._errors.exception("relaying live events failed")
                more = False
            else:
                self._errors.recovered()
            if not more:
                await wait_awhile(self._wake, self._poll_seconds())

    def _poll_seconds(self) -> float:
        if self._gap is not None:
            return GAP_POLL_SECONDS
        return IDLE_POLL_SECONDS if self._listening() else FALLBACK_POLL_SECONDS

    async def relay_once(self) -> bool:
        """Publish the committed events after the last one published; True when a full batch
        was read (more may be waiting)."""
        async with self._sessions() as session:
            # One statement, so no transaction: BEGIN and ROLLBACK around it were two of its
            # three round trips, paid in every process for every transaction that emits.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            if self._published is None:
                # Streams start now: what was written before is history. The sequence, not
                # max(id): after a purge or truncate the table may be empty while the ids go on
                # (a start at 0 would wait for ids that will never come).
                self._published = await last_id_taken(session)
                self._bus.start_at(self._published)
                return False
            rows = await events_after(session, self._published)
        for event_id, event_type, data in rows:
            if event_id <= self._published:
                continue  # offered meanwhile (`offer`)
            if event_id != self._published + 1 and not self._gap_given_up(self._published + 1):
                return False
            self._gap = None
            self._published = event_id
            self._bus.deliver(Event(event_type, data, event_id))
        return len(rows) == BATCH

    def _gap_given_up(self, missing: int) -> bool:
        now = time.monotonic()
        if self._gap is None or self._gap[0] != missing:
            self._gap = (missing, now)
            return False
        if now - self._gap[1] < GAP_GRACE_SECONDS:
            return False
        log.info("live event ids skipped: their transaction did not commit", first=missing)
        return True


class LiveEventPurger:
    """Deletes live events older than `RETENTION`, in bounded batches, oldest ids first and
    only ever a prefix of the ids (a row written late by a long transaction has an old
    `created_at` and a new id: it waits for its elders). A reconnecting stream can then tell
    whether what it missed is still all there: the oldest row left is right after its id."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._loop = PollingLoop("live-event-purge", PURGE_BATCH, PURGE_INTERVAL_SECONDS)

    async def run(self) -> None:
        await self._loop.run(self.purge_once)

    async def purge_once(self) -> int:
        cutoff = utcnow() - RETENTION
        young = select(func.min(LiveEvent.id)).where(LiveEvent.created_at >= cutoff)
        oldest = (
            select(LiveEvent.id)
            .where(LiveEvent.id < func.coalesce(young.scalar_subquery(), _NO_LIMIT))
            .order_by(LiveEvent.id)
            .limit(PURGE_BATCH)
        )
        async with self._sessions() as session:
            result = await session.execute(delete(LiveEvent).where(LiveEvent.id.in_(oldest)))
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
