"""A tiny HTTP/1.1 origin on 127.0.0.1 that counts connections and keeps each request head:
the guard's tests assert on what reached it (nothing, for a refused address)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "image/png"})
    body: bytes = b"\x89PNG-origin"
    trickle_seconds: float = 0.0  # pause between body bytes: a server that never quite finishes


class Origin:
    def __init__(
        self,
        answer: Callable[[str], Answer] = lambda _: Answer(),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._answer = answer
        self._tls = tls
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        self.requests: list[str] = []
        self.port = 0

    async def __aenter__(self) -> Origin:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            self.requests.append(head)
            answer = self._answer(head)
            await self._respond(writer, answer)
        writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, answer: Answer) -> None:
        headers = {**answer.headers, "content-length": str(len(answer.body))}
        lines = [f"HTTP/1.1 {answer.status} X", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join([*lines, "connection: close", "", ""])).encode("latin-1"))
        if not answer.trickle_seconds:
            writer.write(answer.body)
        for byte in answer.body if answer.trickle_seconds else b"":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(answer.trickle_seconds)
        await writer.drain()


def header(head: str, name: str) -> str | None:
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None
