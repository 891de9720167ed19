"""Vonage: Messages API v1 for sending (SMS, MMS image, WhatsApp), signed JSON webhooks."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from textbridge.providers.base import (
    Channel,
    OutboundMessage,
    Problem,
    Provider,
    ReplayNonce,
    SendRejected,
    SendResult,
    WebhookEvent,
    WebhookKind,
    WebhookRequest,
)
from textbridge.providers.vonage import checks, vocabulary, webhooks
from textbridge.providers.vonage.auth import Clock, VonageCredentials, auth_header
from textbridge.providers.vonage.client import VonageMessageClient
from textbridge.providers.vonage.signature import WebhookVerifier, sign_webhook

__all__ = ["VonageCredentials", "VonageProvider", "sign_webhook"]


class VonageProvider:
    name = "vonage"
    channels: frozenset[Channel] = frozenset({"sms", "mms", "whatsapp"})
    refused_status = 401

    def __init__(
        self,
        client: httpx.AsyncClient,
        credentials: VonageCredentials,
        *,
        signature_secret: str | None,
        api_base_url: str = vocabulary.DEFAULT_API_BASE_URL,
        signature_max_age: float = vocabulary.SIGNATURE_MAX_AGE_SECONDS,
        clock: Clock = time.time,
        signature_secrets: Mapping[str, str] | None = None,
    ) -> None:
        """`client` is the process's pooled client (closed by `aclose`); `signature_secret`
        None refuses every webhook not signed by an API key of `signature_secrets` (a
        sub-account's own secret, by its API key). Raises `ValueError` for an unreadable
        private key."""
        self._client = client
        self._auth = auth_header(credentials, clock)
        self._messages = VonageMessageClient(client, api_base_url, self._auth, clock)
        self._verifier = WebhookVerifier(
            signature_secret, signature_max_age, clock, secrets_by_api_key=signature_secrets
        )

    def check(self, message: OutboundMessage) -> list[Problem]:
        return checks.problems(message, self.channels)

    async def send(self, message: OutboundMessage) -> SendResult:
        problems = self.check(message)
        if problems:
            reasons = "; ".join(f"{p.field}: {p.message}" for p in problems)
            raise SendRejected(f"Vonage cannot carry this message: {reasons}")
        return await self._messages.send(message)

    def verify(self, request: WebhookRequest) -> bool:
        return self._verifier.verify(request.headers, request.body)

    def unsigned(self, request: WebhookRequest) -> bool:
        # Vonage's signed-webhooks page: a callback may arrive unsigned after an internal
        # error. Only no Authorization header at all counts; a bad token is a refusal.
        return not any(name.lower() == "authorization" for name in request.headers)

    def replay_nonce(self, request: WebhookRequest) -> ReplayNonce | None:
        return None  # `iat` within the max age bounds a replay; redeliveries are journaled once

    def parse(self, kind: WebhookKind, request: WebhookRequest) -> list[WebhookEvent]:
        return webhooks.parse(kind, request.body)

    def media_headers(self, url: str) -> dict[str, str]:
        if not vocabulary.is_media_url(url):
            return {}
        return {"Authorization": self._auth.value()}

    def status_for(self, provider_status: str) -> str | None:
        return vocabulary.STATUS_MAP.get(provider_status)

    async def aclose(self) -> None:
        await self._client.aclose()


def _conforms(provider: VonageProvider) -> Provider:
    """Type-checked only: `VonageProvider` implements the `Provider` protocol."""
    return provider
