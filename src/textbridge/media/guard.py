"""Refuse URLs that lead to private, loopback, link-local or otherwise internal addresses.

A media URL comes from a webhook, so it is attacker-controlled: fetching it blindly would let
anyone who can send us a message make us read our own network (SSRF). Two checks:

- `check_url` before the request, for a clear early refusal (bad scheme, internal host);
- `GuardedBackend` at connect time: the connection pool asks it for a TCP stream, and it
  resolves the host itself, refuses unless every address is public, and connects to one of
  the addresses it checked. No byte leaves for an address that was not checked, so a DNS
  answer that changes between the two lookups (rebinding) gets nothing, not even a blind GET.
  TLS still verifies the certificate against the host name: httpcore starts TLS with the
  URL's host as `server_hostname`, whatever address the stream is connected to.

`is_public` judges an address by what it reaches: IPv6 forms that embed an IPv4 address
(IPv4-mapped, NAT64, 6to4) are judged by the embedded address, and forms that no public
server uses (IPv4-compatible, site-local, local-use NAT64) are refused outright.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]
AddressPolicy = Callable[[str], bool]

# RFC 6052: the well-known NAT64 prefix embeds the IPv4 address in its last 32 bits (and must
# not embed a non-global one); RFC 8215's local-use prefix is network-specific: refused.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291), also holds :: and ::1


class RefusedAddress(ValueError):
    """The URL is not fetchable from here (internal address, bad scheme, unresolvable)."""


class Unresolvable(RefusedAddress):
    """The host has no address right now (DNS may answer later)."""


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _IPV4_COMPATIBLE or ip in _LOCAL_NAT64 or ip.is_site_local:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _is_public_ip(embedded)
    return _is_public_ip(ip)


def allowing(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> AddressPolicy:
    """Public addresses, and those in `networks` (an operator's explicit exceptions)."""
    exceptions = tuple(networks)
    if not exceptions:
        return is_public

    def allowed(address: str) -> bool:
        if is_public(address):
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in exceptions)

    return allowed


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_unspecified or ip.is_reserved)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def public_addresses(
    host: str, port: int, resolve: Resolver, allowed: AddressPolicy = is_public
) -> list[str]:
    """Every address `host` resolves to, or RefusedAddress if any of them is not allowed
    (one internal answer among public ones is enough to refuse: the attacker chose them all)."""
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise Unresolvable(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise Unresolvable(f"{host} has no address")
    internal = [address for address in addresses if not allowed(address)]
    if internal:
        raise RefusedAddress(f"{host} resolves to a non-public address {internal[0]}")
    return addresses


async def check_url(
    url: str, resolve: Resolver = system_resolver, allowed: AddressPolicy = is_public
) -> None:
    """Raise RefusedAddress unless the URL is http(s) and its host resolves to public
    addresses only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress(f"not an http(s) URL: {url[:200]}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await public_addresses(parts.hostname, port, resolve, allowed)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses it has checked itself."""

    def __init__(
        self,
        resolve: Resolver = system_resolver,
        allowed: AddressPolicy = is_public,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolve = resolve
        self._allowed = allowed
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await public_addresses(host, port, self._resolve, self._allowed)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        error: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("media is never fetched over a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a `GuardedBackend`. No proxy, whatever the environment says:
    a proxy would connect on our behalf to addresses we never see."""

    def __init__(
        self,
        resolve: Resolver = system_resolver,
        allowed: AddressPolicy = is_public,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 20,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx takes no network backend of its own; the pool it built is replaced by the same
        # pool over our backend (AsyncHTTPTransport keeps it in `_pool`, httpx 0.2x).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections // 2,
            keepalive_expiry=5.0,  # httpx's default; httpcore's own keeps connections for ever
            network_backend=GuardedBackend(resolve, allowed),
        )


def guarded_client(
    resolve: Resolver = system_resolver,
    allowed: AddressPolicy = is_public,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """The HTTP client media is fetched with: guarded at connect, proxy variables ignored."""
    return httpx.AsyncClient(
        transport=GuardedTransport(resolve, allowed, verify),
        trust_env=False,
        timeout=httpx.Timeout(30.0, connect=5.0),
    )
