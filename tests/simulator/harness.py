"""Real-HTTP test harness: a uvicorn server in a thread, a callback receiver, and checks.

``LiveServer`` is reusable for any ASGI app: ``with LiveServer(app) as server: server.url``.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import plivo
import plivo.rest.client
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "sim-auth-token-123"
CALLBACK_DELAY = 0.02

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.01) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


class LiveServer:
    """An ASGI app served by uvicorn on a free 127.0.0.1 port, in a background thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()
        wait_until(lambda: self.server.started or not self._thread.is_alive())
        if not self.server.started:
            raise RuntimeError("uvicorn failed to start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError("uvicorn did not stop")


@dataclass(frozen=True)
class Received:
    """One request the receiver got; ``params`` are its form fields (POST) or query (GET)."""

    method: str
    url: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]


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
        if request.method == "POST":
            async with request.form() as form:
                params = {key: str(value) for key, value in form.items()}
        else:
            params = dict(request.query_params)
        path = request.url.path
        record = Received(request.method, str(request.url), path, dict(request.headers), params)
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
        params = dict(received.params)
        valid = plivo.utils.validate_v3_signature("POST", url, nonce, AUTH_TOKEN, signature, params)
    assert valid, "V3 signature rejected by the plivo SDK"
    assert headers["x-plivo-signature-ma-v3"] == signature
    v2_nonce = headers["x-plivo-signature-v2-nonce"]
    v2 = headers["x-plivo-signature-v2"]
    assert plivo.utils.validate_signature(url.split("?")[0], v2_nonce, v2, AUTH_TOKEN)
