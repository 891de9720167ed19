"""Where the governor keeps its limit keys: one row per key in PostgreSQL, shared by every
process; a dictionary on SQLite, where one process does everything.

`update(keys, change)` runs `change(now, states)` on the keys' states as one atomic step and
returns its result. On PostgreSQL that is one transaction: the rows are created if missing,
locked in key order (two processes locking overlapping keys can never deadlock), changed by the
same pure code the in-process store runs, and written back in one statement. `now` is
PostgreSQL's clock, so processes on different hosts never compare their own clocks;
`local_time` places a moment of it on this process's monotonic clock (`ClockLink`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.dispatch.gcra import KeyState, idle

T = TypeVar("T")
Change = Callable[[float, dict[str, KeyState]], T]

FORGET_AFTER_SECONDS = 3600.0
"""A key untouched this long is dropped (WhatsApp pairs alone would grow without bound)."""
PURGE_EVERY_SECONDS = 600.0


class Store(Protocol):
    async def update(self, keys: Sequence[str], change: Change[T]) -> T: ...

    def local_time(self, now: float) -> float:
        """`now`, a moment on the store's clock (as `change` got it), on `time.monotonic()`."""
        ...


DRIFT_PER_SECOND = 1e-4
"""How fast two clocks are assumed to drift apart at most (100 ppm; a crystal is within that,
and NTP slews at most 500 ppm only while it corrects): a kept sample's error grows by this."""


@dataclass(frozen=True, slots=True)
class ClockSample:
    offset: float
    """The other clock minus ours."""
    error: float
    """Half the round trip the other clock was read in."""
    taken_at: float
    """On our clock."""

    def error_at(self, moment: float) -> float:
        return self.error + (moment - self.taken_at) * DRIFT_PER_SECOND


TIGHT_SECONDS = 0.002
"""The clock link's error beyond which a claim reads PostgreSQL's clock on its own first
(rows locked by another process make the lock statement's own reading loose)."""
CLOCK_READ_EVERY_SECONDS = 1.0
"""At most this often."""


