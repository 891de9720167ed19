"""Plivo: Message API for sending, signed form/query webhooks for inbound and status."""

from __future__ import annotations

import hashlib

import httpx
import structlog

from textbridge.providers.base import (
    Channel,
    OutboundMessage,
    Problem,
    ReplayNonce,
    SendResult,
    WebhookEvent,
    WebhookKind,
    WebhookRequest,
)
from textbridge.providers.plivo import checks, signature, vocabulary, webhooks
from textbridge.providers.plivo.client import MEDIA_BASE_URL, PlivoMessageClient

log = structlog.get_logger(__name__)


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
        accept_v2: bool = False,
        media_base_url: str = MEDIA_BASE_URL,
    ) -> None:
        """`auth_tokens[0]` signs our API calls; any of them verifies a webhook (rotation).
        `accept_v2` also accepts V2 signatures, which do not cover the body. Media under
        `media_base_url` (Plivo's media host) get our credentials, nothing else."""
        self._tokens = auth_tokens
        self._accept_v2 = accept_v2
        self._warned_v2 = accept_v2
        self._client = client
        self._messages = PlivoMessageClient(
            auth_id, auth_tokens[0], base_url, client, media_base_url
        )

    def check(self, message: OutboundMessage) -> list[Problem]:
        return checks.check(message)

    async def send(self, message: OutboundMessage) -> SendResult:
        return await self._messages.send(message)

    def verify(self, request: WebhookRequest) -> bool:
        params = webhooks.signed_params(request)
        if params is None:
            return False
        verified = signature.verify(
            request.headers, request.method, request.url, params, self._tokens, self._accept_v2
        )
        if not verified and not self._warned_v2 and signature.v2_only(request.headers):
            self._warned_v2 = True  # once per process: the operator needs it, not every time
            log.warning(
                "Plivo callback signed with V2 only, refused: V2 does not sign the body; "
                "TEXTBRIDGE_PLIVO_ACCEPT_V2=true accepts it anyway"
            )
        return verified

    def unsigned(self, request: WebhookRequest) -> bool:
        return False  # Plivo signs every callback: an unsigned one is refused

    def replay_nonce(self, request: WebhookRequest) -> ReplayNonce | None:
        nonce = signature.nonce_of(request.headers, self._accept_v2)
        if nonce is None:
            return None
        # The digest is over the canonical string V3 signs (sorted fields): a retry that
        # encodes the same fields in another order is the same request.
        try:
            canonical = signature.v3_string_to_sign(
                request.method, request.url, nonce, webhooks.signed_params(request) or ()
            ).encode()
        except (TypeError, ValueError):
            canonical = request.method.encode() + request.url.encode() + request.body
        return ReplayNonce(nonce, hashlib.sha256(canonical).hexdigest())

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
