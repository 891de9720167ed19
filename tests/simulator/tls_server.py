"""``TlsLiveServer``: ``LiveServer`` over https, with the simulator's own self-signed CA."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

from textbridge.simulator.tls import TlsFiles

from ..support.live import LiveServer


class TlsLiveServer(LiveServer):
    """An ASGI app served by uvicorn over TLS on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app: ASGIApp, files: TlsFiles) -> None:
        super().__init__(app)
        self.files = files

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """What the Vonage SDK takes as ``api_host``."""
        return f"127.0.0.1:{self.port}"

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            # Over TLS, uvicorn waits out this timeout for connections a client has already
            # closed after sending a request body (requests/urllib3): keep it short.
            "timeout_graceful_shutdown": 1,
            "ssl_certfile": self.files.cert,
            "ssl_keyfile": self.files.key,
        }
