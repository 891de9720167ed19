"""What `SecureResponses` costs per request: the same ASGI call with and without it.

The app answers the way the webhook hot path does (a shared `Response`, three headers) and the
API does (a `JSONResponse`); the server is left out (a stub `receive` and `send`), so the
figure is the middleware's own: the wrapper, the header check and the list it builds.

    uv run python bench/secure_responses.py [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textbridge.secure_responses import SecureResponses

OK = Response(status_code=200, content=b"", media_type="text/plain")


async def webhook_like(scope: Scope, receive: Receive, send: Send) -> None:
    await OK(scope, receive, send)


async def api_like(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"id": "0193", "status": "accepted"}, status_code=202)(scope, receive, send)


def _scope(https: bool) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/plivo/inbound",
        "scheme": "https" if https else "http",
        "headers": [(b"host", b"textbridge.example"), (b"content-type", b"application/json")],
        "query_string": b"",
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_: Message) -> None:
    return None


async def _run(app: ASGIApp, requests: int, https: bool) -> float:
    """Seconds per request."""
    scope = _scope(https)
    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), _receive, _send)
    return (time.perf_counter() - start) / requests


async def main(requests: int, rounds: int) -> None:
    for name, app in (("webhook-like", webhook_like), ("api-like", api_like)):
        for https in (False, True):
            bare, wrapped = [], []
            for _ in range(rounds):  # interleaved, so that machine noise hits both
                bare.append(await _run(app, requests, https))
                wrapped.append(await _run(SecureResponses(app), requests, https))
            cost = min(wrapped) - min(bare)  # the least disturbed round of each
            print(
                f"{name:13} https={https!s:5} bare {min(bare) * 1e6:6.2f} us, "
                f"with headers {min(wrapped) * 1e6:6.2f} us, "
                f"cost {cost * 1e6:5.2f} us/request"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
