"""When to try a failed send again. The one place that decides retries."""

from __future__ import annotations

from datetime import datetime, timedelta

from textbridge.providers.base import SendError, SendRateLimited

MAX_ATTEMPTS = 5
BASE_DELAY_SECONDS = 2.0
MAX_DELAY_SECONDS = 300.0


def next_attempt_at(error: SendError, attempts: int, now: datetime) -> datetime | None:
    """When to retry after `attempts` tries, or None when the message has failed for good."""
    if not error.retryable or attempts >= MAX_ATTEMPTS:
        return None
    delay = min(BASE_DELAY_SECONDS * 2 ** (attempts - 1), MAX_DELAY_SECONDS)
    if isinstance(error, SendRateLimited) and error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return now + timedelta(seconds=delay)
