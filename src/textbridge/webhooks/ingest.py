"""The webhook hot path: verify the signature, journal the request once, answer.

This is a plain Starlette endpoint rather than a FastAPI route: it needs no dependency
injection or response model, and it runs for every provider callback, so every microsecond
counts. An accepted webhook's row goes through `journal.JournalWriter` (group commit: the
rows of concurrent requests share one INSERT and one transaction, and each request is
answered once its row is committed); refusals and invalid payloads are written alone.
Applying the events happens later, in `applier.JournalApplier`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from textbridge.db.base import utcnow
from textbridge.messaging import storable
from textbridge.messaging.text import clean
from textbridge.models import WebhookJournalEntry
from textbridge.providers.base import (
    Provider,
    WebhookPayloadError,
    WebhookRequest,
    journal_key,
)
from textbridge.webhooks import journal

log = structlog.get_logger(__name__)

KINDS = ("inbound", "status")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.~-]*")
URL_LENGTH: int = WebhookJournalEntry.url.property.columns[0].type.length
ERROR_LENGTH: int = WebhookJournalEntry.error.property.columns[0].type.length
OK = Response(status_code=200, content=b"", media_type="text/plain")


class WebhookIngest:
    def __init__(
        self,
        engine: AsyncEngine,
        providers: Mapping[str, Provider],
        public_url: str,
        verify_signatures: bool,
        on_stored: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._providers = providers
        self._public_url = public_url
        self._verify = verify_signatures
        self._on_stored = on_stored
        self._writer = journal.JournalWriter(engine)

    async def handle(self, request: Request) -> Response:
        provider = self._providers.get(request.path_params["provider"])
        kind = request.path_params["kind"]
        if provider is None or kind not in KINDS:
            return JSONResponse({"error": "no such webhook"}, status_code=404)
        webhook = await self._read(request)
        row = _row(provider.name, kind, webhook)
        if self._verify and not provider.verify(webhook):
            refused = {**row, "state": journal.REFUSED, "error": "bad or missing signature"}
            await self._store(refused)
            log.warning("webhook refused", provider=provider.name, kind=kind)
            return JSONResponse({"error": "invalid signature"}, status_code=provider.refused_status)
        try:
            events = provider.parse(kind, webhook)
            storable.check(events)
            _check_url(webhook.url)
        except WebhookPayloadError as exc:
            reason = clean(str(exc))[:ERROR_LENGTH]
            await self._store({**row, "state": journal.INVALID, "error": reason})
            log.warning("webhook invalid", provider=provider.name, kind=kind, reason=reason)
            return JSONResponse({"error": reason}, status_code=400)
        dedup_key = clean(journal_key(provider.name, events))  # its ids are checked, not cleaned
        if await self._writer.record({**row, "state": journal.PENDING, "dedup_key": dedup_key}):
            self._on_stored()
        return OK

    async def _read(self, request: Request) -> WebhookRequest:
        body = await request.body()
        path, query = _path_and_query(request)
        content_type = request.headers.get("content-type", "")
        params = journal.webhook_params(request.method, content_type, body, query)
        url = f"{self._public_url}{path}" + (f"?{query}" if query else "")
        return WebhookRequest(request.method, url, request.headers, params, body)

    async def _store(self, row: dict[str, Any]) -> bool:
        """One row in its own transaction: for refusals and invalid payloads (no dedup key)."""
        async with self._engine.begin() as connection:
            return await journal.record(connection, row)


def _path_and_query(request: Request) -> tuple[str, str]:
    """`request.url.path` and `.query`, without building the URL in the usual case (a POST
    callback: no query string, a path of plain characters, where both are the same)."""
    scope = request.scope
    path: str = scope["path"]
    if not scope.get("query_string") and _PLAIN_PATH.fullmatch(path):
        return path, ""
    return request.url.path, request.url.query


def _check_url(url: str) -> None:
    """The applier reads a GET callback's fields back from the URL: it must be kept whole."""
    if len(url) > URL_LENGTH:
        raise WebhookPayloadError(f"the URL is longer than {URL_LENGTH} characters")


def _row(provider: str, kind: str, webhook: WebhookRequest) -> dict[str, Any]:
    return {
        "provider": provider,
        "kind": kind,
        "dedup_key": None,
        "method": webhook.method,
        "url": webhook.url[:URL_LENGTH],
        "headers": journal.redact(webhook.headers),
        # A raw NUL byte (never valid in a form or JSON body) would make PostgreSQL refuse the row.
        "body": clean(webhook.body.decode("utf-8", "replace")) if webhook.method == "POST" else "",
        "attempts": 0,
        "received_at": utcnow(),
    }
