"""Plivo: Message API for sending, signed form/query webhooks for inbound and status."""

from __future__ import annotations

import httpx

from textbridge.providers.base import (
    Channel,
    OutboundMessage,
    Problem,
    SendResult,
    WebhookEvent,
    WebhookKind,
    WebhookPayloadError,
    WebhookRequest,
)
from textbridge.providers.plivo import checks, signature, vocabulary, webhooks
from textbridge.providers.plivo.client import MEDIA_BASE_URL, PlivoMessageClient


class PlivoProvider:
    name = "plivo"
    channels: frozenset[Channel] = vocabulary.CHANNELS
    refused_status = 403

    def __init__(
        self,
        auth_id: str,
        auth_tokens: list[str],
        base_url: str,
        client: httpx.AsyncClient,
        media_base_url: str = MEDIA_BASE_URL,
    ) -> None:
        """`auth_tokens[0]` signs our API calls; any of them verifies a webhook (rotation).
        Media under `media_base_url` (Plivo's media host) get our credentials, nothing else."""
        self._tokens = auth_tokens
        self._client = client
        self._messages = PlivoMessageClient(
            auth_id, auth_tokens[0], base_url, client, media_base_url
        )

    def check(self, message: OutboundMessage) -> list[Problem]:
        return checks.check(message)

    async def send(self, message: OutboundMessage) -> SendResult:
        return await self._messages.send(message)

    def verify(self, request: WebhookRequest) -> bool:
        try:
            params = webhooks.signed_params(request)
        except WebhookPayloadError:
            return False
        return signature.verify(request.headers, request.method, request.url, params, self._tokens)

    def parse(self, kind: WebhookKind, request: WebhookRequest) -> list[WebhookEvent]:
        return webhooks.parse(kind, webhooks.fields_of(request))

    def media_headers(self, url: str) -> dict[str, str]:
        if not self._messages.is_media_url(url):
            return {}
        return {"Authorization": self._messages.authorization}

    def status_for(self, provider_status: str) -> str | None:
        return vocabulary.STATUS_MAP.get(provider_status)

    async def aclose(self) -> None:
        await self._client.aclose()
