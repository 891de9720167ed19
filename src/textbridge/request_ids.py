"""A request id for every HTTP request, bound into structlog's context for its duration, and
sent back in `X-Request-ID`. Installed only when `TEXTBRIDGE_LOG_FORMAT=json`: the default path
(and the API send path, tuned for speed) gains nothing.

A proxy's id (nginx `$request_id`, a load balancer's) is reused when it looks like one; the
id is left in `scope["state"]["request_id"]`, where `api.errors.unexpected_error` finds it, so
that a 500's body quotes the id its log line carries.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from textbridge.api.errors import request_id_of

HEADER = b"x-request-id"


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(name == HEADER for name, _ in headers):
                    message["headers"] = [*headers, (HEADER, encoded)]
            await send(message)

        tokens = bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_contextvars(**tokens)
