"""The webhook hot path: verify the signature, journal the request once, answer.

This is a plain Starlette endpoint rather than a FastAPI route: it needs no dependency
injection or response model, and it runs for every provider callback, so every microsecond
counts. An accepted webhook's row goes through `journal.JournalWriter` (group commit: the
rows of concurrent requests share one INSERT and one transaction, and each request is
answered once its row is committed); refusals and invalid payloads are written alone.
Applying the events happens later, in `applier.JournalApplier`.

A verified request's signature nonce (Plivo) is claimed with its journal row: a second
request with that nonce is refused, unless it is the very same request (a redelivery, answered
200 and stored once). An unsigned request from a provider that documents sending some (Vonage)
is journaled `unverified` and answered 202: kept for a person, never applied on its own.
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
from textbridge.providers.base import (
    Provider,
    WebhookEvent,
    WebhookKind,
    WebhookPayloadError,
    WebhookRequest,
    journal_key,
)
from textbridge.webhooks import journal

log = structlog.get_logger(__name__)

KINDS = ("inbound", "status")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.~-]*")
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

    @property
    def provider_names(self) -> frozenset[str]:
        return frozenset(self._providers)

    async def handle(self, request: Request) -> Response:
        provider = self._providers.get(request.path_params["provider"])
        kind = request.path_params["kind"]
        if provider is None or kind not in KINDS:
            return JSONResponse({"error": "no such webhook"}, status_code=404)
        webhook = await self._read(request)
        row = _row(provider.name, kind, webhook)
        if self._verify and not provider.verify(webhook):
            if provider.unsigned(webhook):
                return await self._keep_unverified(provider, kind, webhook, row)
            return await self._refuse(provider, kind, webhook, row, "bad or missing signature")
        try:
            events = provider.parse(kind, webhook)
            storable.check(events)
        except WebhookPayloadError as exc:
            return await self._invalid(row, exc)
        pending = {**row, "state": journal.PENDING, "dedup_key": _dedup_key(provider.name, events)}
        nonce = provider.replay_nonce(webhook) if self._verify else None
        claim = journal.nonce_row(provider.name, nonce) if nonce else None
        try:
            new = await self._writer.record(pending, claim)
        except journal.NonceReplayed:
            return await self._refuse(provider, kind, webhook, row, "signature nonce already used")
        if new:
            self._on_stored()
        return OK

    async def _refuse(
        self,
        provider: Provider,
        kind: str,
        webhook: WebhookRequest,
        row: dict[str, Any],
        reason: str,
    ) -> Response:
        """Anyone can send a refused request, of any size: keep only an excerpt and a digest."""
        excerpt = journal.refused_excerpt(webhook.url, row["headers"], webhook.body)
        await self._store({**row, **excerpt, "state": journal.REFUSED, "error": reason})
        log.warning("webhook refused", provider=provider.name, kind=kind, reason=reason)
        return JSONResponse({"error": "invalid signature"}, status_code=provider.refused_status)

    async def _invalid(self, row: dict[str, Any], exc: WebhookPayloadError) -> Response:
        reason = clean(str(exc))[: journal.ERROR_LENGTH]
        await self._store({**row, "state": journal.INVALID, "error": reason})
        log.warning("webhook invalid", provider=row["provider"], kind=row["kind"], reason=reason)
        return JSONResponse({"error": reason}, status_code=400)

    async def _keep_unverified(
        self, provider: Provider, kind: WebhookKind, webhook: WebhookRequest, row: dict[str, Any]
    ) -> Response:
        """No dedup key: an unsigned copy must never shadow the signed delivery of the same
        event. Applying it later is harmless if the signed one came too (idempotent apply).
        An unreadable one stays `unverified` too, never `invalid`: `invalid` entries are
        verified ones, which an admin may replay in bulk once the parser reads them."""
        try:
            provider.parse(kind, webhook)
        except WebhookPayloadError as exc:
            reason = clean(f"unsigned, and unreadable: {exc}")[: journal.ERROR_LENGTH]
            await self._store({**row, "state": journal.UNVERIFIED, "error": reason})
            return JSONResponse({"error": reason}, status_code=400)
        await self._store({**row, "state": journal.UNVERIFIED, "error": "unsigned"})
        log.warning("unsigned webhook kept as unverified", provider=provider.name, kind=kind)
        return JSONResponse({"status": "unverified: kept for review"}, status_code=202)

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


def _dedup_key(provider: str, events: list[WebhookEvent]) -> str:
    return clean(journal_key(provider, events))  # its ids are checked, not cleaned


def _row(provider: str, kind: str, webhook: WebhookRequest) -> dict[str, Any]:
    return {
        "provider": provider,
        "kind": kind,
        "dedup_key": None,
        "method": webhook.method,
        "url": webhook.url,
        "headers": journal.redact(webhook.headers),
        "body": journal.stored_text(webhook.body) if webhook.method == "POST" else "",
        "attempts": 0,
        "received_at": utcnow(),
    }
