"""`policy`: the tries that never left (the governor held the message back), and `backoff`:
exponential with equal jitter, capped, or the provider's `Retry-After` with jitter added."""

from __future__ import annotations

import random

import pytest

from textbridge.db.base import utcnow
from textbridge.dispatch.governor import SlotMissed
from textbridge.dispatch.policy import (
    MAX_DELAY_SECONDS,
    RETRY_AFTER_JITTER_SECONDS,
    Limits,
    backoff,
    decide,
)
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


# --- backoff: its jitter and its cap ------------------------------------------------------------


class Drawn(random.Random):
    """A random source that always draws `value` (0 is the least jitter, near 1 the most)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("tries", "ceiling"),
    [(0, 2.0), (1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, MAX_DELAY_SECONDS), (60, 300.0)],
)
def test_backoff_doubles_with_equal_jitter_up_to_its_cap(tries: int, ceiling: float) -> None:
    assert backoff(tries, None, Drawn(0.0)) == ceiling / 2  # half of it is fixed
    assert backoff(tries, None, Drawn(0.999999)) == pytest.approx(ceiling, rel=1e-5)
    assert MAX_DELAY_SECONDS == 300.0


def test_backoff_jitter_spreads_a_batch_over_its_half() -> None:
    rng = random.Random(20261201)
    waits = [backoff(3, None, rng) for _ in range(200)]
    assert all(4.0 <= wait <= 8.0 for wait in waits)
    # Spread over the random half, not bunched: a batch failing together comes back apart.
    assert min(waits) < 4.4
    assert max(waits) > 7.6
    assert len({round(wait, 3) for wait in waits}) > 150


def test_retry_after_is_a_minimum_with_jitter_added_never_taken() -> None:
    assert backoff(1, 5.0, Drawn(0.0)) == 5.0
    assert backoff(1, 5.0, Drawn(0.999999)) == pytest.approx(5.0 + RETRY_AFTER_JITTER_SECONDS)
    # The provider's wait replaces the exponential one, whatever the tries (even past the cap).
    assert backoff(30, 3600.0, Drawn(0.5)) == 3600.5
    rng = random.Random(7)
    assert all(5.0 <= backoff(2, 5.0, rng) < 6.0 for _ in range(100))


def test_a_503_is_retried_after_the_backoff_of_its_attempts_and_429s_do_not_count() -> None:
    limits = Limits(max_attempts=5)
    now = utcnow()
    # The third try, the first two answered 429: one attempt used, so the first backoff (1-2 s).
    retry = decide(SendUnavailable("503"), "plivo", 3, 2, now, limits)
    assert retry.status == status.ACCEPTED
    assert retry.next_attempt_at is not None
    assert 1.0 <= (retry.next_attempt_at - now).total_seconds() <= 2.0
    told = decide(SendUnavailable("503", retry_after=30.0), "plivo", 1, 0, now, limits)
    assert told.next_attempt_at is not None
    assert 30.0 <= (told.next_attempt_at - now).total_seconds() <= 31.0
    last = decide(SendUnavailable("503"), "plivo", 7, 2, now, limits)  # 5 used of 5
    assert last.status == status.FAILED
    assert last.error_message is not None
    assert "gave up after 5 attempts" in last.error_message
