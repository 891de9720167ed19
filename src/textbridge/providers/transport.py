"""What every provider client does with its HTTP call: map transport failures onto the send
error taxonomy, where the line between "safe to retry" and "maybe sent" is drawn once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from textbridge.providers.base import (
    SendError,
    SendOutcomeUnknown,
    SendUnavailable,
    bounded_wait,
)

# Raised before a byte of the request left our side: safe to try again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


async def post(client: httpx.AsyncClient, provider: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.post(url, **kwargs)
    except NOT_SENT as exc:
        raise SendUnavailable(f"could not reach {provider}: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        # The request may have reached the provider and been accepted; never resend blindly.
        raise SendOutcomeUnknown(f"no answer from {provider}: {type(exc).__name__}") from None


def retry_after(value: str | None, clock: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP date
    (RFC 9110 section 10.2.3), bounded by `bounded_wait`; None when absent or unreadable."""
    if not value:
        return None
    try:
        return bounded_wait(float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return bounded_wait(moment.timestamp() - clock())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


UNAVAILABLE = 503
"""The one 5xx that says the provider did not take the request (RFC 9110 section 15.6.4:
"currently unable to handle the request"); the others (500, 502, 504, any other 5xx) may come
after the provider stored the message, so they are ambiguous."""


def server_error(
    provider: str, status: int, detail: str, code: str, retry_after: float | None
) -> SendError:
    """A 5xx answer: 503 is retried (after `retry_after` when given); any other 5xx makes the
    message `unknown` (see `dispatch/policy.py`)."""
    if status == UNAVAILABLE:
        return SendUnavailable(
            f"{provider} unavailable ({status}): {detail}",
            provider_code=code,
            retry_after=retry_after,
        )
    return SendOutcomeUnknown(
        f"{provider} error {status}, it may have taken the message: {detail}", provider_code=code
    )
