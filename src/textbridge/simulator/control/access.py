"""Who may drive the control API: a loopback client, or whoever the host app vouches for.

The control routes inject inbound messages, set fates and faults and reset state, so they are
not for the network at large: they answer a client on a loopback address (127.0.0.0/8, ::1,
or IPv4-mapped loopback) and, beyond that, only requests the ``KeyCheck`` accepts. Standalone
(``textbridge simulator``) there is no key store, so loopback only; mounted inside ``serve``
(sandbox mode) the check is textbridge's admin check (a bearer key with the `admin` scope, or
its inbox session; ``api.deps.has_admin_key``). Anything else is 403 in Plivo's error shape.

Behind a reverse proxy on the same host every client looks like loopback unless the proxy's
``X-Forwarded-For`` is trusted (uvicorn trusts it from 127.0.0.1 by default).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import Request

from textbridge.simulator.errors import PlivoApiError

KeyCheck = Callable[[Request], Awaitable[bool]]


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else None
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


async def no_key_check(_request: Request) -> bool:
    return False


def control_access(key_check: KeyCheck) -> Callable[[Request], Awaitable[None]]:
    """The dependency every control route gets."""

    async def allow(request: Request) -> None:
        if is_loopback(request) or await key_check(request):
            return
        raise PlivoApiError(403, "the control API answers loopback clients or a valid API key")

    return allow
