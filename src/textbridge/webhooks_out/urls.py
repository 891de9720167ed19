"""Which subscriber URLs are accepted, and which addresses the deliverer may connect to.

https only, to public addresses (the SSRF guard of `media.guard` checks every address at
connect). In sandbox mode (no provider credentials: a trial or a test) a loopback receiver
is allowed too, over http or https, so that one can try webhooks on one's own machine."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from textbridge.media.guard import is_public

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hook_address_policy(*, sandbox: bool) -> Callable[[str], bool]:
    if not sandbox:
        return is_public
    return lambda address: is_public(address) or is_loopback_host(address)


def url_problem(url: str, *, sandbox: bool) -> str | None:
    """Why `url` cannot be a subscription's, or None."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in ("http", "https"):
        return "the URL must be https://host/..."
    if parts.username or parts.password:
        return "credentials in the URL are not accepted: verify our signature instead"
    if is_loopback_host(host):
        return None if sandbox else "a loopback address is accepted in sandbox mode only"
    if parts.scheme != "https":
        return "the URL must be https (http only to a loopback receiver in sandbox mode)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked at every connect
    return None if is_public(str(address)) else "the URL's address is not a public one"
