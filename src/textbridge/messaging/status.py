"""Message statuses and their ranks. A status only ever moves to a higher rank.

Ranks make the outcome independent of arrival order: the final status of a message is the
highest-ranked status among all its events, whatever order they came in.

- A failure outranks `submitted` and `sent`: it is the carrier's last word on a message that
  never arrived.
- `delivered` and `read` outrank every failure: a handset confirmed the message, so a failure
  reported after that is a late or contradictory report, kept in the history but not applied;
  and a `delivered` after `undelivered` (a carrier that retried) is applied.
- Failures are ordered among themselves (`rejected` < `failed` < `undelivered`) only so that
  the outcome never depends on order.
- `scheduled` (waiting for its `send_at`) and `held` (deferred by quiet hours) share the rank of
  `accepted`: all three mean "stored, not yet handed to a provider" and differ only in why it
  waits, so `held` -> `accepted` is not a step back. Only textbridge moves a message between
  them (`dispatch.schedule`), as it moves `sending` back to `accepted` for a retry; a provider's
  report cannot (equal ranks never advance), and none comes before the message was sent.
"""

from __future__ import annotations

from typing import Final

ACCEPTED: Final = "accepted"
SCHEDULED: Final = "scheduled"
HELD: Final = "held"
SENDING: Final = "sending"
UNKNOWN: Final = "unknown"
SUBMITTED: Final = "submitted"
SENT: Final = "sent"
REJECTED: Final = "rejected"
FAILED: Final = "failed"
UNDELIVERED: Final = "undelivered"
DELIVERED: Final = "delivered"
READ: Final = "read"
RECEIVED: Final = "received"

RANKS: Final[dict[str, int]] = {
    ACCEPTED: 0,
    SCHEDULED: 0,
    HELD: 0,
    SENDING: 10,
    UNKNOWN: 20,
    SUBMITTED: 30,
    SENT: 40,
    REJECTED: 50,
    FAILED: 51,
    UNDELIVERED: 52,
    DELIVERED: 60,
    READ: 70,
    RECEIVED: 0,
}

FAILURES: Final = frozenset({REJECTED, FAILED, UNDELIVERED})
# Waiting for a time (their `next_attempt_at`) before they become `accepted`.
DEFERRED: Final = (SCHEDULED, HELD)
OUTBOUND_STATUSES: Final = tuple(status for status in RANKS if status != RECEIVED)


def advances(current: str, new: str) -> bool:
    """True when a message in `current` should move to `new`."""
    return RANKS[new] > RANKS[current]
