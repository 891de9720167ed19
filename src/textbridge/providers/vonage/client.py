"""Send through Vonage's Messages API v1 with one pooled async httpx client per process.

Answers: 202 ``{"message_uuid"}``, or an RFC 7807 problem (``application/problem+json``:
``type``, ``title``, ``detail``, ``instance``, optional ``invalid_parameters``) mapped onto
base.py's error taxonomy. Transport failures are split as in the Plivo client: nothing left
our side -> `SendUnavailable`; the request may have been taken -> `SendOutcomeUnknown`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from textbridge.providers import transport
from textbridge.providers.base import (
    OutboundMessage,
    SendAuthFailed,
    SendError,
    SendOutcomeUnknown,
    SendRateLimited,
    SendRejected,
    SendResult,
    bounded_wait,
)
from textbridge.providers.vonage.auth import AuthHeader, Clock
from textbridge.providers.vonage.body import request_body
from textbridge.providers.vonage.vocabulary import MESSAGES_PATH

_CODE_IN_TYPE = re.compile(r"#(\d+)\s*$")
_MAX_DETAIL = 500


class VonageMessageClient:
    def __init__(
        self, client: httpx.AsyncClient, api_base_url: str, auth: AuthHeader, clock: Clock
    ) -> None:
        self._url = f"{api_base_url.rstrip('/')}{MESSAGES_PATH}"
        self._client = client
        self._auth = auth
        self._clock = clock

    async def send(self, message: OutboundMessage) -> SendResult:
        headers = {"Authorization": self._auth.value(), "Accept": "application/json"}
        response = await transport.post(
            self._client, "Vonage", self._url, json=request_body(message), headers=headers
        )
        return result(response, self._clock)


def result(response: httpx.Response, clock: Clock = time.time) -> SendResult:
    """A `SendResult` for an accepted message, or raise the matching `SendError`."""
    if 200 <= response.status_code < 300:
        message_uuid = _json(response).get("message_uuid")
        if not isinstance(message_uuid, str) or not message_uuid:
            raise SendOutcomeUnknown("Vonage accepted the request but returned no message_uuid")
        return SendResult(provider_message_id=message_uuid)
    raise error(response, clock)


def error(response: httpx.Response, clock: Clock = time.time) -> SendError:
    status = response.status_code
    problem = _json(response)
    code = provider_code(problem) or str(status)
    detail = describe(problem) or response.reason_phrase or "no detail"
    if status == 429:
        retry_after = retry_after_seconds(response, clock)
        return SendRateLimited(f"Vonage rate limit: {detail}", retry_after=retry_after)
    if status in (401, 403):
        return SendAuthFailed(
            f"Vonage refused our credentials ({status}): {detail}", provider_code=code
        )
    if status >= 500:
        retry_after = retry_after_seconds(response, clock)
        return transport.server_error("Vonage", status, detail, code, retry_after)
    return SendRejected(f"Vonage refused the message ({status}): {detail}", provider_code=code)


def provider_code(problem: dict[str, Any]) -> str | None:
    """The numeric code at the end of the problem's `type` URL (`...messages#1150`)."""
    kind = problem.get("type")
    match = _CODE_IN_TYPE.search(kind) if isinstance(kind, str) else None
    return match.group(1) if match else None


def describe(problem: dict[str, Any]) -> str:
    """`title: detail (invalid parameters: a, b)` from an RFC 7807 problem."""
    parts = [str(problem[key]) for key in ("title", "detail") if problem.get(key)]
    text = ": ".join(parts)
    names = _invalid_parameter_names(problem.get("invalid_parameters"))
    if names:
        text = f"{text} (invalid parameters: {', '.join(names)})".lstrip()
    return text[:_MAX_DETAIL]


def _invalid_parameter_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    names = (item.get("name") for item in value if isinstance(item, dict))
    return [str(name) for name in names if name]


def retry_after_seconds(response: httpx.Response, clock: Clock = time.time) -> float | None:
    """`Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` (epoch or seconds)."""
    retry_after = transport.retry_after(response.headers.get("retry-after"), clock)
    if retry_after is not None:
        return retry_after
    return _seconds_from_reset(response.headers.get("x-ratelimit-reset"), clock)


def _seconds_from_reset(value: str | None, clock: Clock) -> float | None:
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None:
        return None
    # A Unix time (seconds since 1970) rather than a number of seconds to wait.
    if reset > 1_000_000_000:
        reset -= clock()
    return bounded_wait(reset)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
