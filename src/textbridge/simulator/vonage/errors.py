"""Errors of the fake Vonage Messages API: RFC 7807 ``application/problem+json`` bodies
(``type``, ``title``, ``detail``, ``instance``, and ``invalid_parameters`` on some 422s), each
answer carrying an ``X-Request-Id`` header as Vonage's do."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from fastapi import Request
from fastapi.responses import JSONResponse

from textbridge.simulator.vonage.vocabulary import (
    ERRORS_BASE,
    INTERNAL_TYPE,
    PROBLEMS,
    THROTTLED_TYPE,
    UNAUTHORIZED_TYPE,
)

PROBLEM_JSON = "application/problem+json"


class VonageProblem(Exception):
    """A request the fake Vonage API refuses."""

    def __init__(
        self,
        status: int,
        type_url: str,
        title: str,
        detail: str,
        invalid_parameters: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type_url = type_url
        self.title = title
        self.detail = detail
        self.invalid_parameters = list(invalid_parameters)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "type": self.type_url,
            "title": self.title,
            "detail": self.detail,
            "instance": uuid.uuid4().hex,
        }
        if self.invalid_parameters:
            body["invalid_parameters"] = self.invalid_parameters
        return body


def unprocessable(kind: str, detail: str, parameter: str | None = None) -> VonageProblem:
    """A 422 of one of the kinds in ``PROBLEMS`` (channel, sender, recipient, params, ...)."""
    code, title = PROBLEMS[kind]
    invalid = [{"name": parameter, "reason": detail}] if parameter else []
    return VonageProblem(422, ERRORS_BASE + code, title, detail, invalid)


def unauthorized() -> VonageProblem:
    return VonageProblem(
        401,
        UNAUTHORIZED_TYPE,
        "You did not provide correct credentials.",
        "Check that you're using the correct credentials, and that your account has this "
        "feature enabled",
    )


def send_fault(status: int, retry_after: float | None = None) -> VonageProblem:
    """An injected failure (``fail_next_sends`` or a random fault): a throttle (with Vonage's
    rate-limit headers), an unavailable service (with ``Retry-After`` when given) or another
    internal error."""
    if status == 429:
        wait = f"{retry_after if retry_after is not None else 1:g}"
        headers = {
            "Retry-After": wait,
            "X-RateLimit-Limit": "30",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": wait,
        }
        return VonageProblem(
            429, THROTTLED_TYPE, "Rate Limit Hit", "Please wait, then retry.", headers=headers
        )
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    title = "Service Unavailable" if status == 503 else "Internal Error"
    return VonageProblem(status, INTERNAL_TYPE, title, "Simulated failure.", headers=headers)


async def vonage_problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VonageProblem)
    headers = {"X-Request-Id": str(uuid.uuid4()), **exc.headers}
    return JSONResponse(exc.body(), exc.status, headers=headers, media_type=PROBLEM_JSON)
