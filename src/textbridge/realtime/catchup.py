"""Catching up after a reconnect: the events a stream missed, by `Last-Event-ID`.

A stream subscribes first, so that its queue holds every event after the bus's `last_id` at
that instant (`Subscription.start`); then it replays the events after the client's id up to
that `start` and goes on with its queue. The two parts meet with no gap and no duplicate.

Where the missed events come from:

- PostgreSQL: the `live_events` table (rows are kept an hour; the purger only ever deletes a
  prefix of the ids). Another process may have shown the client ids this process's relay has
  not reached yet: those are skipped when they arrive live.
- SQLite: the bus's ring of recent events (one process, so one numbering). An erasure may
  have run in another process (the CLI) since the ring took the events to replay: they may
  hold the erased person's texts, so an erasure recorded after the first of them means reset.

When what was missed is no longer all there (purged, out of the ring, from before a restart)
or is more than `REPLAY_LIMIT` events, or the id was never given out, the stream says `reset`:
the client loads its state again, as on a first connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.models import AuditEntry, LiveEvent
from textbridge.realtime.bus import Event, EventBus
from textbridge.realtime.relay import events_after, last_id_taken

REPLAY_LIMIT = 10_000
PAGE = 1000
ERASURE_MARGIN = timedelta(seconds=5)
"""An event is stamped when published, just after its commit: an erasure recorded a little
before the stamp may still have come after the event's commit. A reset too many is harmless."""
ERASED_ACTION = "contact.erased"


@dataclass(frozen=True, slots=True)
class Replay:
    """The events after `after` and up to `up_to` are all there: replay them."""

    after: int
    up_to: int


async def plan(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession], after: int, start: int
) -> Replay | None:
    """How a stream subscribed at `start` catches up from the client's `after`; None: reset."""
    if after == start:
        return Replay(after, after)
    if after > start:  # shown by a process whose relay is ahead of ours, or never given out
        return Replay(after, after) if await _given_out(bus, sessions, after) else None
    if start - after > REPLAY_LIMIT:
        return None
    if not bus.durable:
        oldest = bus.recent[0].id if bus.recent else None
        if oldest is not None and await _erased_since(sessions, _first_after(bus, after)):
            return None
    else:
        async with sessions() as session:
            oldest = await session.scalar(select(func.min(LiveEvent.id)))
    # Ids are dense on SQLite; on PostgreSQL a hole before `oldest` may also be a rolled-back
    # transaction's id: a reset then is one refetch too many, never an event lost.
    if oldest is None or oldest > after + 1:
        return None
    return Replay(after, start)


def _first_after(bus: EventBus, after: int) -> Event | None:
    return next((event for event in bus.recent if event.id > after), None)


async def _erased_since(sessions: async_sessionmaker[AsyncSession], first: Event | None) -> bool:
    """Whether a person was erased after `first`, the oldest event to replay, was seen."""
    if first is None:
        return False
    async with sessions() as session:
        found = await session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.action == ERASED_ACTION,
                AuditEntry.at >= first.seen_at - ERASURE_MARGIN,
            )
            .limit(1)
        )
    return found is not None


async def _given_out(bus: EventBus, sessions: async_sessionmaker[AsyncSession], id_: int) -> bool:
    """Whether `id_` (beyond what this bus has delivered) can be a real event id."""
    if not bus.durable:
        return False  # one process: it gave out every id there is
    async with sessions() as session:
        return id_ <= await last_id_taken(session)


async def replay(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession], what: Replay
) -> AsyncIterator[Event]:
    """The missed events, in id order."""
    if not bus.durable:
        for event in list(bus.recent):
            if what.after < event.id <= what.up_to:
                yield event
        return
    after = what.after
    while after < what.up_to:
        async with sessions() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            rows = await events_after(session, after, what.up_to, PAGE)
        for event_id, event_type, data in rows:
            yield Event(event_type, data, event_id)
        if len(rows) < PAGE:
            return
        after = rows[-1][0]
