"""Vonage webhooks: JSON ``POST``s signed with ``Authorization: Bearer <HS256 JWT>``.

The JWT comes from ``textbridge.providers.vonage.signature.sign_webhook`` over exactly the
bytes sent (its ``payload_hash`` claim). Without a signature secret the webhook goes unsigned,
as Vonage's occasionally do. Vonage retries only 429 and 5xx answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from textbridge.providers.vonage.signature import sign_webhook
from textbridge.simulator.config import SimulatorConfig

USER_AGENT = "textbridge-simulator (Vonage)"


@dataclass(frozen=True)
class VonageSigner:
    """The account's signature secret and the claims naming the account and application."""

    secret: str | None = field(repr=False)
    api_key: str | None = None
    application_id: str | None = None

    @classmethod
    def from_config(cls, config: SimulatorConfig) -> VonageSigner:
        return cls(
            config.vonage_signature_secret, config.vonage_api_key, config.vonage_application_id
        )

    def headers(self, body: bytes) -> dict[str, str]:
        if not self.secret:
            return {}
        if self.api_key is None:
            return sign_webhook(self.secret, body, application_id=self.application_id)
        return sign_webhook(
            self.secret, body, api_key=self.api_key, application_id=self.application_id
        )


@dataclass(frozen=True)
class VonageWebhook:
    """One JSON webhook to ``url``."""

    url: str
    payload: Mapping[str, object]
    signer: VonageSigner = field(repr=False, compare=False)

    def describe(self) -> dict[str, str]:
        return {
            "url": self.url,
            "method": "POST",
            "message_uuid": str(self.payload.get("message_uuid", "")),
            "status": str(self.payload.get("status", "")),
        }

    def settled(self, response: httpx.Response) -> bool:
        return not (response.status_code == 429 or response.status_code >= 500)

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        body = json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.signer.headers(body),
        }
        return await client.post(self.url, content=body, headers=headers)
