"""What becomes of a send: the one place that turns a provider's answer into a status.

Every case, and where it is decided (the adapters only sort answers into the error classes of
`providers/base.py`; this module alone decides what each class means for the message)::

    case                                         error class          becomes
    -------------------------------------------  -------------------  ---------------------------
    2xx with the provider's message id           SendResult           submitted
    refused connection, connect/pool timeout     SendUnavailable      retry (uses an attempt)
    503 (with or without Retry-After)            SendUnavailable      retry (uses an attempt),
                                                                      not before Retry-After
    429 (Plivo; Vonage #1000 "Throttled")        SendRateLimited      retry, attempt NOT used,
                                                                      not before Retry-After;
                                                                      failed after
                                                                      max_rate_limited 429s
    error of ours before the provider call       SendUnavailable      retry (uses an attempt)
    no rate slot kept in time (the governor)     SlotMissed           like a 429: retry, attempt
                                                                      NOT used (it never left)
    read timeout / connection lost after send    SendOutcomeUnknown   unknown (never resent)
    500, 502, 504, any other 5xx                 SendOutcomeUnknown   unknown (never resent)
    2xx without a message id                     SendOutcomeUnknown   unknown (never resent)
    no answer within the per-call deadline       SendOutcomeUnknown   unknown (never resent)
    the adapter crashed during the call          SendOutcomeUnknown   unknown (never resent)
    a lease expired while sending (process died) (lease recovery)     unknown (never resent)
    400/404/422: validation, unknown number,     SendRejected         failed, provider's code
      blocked sender or recipient                                     and a readable reason
    401/403: our credentials refused             SendAuthFailed       failed
    provider not configured                      SendError            failed
    a retryable error on the last attempt        (any retryable)      failed, with its code

`unknown` is settled later by a status callback (it names the message by our reference), or by
a person: `textbridge messages review`, `POST /api/v1/messages/{id}/resend | close`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from textbridge.messaging import status
from textbridge.providers.base import (
    SendError,
    SendOutcomeUnknown,
    SendRateLimited,
    SendResult,
)

MAX_ATTEMPTS: Final = 5
MAX_RATE_LIMITED: Final = 100
BASE_DELAY_SECONDS: Final = 2.0
MAX_DELAY_SECONDS: Final = 300.0
RETRY_AFTER_JITTER_SECONDS: Final = 1.0
"""Spread over waits that honour a `Retry-After`, so that a batch told "retry in 5 s" does not
come back in one burst (always added, never subtracted: the wait asked for is a minimum)."""

REASONS: Final[dict[tuple[str, str], str]] = {
    # Vonage Messages API problem codes (`type` ends in `#<code>`), from
    # https://developer.vonage.com/api-errors/messages
    ("vonage", "1010"): "the request missed a mandatory parameter",
    ("vonage", "1020"): "a parameter was invalid (often the number)",
    ("vonage", "1022"): "the WhatsApp template or its parameters were invalid",
    ("vonage", "1040"): "the number was not recognised (unknown prefix)",
    ("vonage", "1050"): "the number is barred: it may not receive messages",
    ("vonage", "1060"): "the Vonage account is barred from sending",
    ("vonage", "1070"): "the Vonage account has no credit left",
    ("vonage", "1120"): "the sender id is not allowed at the destination",
    # Plivo error codes (https://www.plivo.com/docs/messaging/troubleshooting/error-codes);
    # Plivo answers a send with an HTTP status and reports these in the status callback.
    ("plivo", "200"): "the recipient opted out (STOP) of messages from this sender",
    ("plivo", "40"): "the source number is invalid, not SMS-enabled or not ours",
    ("plivo", "50"): "the destination number is invalid",
    ("plivo", "900"): "the Plivo account has no credit left",
    ("plivo", "400"): "Plivo refused a parameter (often the number or the text)",
    ("plivo", "404"): "Plivo did not find a resource the request named (the sender?)",
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_attempts: int = MAX_ATTEMPTS
    """Tries that use up an attempt (everything but a 429), then `failed`."""
    max_rate_limited: int = MAX_RATE_LIMITED
    """429 answers for one message before it is `failed`: a provider refusing forever shows."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The status a send's outcome leads to, and what changes with it."""

    status: str
    error_code: str | None = None
    error_message: str | None = None
    next_attempt_at: datetime | None = None
    rate_limited: bool = False
    """The answer was a 429: counted in `rate_limited`, not as a used-up attempt."""


def decide(
    outcome: SendResult | SendError,
    provider: str,
    attempts: int,
    rate_limited: int,
    now: datetime,
    limits: Limits,
) -> Decision:
    """What `outcome` means for a message tried `attempts` times (this try included), of
    which `rate_limited` were answered 429 before this one."""
    if isinstance(outcome, SendResult):
        return Decision(status.SUBMITTED)
    code, message = outcome.provider_code, readable(outcome, provider)
    if isinstance(outcome, SendOutcomeUnknown):
        return Decision(status.UNKNOWN, code, message)
    if isinstance(outcome, SendRateLimited) or outcome.held_back:
        return _after_rate_limit(outcome, rate_limited + 1, now, limits, message)
    used = attempts - rate_limited
    if not outcome.retryable or used >= limits.max_attempts:
        if outcome.retryable:
            message = f"{message} (gave up after {used} attempts)"
        return Decision(status.FAILED, code, message[:500])
    retry_at = now + timedelta(seconds=backoff(used, outcome.retry_after))
    return Decision(status.ACCEPTED, code, message, retry_at)


def _after_rate_limit(
    outcome: SendError, count: int, now: datetime, limits: Limits, message: str
) -> Decision:
    if count >= limits.max_rate_limited:
        message = f"{message} (answered 429 {count} times; giving up)"
        return Decision(status.FAILED, outcome.provider_code, message[:500], rate_limited=True)
    retry_at = now + timedelta(seconds=backoff(count, outcome.retry_after))
    return Decision(status.ACCEPTED, outcome.provider_code, message, retry_at, rate_limited=True)


def backoff(tries: int, retry_after: float | None, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `tries`-th failure: exponential with "equal jitter" (half
    fixed, half random), or the provider's `Retry-After` plus a little jitter when it said."""
    draw: float = (rng or random).random()
    if retry_after is not None:
        return retry_after + draw * RETRY_AFTER_JITTER_SECONDS
    ceiling = min(BASE_DELAY_SECONDS * 2.0 ** max(tries - 1, 0), MAX_DELAY_SECONDS)
    return ceiling / 2 + draw * ceiling / 2


def readable(error: SendError, provider: str) -> str:
    """The error text, with what the provider's code means when we know it."""
    text = str(error)
    reason = REASONS.get((provider, error.provider_code or ""))
    if reason and reason not in text:
        text = f"{reason}: {text}"
    return text[:500]
