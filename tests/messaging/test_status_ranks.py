"""Every pair of statuses against the documented rules (messaging/status.py)."""

from __future__ import annotations

import itertools

import pytest

from textbridge.messaging import status
from textbridge.providers.plivo.vocabulary import STATUS_MAP

PROGRESS = [status.ACCEPTED, status.SENDING, status.UNKNOWN, status.SUBMITTED, status.SENT]
SUCCESS = [status.DELIVERED, status.READ]
FAILURES = sorted(status.FAILURES)


def _rule(current: str, new: str) -> bool:
    """The rules in words, written independently of the rank numbers."""
    if current == new:
        return False
    if new in FAILURES:
        if current in SUCCESS:
            return False  # a handset confirmed it: a late failure is only history
        if current in FAILURES:
            return _failure_order(current, new)
        return True
    if new in SUCCESS:
        return current not in SUCCESS or SUCCESS.index(new) > SUCCESS.index(current)
    if current in FAILURES or current in SUCCESS:
        return False
    return PROGRESS.index(new) > PROGRESS.index(current)


def _failure_order(current: str, new: str) -> bool:
    order = [status.REJECTED, status.FAILED, status.UNDELIVERED]
    return order.index(new) > order.index(current)


@pytest.mark.parametrize(
    ("current", "new"), list(itertools.product(PROGRESS + SUCCESS + FAILURES, repeat=2))
)
def test_every_pair(current: str, new: str) -> None:
    assert status.advances(current, new) == _rule(current, new)


def test_every_plivo_status_is_mapped_to_one_of_ours() -> None:
    assert set(STATUS_MAP) == {
        "queued",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "rejected",
        "read",
    }
    assert set(STATUS_MAP.values()) <= set(status.RANKS)
