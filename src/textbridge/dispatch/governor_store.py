"""Where the governor keeps its limit keys: one row per key in PostgreSQL, shared by every
process; a dictionary on SQLite, where one process does everything.

`update(keys, change)` runs `change(now, states)` on the keys' states as one atomic step and
returns its result. On PostgreSQL that is one transaction: the rows are created if missing,
locked in key order (two processes locking overlapping keys can never deadlock), changed by the
same pure code the in-process store runs, and written back in one statement. `now` is
PostgreSQL's clock, so processes on different hosts never compare their own clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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


class MemoryStore:
    """In-process state: atomic because `change` is synchronous (no await between read and
    write), so no other task of the event loop can interleave."""

    def __init__(self, recovery_per_second: float, clock: Callable[[], float] = time.monotonic):
        self._states: dict[str, KeyState] = {}
        self._recovery = recovery_per_second
        self._clock = clock
        self._purged_at = clock()

    async def update(self, keys: Sequence[str], change: Change[T]) -> T:
        now = self._clock()
        if now - self._purged_at > PURGE_EVERY_SECONDS:
            self._purge(now)
        states = {key: self._states.setdefault(key, KeyState()) for key in sorted(set(keys))}
        return change(now, states)

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

    async def update(self, keys: Sequence[str], change: Change[T]) -> T:
        ordered = sorted(set(keys))
        async with self._sessions() as session, session.begin():
            await session.execute(_CREATE_MISSING, {"keys": ordered})
            rows = (await session.execute(_LOCK, {"keys": ordered})).all()
            now = max(float(row.now) for row in rows)
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
