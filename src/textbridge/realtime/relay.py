"""Live events across processes (PostgreSQL): the `live_events` table is the stream.

A unit of work appends its events to the table in its own transaction (`append`), so an event
exists if and only if its change committed, whichever process made it. A statement trigger
NOTIFYs `textbridge_events` with the inserted rows (`[[id, type, data], ...]`; only the last
id when that is too long for a notification), which PostgreSQL delivers at commit. Every
process that serves event streams runs one `EventRelay`: it publishes the events of each
notification (`notified`) and those its own process has just committed (`offer`) without
reading the table; it reads the table (`relay_once`) when a notification did not carry the
events, when one may have been lost (the listener was down: it polls), and to settle a gap.
Row ids are the SSE event ids.

Identity values are taken before commit, so a later id can commit first. The relay publishes
only a gap-free run of ids: a later event waits (`_held`) until the missing id comes. An id
whose transaction rolled back never comes, and the relay tells so without a timer: every
transaction that inserts into the table first takes a shared advisory lock (`WRITER_LOCK`,
the migration's BEFORE INSERT trigger), before the statement takes an id. When a read finds
an id missing below a later committed one, the transaction holding it had taken the lock
before that read (ids are taken in order), so it is one of the lock's holders right after
the read (`_Gap.writers`), or it has ended. Once all of those have ended, an id still missing
in a later read will never come (its transaction rolled back, or an erasure deleted the row)
and is skipped. Order on every stream is thus id order, with no id skipped that could still
commit.

Rows are deleted an hour after they were written (`LiveEventPurger`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import String, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.base import utcnow
from textbridge.logging import RepeatedErrors
from textbridge.models import LiveEvent
from textbridge.polling import PollingLoop, wait_awhile
from textbridge.realtime.bus import Event, EventBus

log = structlog.get_logger(__name__)

BATCH = 1000
HELD_LIMIT = 10_000  # events held behind a missing id; beyond, the table has them
GAP_POLL_SECONDS = 0.05  # a missing id: its NOTIFY usually comes first (a commit under way)
GAP_REPORT_SECONDS = 5.0  # then a warning, once, naming who holds it up
FALLBACK_POLL_SECONDS = 0.5  # while the listener is down
IDLE_POLL_SECONDS = 5.0  # while it is up: a safety net only
RETENTION = timedelta(hours=1)
PURGE_BATCH = 5000
PURGE_INTERVAL_SECONDS = 600.0
_NO_LIMIT = 2**63 - 1

WRITER_LOCK = (1952608868, 1)
"""The advisory lock every transaction writing live events holds (shared), taken by the
migration `a005c0a5a005`'s trigger before the statement takes an id."""

_APPEND = text(
    """
    WITH appended AS (
        INSERT INTO live_events (type, data, created_at)
        SELECT event ->> 'type', event -> 'data', now()
        FROM jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(event, n)
        ORDER BY n
        RETURNING id
    )
    SELECT array_agg(id ORDER BY id) FROM appended
    """
)

_LAST_ID = text("SELECT pg_sequence_last_value(pg_get_serial_sequence('live_events', 'id'))")

