"""A request body limit, enforced while the body streams in (pure ASGI middleware).

A `Content-Length` over the limit is answered 413 before a byte of the body is read; a body
without one (chunked) is cut off as soon as it passes the limit: the read that crosses it
raises `BodyTooLarge` (an HTTP 413), which the app's handlers turn into the JSON error, and
the connection is closed rather than drained. Webhooks and the rest of the app have their
own limits. Starlette's own `max_body_size` answers a too-long `Content-Length` in plain
text even where the app has its JSON error, hence this small middleware.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEBHOOK_PREFIX = "/webhooks/"


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
    def __init__(self, app: ASGIApp, api_limit: int, webhook_limit: int) -> None:
        self.app = app
        self.api_limit = api_limit
        self.webhook_limit = webhook_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_webhook = scope["path"].startswith(WEBHOOK_PREFIX)
        limit = self.webhook_limit if is_webhook else self.api_limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await too_large_response(limit)(scope, receive, send)
            return
        await _LimitedRequest(self.app, limit)(scope, receive, send)


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


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
