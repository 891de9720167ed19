"""`policy.decide` for the tries that never left: the governor held the message back."""

from __future__ import annotations

from textbridge.db.base import utcnow
from textbridge.dispatch.governor import SlotMissed
from textbridge.dispatch.policy import Limits, decide
from textbridge.messaging import status
from textbridge.providers.base import SendUnavailable


def test_a_missed_rate_slot_does_not_use_up_an_attempt() -> None:
    limits = Limits(max_attempts=3, max_rate_limited=5)
    now = utcnow()
    missed = decide(SlotMissed("no rate slot within 2 s"), "plivo", 3, 0, now, limits)
    assert (missed.status, missed.rate_limited) == (status.ACCEPTED, True)
    assert missed.next_attempt_at is not None
    assert missed.next_attempt_at > now
    unreachable = decide(SendUnavailable("refused"), "plivo", 3, 0, now, limits)
    assert unreachable.status == status.FAILED


def test_missed_rate_slots_are_bounded_like_429s() -> None:
    limits = Limits(max_attempts=3, max_rate_limited=5)
    decision = decide(SlotMissed("no rate slot"), "plivo", 6, 4, utcnow(), limits)
    assert decision.status == status.FAILED
