"""Errors answered in Plivo's shape: ``{"api_id": "<uuid>", "error": "<message>"}``."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

# A body of a thousand bad fields answers this many, and a count of the rest.
MAX_PROBLEMS = 20


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
    errors = exc.errors()
    problems = [_describe(error) for error in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        problems.append(f"and {len(errors) - MAX_PROBLEMS} more")
    return error_response(400, "; ".join(problems) or "invalid request")


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405s, in Plivo's shape too."""
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def internal_error_handler(_request: Request, _exc: Exception) -> JSONResponse:
    """An unexpected exception: a generic 500, never its text (uvicorn logs the traceback,
    since Starlette raises the exception on once this answer is sent)."""
    return error_response(500, "internal error")


def _describe(error: object) -> str:
    """One problem, bounded: a location part can be a client's key, a message can quote."""
    if not isinstance(error, dict):
        return _bounded(str(error))
    parts = (_bounded(str(part), 64) for part in error.get("loc", ()) if part != "body")
    location = ".".join(parts)
    return f"{location or 'body'}: {_bounded(str(error.get('msg', 'invalid')))}"


def _bounded(text: str, limit: int = 200) -> str:
    cut = text if len(text) <= limit else f"{text[:limit]}..."
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")
