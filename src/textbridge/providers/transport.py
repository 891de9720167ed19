"""What every provider client does with its HTTP call: map transport failures onto the send
error taxonomy, where the line between "safe to retry" and "maybe sent" is drawn once."""

from __future__ import annotations

from typing import Any

import httpx

from textbridge.providers.base import SendOutcomeUnknown, SendUnavailable

# Raised before a byte of the request left our side: safe to try again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


async def post(client: httpx.AsyncClient, provider: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.post(url, **kwargs)
    except NOT_SENT as exc:
        raise SendUnavailable(f"could not reach {provider}: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        # The request may have reached the provider and been accepted; never resend blindly.
        raise SendOutcomeUnknown(f"no answer from {provider}: {type(exc).__name__}") from None
