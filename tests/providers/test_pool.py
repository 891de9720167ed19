"""The provider clients' HTTP pool (`providers/pool.py`): httpx's transport on a network stream
that keeps its socket. Against a real server on a real socket: connections are reused, one
the server closed while idle is noticed and replaced (the check the stream makes cheaper),
and the provider clients are built on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpcore
import httpx
import pytest

from textbridge.providers.factory import http_client
from textbridge.providers.pool import SocketKeepingBackend, keep_sockets

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok"


@dataclass
class KeepAliveServer:
    """Answers every request 200 with keep-alive; `close_after_first` closes each connection
    after its first answer (a provider's load balancer dropping an idle connection)."""

    close_after_first: bool = False
    connections: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(RESPONSE)
                await writer.drain()
                if self.close_after_first:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()
        await writer.wait_closed()
        self.closed.set()


@pytest.fixture
async def served() -> AsyncIterator[tuple[KeepAliveServer, str]]:
    server = KeepAliveServer()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield server, f"http://127.0.0.1:{port}/"


def client() -> httpx.AsyncClient:
    return keep_sockets(httpx.AsyncClient(limits=httpx.Limits(max_connections=4)))


async def test_connections_are_reused(served: tuple[KeepAliveServer, str]) -> None:
    server, url = served
    async with client() as http:
        for _ in range(5):
            assert (await http.get(url)).text == "ok"
    assert server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    served: tuple[KeepAliveServer, str],
) -> None:
    server, url = served
    server.close_after_first = True
    async with client() as http:
        assert (await http.get(url)).text == "ok"
        await server.closed.wait()  # the server's FIN is in our socket: readable, at EOF
        # Sent on the dead connection, this would fail ("server disconnected").
        assert (await http.get(url)).text == "ok"
    assert server.connections == 2


async def test_provider_clients_use_it_and_tests_keep_their_transport() -> None:
    async with http_client(None) as network:
        pool = network._transport._pool  # type: ignore[attr-defined]
        assert type(pool) is httpcore.AsyncConnectionPool  # httpx's layout, relied on
        assert isinstance(pool._network_backend, SocketKeepingBackend)
        assert pool._max_connections == 100
        plain = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
        own = plain._transport._pool  # type: ignore[attr-defined]
        settings = ("_max_keepalive_connections", "_keepalive_expiry", "_http1", "_http2")
        assert [getattr(pool, s) for s in settings] == [getattr(own, s) for s in settings]
        await plain.aclose()
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    async with http_client(mock) as mocked:
        assert mocked._transport is mock


async def test_proxies_from_the_environment_still_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment whose egress goes through HTTPS_PROXY reaches its provider through it."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    async with http_client(None) as network:
        proxied = [
            transport
            for pattern, transport in network._mounts.items()
            if pattern.matches(httpx.URL("https://api.plivo.com/v1/"))
        ]
        assert proxied, "no proxy mount for https"
        assert all(type(t._pool) is httpcore.AsyncHTTPProxy for t in proxied)  # type: ignore[union-attr]
        direct = network._transport._pool  # type: ignore[attr-defined]
        assert isinstance(direct._network_backend, SocketKeepingBackend)
