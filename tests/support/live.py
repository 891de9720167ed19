"""Serve any ASGI app over real HTTP from a test: uvicorn on a free port, in a thread."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")

# Every deadline in the suite is stretched by this factor: a wait returns as soon as its
# condition holds, so a generous deadline costs nothing on a quiet machine and keeps the suite
# green on a loaded one (CI shares two cores with whatever else runs).
WAIT_SCALE = float(os.environ.get("TEXTBRIDGE_TEST_WAIT_SCALE", "4"))


def scaled(seconds: float) -> float:
    return seconds * WAIT_SCALE


def wait_until(probe: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.01) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds (scaled
    by `WAIT_SCALE`)."""
    timeout = scaled(timeout)
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

    def __init__(self, app: ASGIApp | None = None) -> None:
        """The port is reserved at once; give `app` here or set it before entering (an app
        that must know its own URL is built after reading `url`)."""
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.app = app
        self.server: uvicorn.Server
        self._thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def options(self) -> dict[str, Any]:
        """uvicorn.Config arguments; a subclass adds its own (TLS)."""
        return {
            "lifespan": "on",
            "log_level": "warning",
            "access_log": False,
            "timeout_graceful_shutdown": 2,  # open event streams would hold shutdown forever
        }

    def __enter__(self) -> LiveServer:
        assert self.app is not None, "set LiveServer.app before starting it"
        self.server = uvicorn.Server(uvicorn.Config(self.app, **self.options()))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        wait_until(lambda: self.server.started or not self._thread.is_alive())
        if not self.server.started:
            raise RuntimeError("uvicorn failed to start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(scaled(timeout))  # a hang guard: a loaded machine drains slowly
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError("uvicorn did not stop")


class OnlyTo(httpx.AsyncBaseTransport):
    """A network that reaches one origin only; anything else is recorded and refused."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.refused: list[str] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if origin != self.origin:
            self.refused.append(str(request.url))
            raise httpx.ConnectError(f"unexpected outbound request to {origin}")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
