"""One error shape for the whole API: {"error": {"code", "message", "field"}}.

An exception no handler expected is `unexpected_error`: a 500 that says only
`internal_error` and a request id, never the exception's text (SQL, a driver's message, a
path, a value); the traceback is logged with the same id (`secure_responses` calls it).
"""

from __future__ import annotations

import re
import traceback
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Scope

from textbridge.body_limit import BodyTooLarge, too_large_response
from textbridge.logging import access_path
from textbridge.messaging.errors import MessagingError
from textbridge.messaging.text import excerpt

log = structlog.get_logger(__name__)
_UNION_MEMBER = re.compile(r"(dict|list|tuple|set|frozenset)\[.*\]")
# Inputs a 422 never quotes, whatever their value.
SECRET_WORDS = ("key", "token", "secret", "password", "authorization", "cookie")
# A field path part can be a client's dict key: cut too, but longer than a quoted value.
FIELD_PART_LIMIT = 64
FIELD_LIMIT = 300
# A body of a thousand bad items is one 422 of this many problems, and a count of the rest.
MAX_PROBLEMS = 20
# A proxy's request id (nginx `$request_id`, a load balancer's) is reused when it looks like one.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.field = status, code, field
        self.retry_after = retry_after  # seconds, sent as `Retry-After` (429)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(MessagingError, _messaging_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(
        error_body(exc.code, str(exc), exc.field), status_code=exc.status, headers=headers
    )


async def _messaging_error(_: Request, exc: MessagingError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, str(exc), exc.field, **exc.details), status_code=exc.status
    )


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    problems = [_problem(error) for error in errors[:MAX_PROBLEMS]]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    body = error_body(
        "validation_error",
        f"{first['field']}: {first['message']}",
        first["field"],
        problems=problems,
        **({"more_problems": len(errors) - MAX_PROBLEMS} if len(errors) > MAX_PROBLEMS else {}),
    )
    return JSONResponse(body, status_code=422)


def _problem(error: Any) -> dict[str, Any]:
    """One pydantic error, with at most a short, encodable prefix of the input it quotes."""
    location = list(error.get("loc", ()))
    if location and location[0] in ("body", "query", "path"):  # where, not which field
        del location[0]
    location = [part for part in location if not _is_union_member(part)]
    parts = (_printable(str(part), FIELD_PART_LIMIT) for part in location)
    field = _printable(".".join(parts), FIELD_LIMIT) or None
    problem = {"field": field, "message": _printable(str(error.get("msg", "invalid")), 300)}
    value = error.get("input")
    if isinstance(value, str | int | float) and not _is_secret(field):
        problem["input"] = excerpt(str(value))
    return problem


def _is_union_member(part: object) -> bool:
    """A part of pydantic's error location that names a branch of a union (`dict[str,str]`),
    not a field."""
    return isinstance(part, str) and _UNION_MEMBER.fullmatch(part) is not None


def _printable(text: str, limit: int) -> str:
    # A lone surrogate (valid JSON, "\ud800") cannot be encoded in the response: escape it.
    cut = text if len(text) <= limit else f"{text[:limit]}..."
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_secret(field: str | None) -> bool:
    name = (field or "").lower()
    return any(word in name for word in SECRET_WORDS)


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    if isinstance(exc, BodyTooLarge):
        return too_large_response(exc.limit)
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(exc.status_code, "error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


def unexpected_error(scope: Scope, exc: Exception) -> JSONResponse:
    """The answer to an exception nothing else handled; the traceback goes to the log only."""
    request_id = _request_id(scope)
    # Rendered here, plain, under the key structlog's renderers print as a traceback: whatever
    # renderer is configured never sees the frames' locals (rich's default shows them, and
    # took seconds to render a SQLAlchemy stack, the event loop blocked meanwhile).
    trace = "".join(traceback.format_exception(exc)).rstrip("\n")
    log.error(
        "unexpected error",
        request_id=request_id,
        method=scope.get("method"),
        path=_printable(access_path(scope.get("path", "")), 200),
        error=f"{type(exc).__name__}: {_printable(str(exc), 500)}",
        exception=trace,
    )
    message = f"an unexpected error occurred; quote request id {request_id} to the operator"
    body = error_body("internal_error", message, request_id=request_id)
    return JSONResponse(body, status_code=500, headers={"X-Request-ID": request_id})


def _request_id(scope: Scope) -> str:
    known = scope.get("state", {}).get("request_id")  # `request_ids.RequestIds` chose it
    return str(known) if known else request_id_of(scope)


def request_id_of(scope: Scope) -> str:
    """The request's `X-Request-ID` when it looks like one, else a new id."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return bytes(value).decode()
    return uuid.uuid4().hex
