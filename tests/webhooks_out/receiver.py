"""A real HTTP receiver on 127.0.0.1 for outbound webhooks: it keeps every request (headers
with lower-case names, the raw body, when it arrived) and answers as `answer` says."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    url: str
    received: list[Received]
    answer: Callable[[Received], Reply]

    def bodies(self) -> list[bytes]:
        return [request.body for request in self.received]


@contextmanager
def receiver(answer: Callable[[Received], Reply] = lambda _: Reply()) -> Iterator[Receiver]:
    received: list[Received] = []
    state = Receiver("", received, answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            request = Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
            received.append(request)
            reply = state.answer(request)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks?token=t"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
