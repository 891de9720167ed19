"""Errors answered in Plivo's shape: ``{"api_id": "<uuid>", "error": "<message>"}``."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class PlivoApiError(Exception):
    """A request the simulated API refuses with ``status`` and ``message``."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def new_api_id() -> str:
    return str(uuid.uuid4())


def error_response(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    body = {"api_id": new_api_id(), "error": message}
    return JSONResponse(body, status_code=status, headers=headers)


async def plivo_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlivoApiError)
    return error_response(exc.status, exc.message, exc.retry_after)


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Body validation of the control API: 400 naming each bad field."""
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(error) for error in exc.errors()]
    return error_response(400, "; ".join(problems) or "invalid request")


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405s, in Plivo's shape too."""
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


def _describe(error: object) -> str:
    if not isinstance(error, dict):
        return str(error)
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{location or 'body'}: {error.get('msg', 'invalid')}"