# The virtual transaction ids (never reused, unlike a backend's pid) of the writers now.
_WRITERS = text(
    """
    SELECT coalesce(array_agg(virtualtransaction), '{}') FROM pg_locks
    WHERE locktype = 'advisory' AND classid = :key1 AND objid = :key2 AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
).columns(writers=ARRAY(String()))

_RUNNING = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'virtualxid' AND virtualxid = ANY(:writers)"
).bindparams(bindparam("writers", type_=ARRAY(String())))


async def append(
    session: AsyncSession, events: Sequence[tuple[str, dict[str, Any]]]
) -> list[Event]:
    """Write `events` in the session's transaction, in order, with one statement; returns
    them with their ids (for `EventRelay.offer`, once committed)."""
    rows = [{"type": event_type, "data": data} for event_type, data in events]
    ids = (await session.execute(_APPEND, {"events": json.dumps(rows)})).scalar_one()
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


def payload_events(payload: str) -> list[Event] | int | None:
    """What a `textbridge_events` notification says: its events; or, when they did not fit,
    the last id (int); or None when it says nothing (read the table)."""
    try:
        said = json.loads(payload) if payload else None
    except ValueError:
        return None
    if isinstance(said, int):
        return said
    if not isinstance(said, list):
        return None
    return [Event(kind, data, id_) for id_, kind, data in said]


@dataclass
class _Gap:
    """An id missing before events known committed."""

    since: float
    next_check: float  # when to read the table about it (its NOTIFY usually comes first)
    horizon: int | None = None  # set by a read that found it: the last id that read returned
    writers: list[str] = field(default_factory=list)  # the writers just after that read
    ended: bool = False  # all of `writers` ended before the read under way: it settles
    reported: bool = False


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
        self._held: dict[int, Event] = {}  # known committed, waiting behind a missing id
        self._gap: _Gap | None = None
        self._read_wanted = True
        self._wake = asyncio.Event()
        self._errors = RepeatedErrors(log)

    def wake(self) -> None:
        """Read the table soon (a notification without its events; the listener is back)."""
        self._read_wanted = True
        self._wake.set()

    def notified(self, payload: str) -> None:
        """A `textbridge_events` notification: some transaction committed."""
        said = payload_events(payload)
        if isinstance(said, list):
            self.offer(said)
        elif said is None or self._published is None or said > self._published:
            self.wake()

    def offer(self, committed: Sequence[Event]) -> None:
        """Events known committed (this process's own, or a notification's): published at
        once while each is the next id; a later one is held until the ids before it come.

        The ids of one transaction need not be consecutive: two transactions appending at
        once interleave on the sequence (A takes 5 and 7, B takes 6). Publishing A's 7 before
        6 would reorder the stream, or lose 6 for good."""
        if self._published is None:
            self.wake()  # not started: the first read decides where streams begin
            return
        for event in committed:
            if event.id > self._published:
                self._held[event.id] = event
        self._publish_held()
        if len(self._held) > HELD_LIMIT:
            self._held.clear()  # the table has them
            self.wake()
        elif self._held and self._gap is None:
            now = time.monotonic()
            self._gap = _Gap(now, now + GAP_POLL_SECONDS)
            self._wake.set()  # the loop's wait now ends at the gap's check

    async def run(self) -> None:
        while True:
            self._wake.clear()
            more = False
            if self._read_due():
                try:
                    more = await self.relay_once()
                except Exception:
                    self._errors.exception("relaying live events failed")
                    self._read_wanted = True
                    await asyncio.sleep(FALLBACK_POLL_SECONDS)
                    continue
                self._errors.recovered()
            if more:
                self._read_wanted = True
                continue
            polling = self._gap is None  # else the wait ends at the gap's next check
            if not await _woken(self._wake, self._wait_seconds()) and polling:
                self._read_wanted = True  # a notification may have been lost

    def _read_due(self) -> bool:
        if self._read_wanted or self._published is None:
            return True
        return self._gap is not None and self._gap.next_check <= time.monotonic()

    def _wait_seconds(self) -> float:
        if self._gap is not None:
            return max(self._gap.next_check - time.monotonic(), 0.0)
        return IDLE_POLL_SECONDS if self._listening() else FALLBACK_POLL_SECONDS

    async def relay_once(self) -> bool:
        """Read the table: publish the committed events after the last one published, and
        settle a missing id. True when a full batch was read (more may be waiting)."""
        self._read_wanted = False
        async with self._sessions() as session:
            # No transaction: BEGIN and ROLLBACK around each statement would be two more
            # round trips; each statement reads what was committed when it began.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            if self._published is None:
                # Streams start now: what was written before is history. The sequence, not
                # max(id): after a purge or truncate the table may be empty while the ids go on
                # (a start at 0 would wait for ids that will never come).
                self._published = await last_id_taken(session)
                self._bus.start_at(self._published)
                return False
            gap = self._gap
            if gap is not None and gap.horizon is not None and not gap.ended:
                # Before the read, so that it sees whatever those writers committed.
                gap.ended = not await session.scalar(_RUNNING, {"writers": gap.writers})
            rows = await events_after(session, self._published)
            if not self._publish_rows(rows):
                await self._note_gap(session, rows[-1][0])
            elif not self._held:
                self._gap = None
        return len(rows) == BATCH

    def _publish_rows(self, rows: Sequence[tuple[int, str, dict[str, Any]]]) -> bool:
        """Publish `rows` in id order as far as no id is missing; False at a missing id that
        may still come (the rows after it are held)."""
        assert self._published is not None
        for index, (event_id, event_type, data) in enumerate(rows):
            if event_id > self._published + 1:
                self._skip_missing(event_id)
            if event_id <= self._published:
                continue  # published from a notification meanwhile
            if event_id != self._published + 1:
                for later_id, later_type, later_data in rows[index:]:
                    self._held[later_id] = Event(later_type, later_data, later_id)
                return False
            self._held[event_id] = Event(event_type, data, event_id)
            self._publish_held()
        return True

    def _skip_missing(self, present: int) -> None:
        """Count as published the ids missing before `present` that will never come (see the
        module's docstring), if the gap's writers have all ended."""
        assert self._published is not None
        gap = self._gap
        if gap is None or gap.horizon is None or not gap.ended or gap.horizon <= self._published:
            return
        # A held event is committed: never skipped, whatever the read showed.
        last_missing = min(present, gap.horizon + 1, *self._held) - 1
        log.info(
            "live event ids skipped: their transaction did not commit",
            first=self._published + 1,
            last=last_missing,
        )
        self._published = last_missing
        self._gap = None
        self._publish_held()

    async def _note_gap(self, session: AsyncSession, horizon: int) -> None:
        """A read found an id missing before `horizon`: note who may still commit it."""
        now = time.monotonic()
        gap = self._gap
        if gap is None or gap.horizon is None or gap.ended:
            keys = dict(zip(("key1", "key2"), WRITER_LOCK, strict=True))
            writers = list(await session.scalar(_WRITERS, keys) or [])
            if not self._held:
                return  # the missing id came meanwhile, in its notification
            since = now if gap is None else gap.since
            # No writer left: the next read settles it, at once.
            gap = self._gap = _Gap(since, now, horizon, writers, ended=not writers)
            if gap.ended:
                self._read_wanted = True
                return
        gap.next_check = now + GAP_POLL_SECONDS
        if not gap.reported and now - gap.since >= GAP_REPORT_SECONDS:
            gap.reported = True
            log.warning(
                "live events held: a transaction that took an event id is still open",
                missing=(self._published or 0) + 1,
                writers=len(gap.writers),
            )

    def _publish_held(self) -> None:
        """Publish, as one batch, the held events that follow the last one published."""
        assert self._published is not None
        ready = []
        while (event := self._held.pop(self._published + 1, None)) is not None:
            self._published = event.id
            ready.append(event)
        if not ready:
            return
        if not self._held and self._gap is not None:
            if self._gap.horizon is not None:
                self._read_wanted = True  # a read held rows back: there may be more after
            self._gap = None
        self._bus.deliver_all(ready)


async def _woken(wake: asyncio.Event, seconds: float) -> bool:
    """Whether `wake` was set within `seconds` (else they passed)."""
    await wait_awhile(wake, seconds)
    return wake.is_set()


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
