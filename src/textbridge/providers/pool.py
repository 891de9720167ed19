"""The HTTP transport of the provider clients: httpx's own, with one change to its network
streams that a dispatcher sending hundreds of requests a second pays for.

httpcore's pool, on each request and each response closed, asks every idle connection whether
the server has closed it (`get_extra_info("is_readable")`), and its anyio stream answers by
looking the socket up through anyio's typed attributes, which build a mapping of every
attribute of the socket on each call. With a dispatcher's 16 connections that lookup was 31 %
of the client's CPU per request (py-spy, `bench/RESULTS.md`, 1 December 2026); the upstream
fix is an open pull request (encode/httpcore#928). `SocketKeepingStream` looks the socket up
once, when the connection opens, and answers the same question with the same poll.

Everything else (timeouts, TLS, the mapping of errors onto httpx's exceptions, which
`providers.transport` relies on to tell "not sent" from "maybe sent") is httpx's and httpcore's
own: the stream delegates. httpx takes no network backend, so the pool of the client's own
transport is replaced after construction (`client._transport._pool`, checked by
`tests/providers/test_pool.py`); a transport passed to the client would turn off httpx's
proxies from the environment, so none is.
"""

# The `timeout` parameters are httpcore's interface (AsyncNetworkStream, AsyncNetworkBackend).
# ruff: noqa: ASYNC109

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx
from httpcore._utils import is_socket_readable  # the check httpcore's own stream makes

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class SocketKeepingStream(httpcore.AsyncNetworkStream):
    """A network stream that remembers its socket: readability is one poll, no lookup."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return SocketKeepingStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


class SocketKeepingBackend(httpcore.AnyIOBackend):
    """httpcore's asyncio backend (anyio), its streams wrapped in `SocketKeepingStream`."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, timeout, local_address, socket_options)
        return SocketKeepingStream(stream)


def keep_sockets(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """`client` (built with no transport of its own, so that httpx still mounts the
    environment's proxies, HTTPS_PROXY and the like, beside it), its direct connections on
    `SocketKeepingBackend`, every other setting of its pool kept. A client whose transport is
    not httpx's own (a test's, the sandbox's) or goes through a proxy is returned as it is."""
    transport = client._transport  # see the module's doc
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        return client
    direct = transport._pool
    if type(direct) is not httpcore.AsyncConnectionPool:  # AsyncHTTPProxy is a subclass
        return client
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=direct._ssl_context,  # httpx's own: verify, SSL_CERT_FILE
        max_connections=direct._max_connections,
        max_keepalive_connections=direct._max_keepalive_connections,
        keepalive_expiry=direct._keepalive_expiry,
        http1=direct._http1,
        http2=direct._http2,
        retries=direct._retries,
        local_address=direct._local_address,
        uds=direct._uds,
        socket_options=direct._socket_options,
        network_backend=SocketKeepingBackend(),
    )
    return client
