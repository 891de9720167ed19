"""The rate arithmetic of the governor: GCRA (the generic cell rate algorithm), pure functions.

Each limit key keeps a "theoretical arrival time" (`tat`): the earliest moment its next unit
may leave. A message counted against several keys (its sender, its provider account, its
WhatsApp recipient pair) may leave at the latest of their `tat`s; reserving that slot moves
each key's `tat` one spacing past it. No burst allowance: a provider's limit is a ceiling in
every window, and an idle key starts again at "now", never with saved-up credit.

Times are seconds on one clock (PostgreSQL's, or the process's monotonic clock on SQLite); the
callers only ever turn them into waits relative to `now`, so two processes never compare their
own clocks. Everything here is synchronous and free of I/O, so the same code runs inside a
PostgreSQL transaction that holds the keys' rows and in the in-process store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MIN_FACTOR = 1 / 16
"""The slowest a run of 429s can make a key: a sixteenth of its configured rate."""
CUT_COOLDOWN_SECONDS = 1.0
"""One cut per key per second: the 429s of requests already in flight when the first came back
say the same thing once, not once each (TCP cuts its window once per round trip)."""


@dataclass(slots=True)
class KeyState:
    """One limit key's state, as stored in `governor_limits` (one row per key)."""

    tat: float = 0.0
    """Theoretical arrival time: the earliest free slot."""
    backlog: float = 0.0
    """Where the line of deferred campaign messages ends (estimates; nothing is reserved)."""
    factor: float = 1.0
    """The share of the configured rate in force after the last 429 (recovers with time)."""
    factor_at: float = 0.0
    """When `factor` was last cut."""
    blocked_until: float = 0.0
    """A provider's `Retry-After`: nothing leaves on this key before it."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One limit a message counts against: `interval` seconds per unit at the full rate."""

    key: str
    interval: float
    cost: float = 1.0


@dataclass(frozen=True, slots=True)
class Request:
    """One message asking for a slot. `max_wait`: admitted if its slot is at most this far
    away. `behind_backlog`: when deferred, it queues behind the deferred campaign traffic
    (campaign messages do; a conversation's reply does not)."""

    cells: tuple[Cell, ...]
    max_wait: float
    behind_backlog: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    """`admitted`: the slot is reserved, `wait` seconds from now. Otherwise nothing is
    reserved and `wait` estimates when a slot may be had."""

    admitted: bool
    wait: float


def current_factor(state: KeyState, now: float, recovery_per_second: float) -> float:
    """The rate share in force at `now`: the last cut, recovered linearly since."""
    return min(1.0, state.factor + max(0.0, now - state.factor_at) * recovery_per_second)


def spacing(cell: Cell, state: KeyState, now: float, recovery_per_second: float) -> float:
    return cell.cost * cell.interval / current_factor(state, now, recovery_per_second)


def decide(
    states: Mapping[str, KeyState],
    requests: Sequence[Request],
    now: float,
    recovery_per_second: float,
    lead: float = 0.0,
) -> list[Decision]:
    """Admit or defer each request in order, updating `states` for the admitted ones. No slot
    is earlier than `now + lead`: the time the caller needs, after deciding, before the message
    can leave (a slot that has passed by then is kept late, closer to the next one)."""
    replies: dict[str, float] = {}
    return [
        _decide_one(states, request, now, recovery_per_second, lead, replies)
        for request in requests
    ]


def _decide_one(
    states: Mapping[str, KeyState],
    request: Request,
    now: float,
    recovery: float,
    lead: float,
    replies: dict[str, float],
) -> Decision:
    """`replies`: per key, where the line of this call's deferred replies ends."""
    limits = (max(states[c.key].tat, states[c.key].blocked_until) for c in request.cells)
    slot = max([now + lead, *limits])
    if slot - now <= request.max_wait:
        for cell in request.cells:
            state = states[cell.key]
            if state.tat < now:  # the key was idle: whatever line it remembers is gone
                state.backlog = now
            state.tat = slot + spacing(cell, state, now, recovery)
        return Decision(True, slot - now)
    if not request.behind_backlog:
        # Next to the free slot, not behind the campaign line; but one after the other among
        # those deferred together: a burst of sends deferred to one moment would all be claimed
        # again then, for one to leave and the rest to be deferred again, claim after claim.
        estimate = max([slot, *(replies.get(c.key, slot) for c in request.cells)])
        for cell in request.cells:
            replies[cell.key] = estimate + spacing(cell, states[cell.key], now, recovery)
        return Decision(False, estimate - now)
    estimate = max([slot, *(states[c.key].backlog for c in request.cells)])
    for cell in request.cells:
        state = states[cell.key]
        state.backlog = estimate + spacing(cell, state, now, recovery)
    return Decision(False, estimate - now)


def slow_down(
    state: KeyState, now: float, retry_after: float | None, recovery_per_second: float
) -> None:
    """A 429 on this key: halve its rate (at most once per `CUT_COOLDOWN_SECONDS`, never below
    `MIN_FACTOR`) and hold it for the provider's `Retry-After`, if it gave one."""
    if now - state.factor_at >= CUT_COOLDOWN_SECONDS:
        state.factor = max(MIN_FACTOR, current_factor(state, now, recovery_per_second) / 2)
        state.factor_at = now
    if retry_after is not None:
        state.blocked_until = max(state.blocked_until, now + retry_after)


def idle(state: KeyState, now: float, recovery_per_second: float, after: float) -> bool:
    """True when forgetting the key changes nothing: no slot, line, block or cut in force
    for `after` seconds (the store may then drop its row)."""
    latest = max(state.tat, state.backlog, state.blocked_until)
    return latest < now - after and current_factor(state, now, recovery_per_second) >= 1.0