class ClockLink:
    """PostgreSQL's clock seen from this process's monotonic clock, NTP's way: each reading of
    it is bracketed by our clock before and after its statement, so it was read at the
    midpoint, give or take half the round trip. The best sample is kept, its error growing with
    its age, so one slow round trip never moves the mapping; a sample that contradicts it (a
    clock was stepped) replaces it.

    A reading bracketed by a wait for another transaction's row lock is loose (PostgreSQL
    reads the clock before the wait, or again after it when the row was changed: somewhere in
    the bracket, which is all the error promises). Such a sample is only kept when nothing
    tighter is known; the store then reads the clock on its own (`loose`).

    Why not "our clock when the transaction returned": that is later than the reading by the
    write and the commit after it (milliseconds to tens of them on a loaded machine, different
    for every claim and process), so slots would be kept late by varying amounts, and two
    messages late by different amounts reach the provider closer together than the limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._best: ClockSample | None = None
        self._clock = clock

    def sample(self, before: float, theirs: float, after: float) -> None:
        new = ClockSample(theirs - (before + after) / 2, (after - before) / 2, after)
        best = self._best
        if best is None or new.error <= best.error_at(after):
            self._best = new
        elif abs(new.offset - best.offset) > new.error + best.error_at(after):
            self._best = new  # the two cannot both be right: a clock was stepped

    def local_time(self, theirs: float) -> float:
        """`theirs` on our clock, never earlier than it can be (a slot must not be kept early):
        the estimate plus its error, so at most twice the error late."""
        best = self._best
        if best is None:
            raise LookupError("the other clock was never read")
        return theirs - best.offset + best.error_at(self._clock())

    def loose(self, tight: float) -> bool:
        """True when no sample is known to within `tight` seconds now."""
        return self._best is None or self._best.error_at(self._clock()) > tight


class MemoryStore:
    """In-process state on `time.monotonic()`: atomic because `change` is synchronous (no
    await between read and write), so no other task of the event loop can interleave."""

    def __init__(self, recovery_per_second: float):
        self._states: dict[str, KeyState] = {}
        self._recovery = recovery_per_second
        self._purged_at = time.monotonic()

    async def update(self, keys: Sequence[str], change: Change[T]) -> T:
        now = time.monotonic()
        if now - self._purged_at > PURGE_EVERY_SECONDS:
            self._purge(now)
        states = {key: self._states.setdefault(key, KeyState()) for key in sorted(set(keys))}
        return change(now, states)

    def local_time(self, now: float) -> float:
        return now

    def _purge(self, now: float) -> None:
        self._purged_at = now
        for key, state in list(self._states.items()):
            if idle(state, now, self._recovery, FORGET_AFTER_SECONDS):
                del self._states[key]


_CREATE_MISSING = text(
    "INSERT INTO governor_limits (key) "
    "SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k "
    "ON CONFLICT (key) DO NOTHING"
)
_CLOCK = text("SELECT extract(epoch FROM clock_timestamp())")
_LOCK = text(
    "SELECT key, tat, backlog, factor, factor_at, blocked_until, "
    "extract(epoch FROM clock_timestamp()) AS now "
    "FROM governor_limits WHERE key = ANY(CAST(:keys AS text[])) ORDER BY key FOR UPDATE"
)
_WRITE = text(
    "UPDATE governor_limits AS g SET tat = v.tat, backlog = v.backlog, factor = v.factor, "
    "factor_at = v.factor_at, blocked_until = v.blocked_until, updated_at = clock_timestamp() "
    "FROM unnest(CAST(:keys AS text[]), CAST(:tat AS float8[]), CAST(:backlog AS float8[]), "
    "CAST(:factor AS float8[]), CAST(:factor_at AS float8[]), "
    "CAST(:blocked_until AS float8[])) AS v(key, tat, backlog, factor, factor_at, blocked_until) "
    "WHERE g.key = v.key"
)
_PURGE = text(
    "DELETE FROM governor_limits WHERE greatest(tat, backlog, blocked_until) < "
    "extract(epoch FROM clock_timestamp()) - :after "
    "AND (factor >= 1 OR factor_at < extract(epoch FROM clock_timestamp()) - :after)"
)


class PostgresStore:
    """One row per key in `governor_limits`, shared by every process on the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._purged_at = time.monotonic()
        self._clock_link = ClockLink()
        self._clock_read_at = -math.inf

    async def update(self, keys: Sequence[str], change: Change[T]) -> T:
        ordered = sorted(set(keys))
        async with self._sessions() as session, session.begin():
            await session.execute(_CREATE_MISSING, {"keys": ordered})
            await self._read_clock_if_loose(session)  # the bracket: this statement alone
            before = time.monotonic()
            rows = (await session.execute(_LOCK, {"keys": ordered})).all()
            now = max(float(row.now) for row in rows)
            self._clock_link.sample(before, now, time.monotonic())
            states = {
                row.key: KeyState(
                    row.tat, row.backlog, row.factor, row.factor_at, row.blocked_until
                )
                for row in rows
            }
            result = change(now, states)
            await session.execute(_WRITE, _columns(states))
        if time.monotonic() - self._purged_at > PURGE_EVERY_SECONDS:
            await self._purge()
        return result

    def local_time(self, now: float) -> float:
        return self._clock_link.local_time(now)

    async def _read_clock_if_loose(self, session: AsyncSession) -> None:
        started = time.monotonic()
        if started - self._clock_read_at < CLOCK_READ_EVERY_SECONDS:
            return
        if not self._clock_link.loose(TIGHT_SECONDS):
            return
        self._clock_read_at = started
        theirs = float((await session.execute(_CLOCK)).scalar_one())
        self._clock_link.sample(started, theirs, time.monotonic())

    async def _purge(self) -> None:
        # Only keys whose rate share is back to full: a recent cut must survive an idle spell.
        self._purged_at = time.monotonic()
        async with self._sessions() as session, session.begin():
            await session.execute(_PURGE, {"after": FORGET_AFTER_SECONDS})


def _columns(states: dict[str, KeyState]) -> dict[str, list[object]]:
    values = list(states.values())
    return {
        "keys": list(states),
        "tat": [state.tat for state in values],
        "backlog": [state.backlog for state in values],
        "factor": [state.factor for state in values],
        "factor_at": [state.factor_at for state in values],
        "blocked_until": [state.blocked_until for state in values],
    }
