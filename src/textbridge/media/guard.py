"""Refuse URLs that lead to private, loopback, link-local or otherwise internal addresses.

A media URL comes from a webhook, so it is attacker-controlled: fetching it blindly would let
anyone who can send us a message make us read our own network (SSRF). The host is resolved
and every address checked before connecting, and the address actually connected to is checked
again (`downloader.py`), so a DNS answer that changes in between does not get through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Awaitable[list[str]]]


class RefusedAddress(ValueError):
    """The URL is not fetchable from here (internal address, bad scheme, unresolvable)."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, resolve: Resolver = system_resolver) -> None:
    """Raise RefusedAddress unless every address the URL's host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress(f"not an http(s) URL: {url[:200]}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve(parts.hostname, port)
    except OSError as exc:
        raise RefusedAddress(f"cannot resolve {parts.hostname}: {exc}") from None
    if not addresses:
        raise RefusedAddress(f"{parts.hostname} has no address")
    internal = [address for address in addresses if not is_public(address)]
    if internal:
        raise RefusedAddress(f"{parts.hostname} resolves to a non-public address {internal[0]}")
