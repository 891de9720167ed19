"""`Retry-After` as both providers read it: seconds or an HTTP date, always a usable wait."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from textbridge.providers.base import MAX_RETRY_AFTER_SECONDS, SendRateLimited
from textbridge.providers.transport import retry_after

NOW = 1_790_000_000.0


def clock() -> float:
    return NOW


def http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, tz=UTC), usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("1e300", MAX_RETRY_AFTER_SECONDS),
        ("inf", MAX_RETRY_AFTER_SECONDS),
        ("-inf", 0.0),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        (http_date(30), 30.0),
        (http_date(-30), 0.0),
        (http_date(10 * 365 * 86_400), MAX_RETRY_AFTER_SECONDS),
        ("Mon, 99 Foo 99999 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_read_and_bounded(header: str | None, seconds: float | None) -> None:
    assert retry_after(header, clock) == seconds


@pytest.mark.parametrize("given", [1e300, float("inf"), -1.0, float("nan")])
def test_a_rate_limit_error_bounds_any_wait(given: float) -> None:
    wait = SendRateLimited("x", retry_after=given).retry_after
    assert wait is None or 0.0 <= wait <= MAX_RETRY_AFTER_SECONDS
