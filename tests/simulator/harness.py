"""Real-HTTP test harness for the simulator: a callback receiver, and signature checks."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import plivo
import plivo.rest.client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..support.live import wait_until

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "sim-auth-token-123"
CALLBACK_DELAY = 0.02


@dataclass(frozen=True)
class Received:
    """One request the receiver got; ``params`` are its form fields (POST) or query (GET),
    ``body`` its raw body (JSON webhooks: see ``json()``)."""

    method: str
    url: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


class ReceiverApp:
    """A tiny app that records every request and answers 200, or 500 where told to fail.

    Served once per session; each test gets a ``Receiver`` under its own path prefix.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.failures: dict[str, int] = {}  # path prefix -> how many requests still get 500
        self.lock = threading.Lock()
        self.asgi = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        if request.method == "POST":
            async with request.form() as form:
                params = {key: str(value) for key, value in form.items()}
        else:
            params = dict(request.query_params)
        path = request.url.path
        headers = dict(request.headers)
        record = Received(request.method, str(request.url), path, headers, params, body)
        prefix = "/" + path.split("/")[1]
        with self.lock:
            self.requests.append(record)
            failing = self.failures.get(prefix, 0) > 0
            if failing:
                self.failures[prefix] -= 1
        return Response("fail" if failing else "ok", status_code=500 if failing else 200)


class Receiver:
    """One test's view of the receiver: its own ``url`` and the requests made under it."""

    def __init__(self, app: ReceiverApp, server_url: str) -> None:
        self._app = app
        self._prefix = f"/{uuid.uuid4().hex}"
        self.url = server_url + self._prefix

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with 500."""
        with self._app.lock:
            self._app.failures[self._prefix] = count

    def received(self, path: str | None = None) -> list[Received]:
        """Requests to ``path`` (relative to ``url``), or all of this test's, oldest first."""
        wanted = None if path is None else self._prefix + path
        with self._app.lock:
            return [
                r
                for r in self._app.requests
                if r.path == wanted or (wanted is None and r.path.startswith(self._prefix + "/"))
            ]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``count`` requests (to ``path``) arrived; return them all."""

        def enough() -> list[Received] | None:
            found = self.received(path)
            return found if len(found) >= count else None

        return wait_until(enough, timeout)


def assert_signed(received: Received, method: str, url: str) -> None:
    """The request carries V3 and V2 signatures the official SDK accepts for ``url``."""
    headers = received.headers
    nonce = headers["x-plivo-signature-v3-nonce"]
    signature = headers["x-plivo-signature-v3"]
    if method == "GET":  # the params are in the URL itself
        valid = plivo.utils.validate_v3_signature("GET", received.url, nonce, AUTH_TOKEN, signature)
    else:
        # A JSON body (WhatsApp inbound) is signed over its nested fields, as the SDK does.
        is_json = headers.get("content-type", "").startswith("application/json")
        params = received.json() if is_json else dict(received.params)
        valid = plivo.utils.validate_v3_signature("POST", url, nonce, AUTH_TOKEN, signature, params)
    assert valid, "V3 signature rejected by the plivo SDK"
    assert headers["x-plivo-signature-ma-v3"] == signature
    v2_nonce = headers["x-plivo-signature-v2-nonce"]
    v2 = headers["x-plivo-signature-v2"]
    assert plivo.utils.validate_signature(url.split("?")[0], v2_nonce, v2, AUTH_TOKEN)
