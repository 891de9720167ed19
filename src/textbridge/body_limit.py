"""A request body limit, enforced while the body streams in (pure ASGI middleware).

A `Content-Length` over the limit is answered 413 before a byte of the body is read; a body
without one (chunked) is cut off as soon as it passes the limit: the read that crosses it
raises `BodyTooLarge` (an HTTP 413), which the app's handlers turn into the JSON error, and
the connection is closed rather than drained. Webhooks and the rest of the app have their
own limits; headers over 64 KiB are refused (431). Starlette's own `max_body_size` answers a
too-long `Content-Length` in plain text even where the app has its JSON error, hence this
small middleware.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEBHOOK_PREFIX = "/webhooks/"
UPLOAD_PATH = "/api/v1/media"
# uvicorn (httptools) sets no bound on headers; a refused webhook journals them.
MAX_HEADER_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit))
        self.limit = limit


def too_large_message(limit: int) -> str:
    return f"the request body is too large (at most {limit} bytes)"


def too_large_response(limit: int) -> JSONResponse:
    body = {"error": {"code": "body_too_large", "message": too_large_message(limit), "field": None}}
    return JSONResponse(body, status_code=413, headers={"Connection": "close"})


class BodyLimit:
    def __init__(
        self, app: ASGIApp, api_limit: int, webhook_limit: int, upload_limit: int = 0
    ) -> None:
        self.app = app
        self.api_limit = api_limit
        self.webhook_limit = webhook_limit
        self.upload_limit = max(upload_limit, api_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        header_bytes, declared = _measure_headers(scope)
        if header_bytes > MAX_HEADER_BYTES:
            await _headers_too_large(scope, receive, send)
        elif declared is not None and declared > limit:
            await too_large_response(limit)(scope, receive, send)
        else:
            await _LimitedRequest(self.app, limit)(scope, receive, send)

    def _limit(self, scope: Scope) -> int:
        path = scope["path"]
        if path.startswith(WEBHOOK_PREFIX):
            return self.webhook_limit
        # A media upload is the one API body that may be large (each channel's own limit is
        # checked on the file itself).
        if path.rstrip("/") == UPLOAD_PATH and scope["method"] == "POST":
            return self.upload_limit
        return self.api_limit


class _LimitedRequest:
    __slots__ = ("app", "limit", "received", "started")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.received = 0
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if self.started:  # the app answered already; nothing more can be said
                raise
            await too_large_response(self.limit)(scope, receive, send)


def _measure_headers(scope: Scope) -> tuple[int, int | None]:
    """The size of the request's headers, and its Content-Length if it has a valid one."""
    size = 0
    declared = None
    for name, value in scope["headers"]:
        size += len(name) + len(value)
        if name == b"content-length" and value.isdigit():
            declared = int(value)
    return size, declared


async def _headers_too_large(scope: Scope, receive: Receive, send: Send) -> None:
    message = f"the request headers are too large (at most {MAX_HEADER_BYTES} bytes)"
    body = {"error": {"code": "headers_too_large", "message": message, "field": None}}
    response = JSONResponse(body, status_code=431, headers={"Connection": "close"})
    await response(scope, receive, send)
