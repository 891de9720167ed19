"""VonageProvider as the webhook endpoint and dispatcher see it: the `Provider` protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from textbridge.providers.base import (
    InboundMessage,
    Provider,
    StatusUpdate,
    WebhookKind,
    WebhookRequest,
    journal_key,
)
from textbridge.providers.vonage import VonageCredentials, VonageProvider, sign_webhook, vocabulary

from .support import API_KEY, API_SECRET, NOW, SIGNATURE_SECRET, FakeClock

FIXTURES = Path(vocabulary.__file__).parent / "fixtures"
URL = "https://textbridge.example/webhooks/vonage"
UUID = "0d9a8b7c-6e5f-4a3b-8c1d-2e3f4a5b6c7d"


@pytest.fixture
async def provider(clock: FakeClock) -> AsyncIterator[VonageProvider]:
    credentials = VonageCredentials(api_key=API_KEY, api_secret=API_SECRET)
    client = httpx.AsyncClient()
    provider = VonageProvider(
        client, credentials, signature_secret=SIGNATURE_SECRET, signature_max_age=120, clock=clock
    )
    yield provider
    await provider.aclose()


def request(kind: WebhookKind, body: bytes, headers: dict[str, str]) -> WebhookRequest:
    headers = {"content-type": "application/json", **headers}
    return WebhookRequest("POST", f"{URL}/{kind}", headers, [], body)


def fixture_requests() -> list[tuple[str, WebhookKind, bytes]]:
    out: list[tuple[str, WebhookKind, bytes]] = []
    for path in sorted(FIXTURES.glob("*.json")):
        kind: WebhookKind = "inbound" if path.stem.startswith("inbound") else "status"
        out.append((path.stem, kind, path.read_text().replace("{message_uuid}", UUID).encode()))
    return out


def test_identity(provider: VonageProvider) -> None:
    conforming: Provider = provider
    assert conforming.name == "vonage"
    assert conforming.channels == frozenset({"sms", "mms", "whatsapp"})


@pytest.mark.parametrize(
    ("name", "kind", "body"), fixture_requests(), ids=[r[0] for r in fixture_requests()]
)
def test_every_fixture_verifies_parses_and_dedups(
    provider: VonageProvider, name: str, kind: WebhookKind, body: bytes
) -> None:
    signed = request(kind, body, sign_webhook(SIGNATURE_SECRET, body, iat=int(NOW)))
    assert provider.verify(signed)
    (event,) = provider.parse(kind, signed)
    assert event.provider_message_id == UUID
    key = journal_key(provider.name, [event])
    assert key.startswith(f"vonage:{kind}:")
    assert key == journal_key(provider.name, provider.parse(kind, signed))
    if kind == "inbound":
        assert isinstance(event, InboundMessage)
    else:
        assert isinstance(event, StatusUpdate)
        assert provider.status_for(event.provider_status) is not None


def test_refusals(provider: VonageProvider, clock: FakeClock) -> None:
    body = (FIXTURES / "inbound_sms.json").read_text().replace("{message_uuid}", UUID).encode()
    headers = sign_webhook(SIGNATURE_SECRET, body, iat=int(NOW))
    assert not provider.verify(request("inbound", body, {}))
    assert not provider.verify(request("inbound", body.replace(b"ready", b"reedy"), headers))
    assert not provider.verify(request("inbound", body, sign_webhook("x" * 40, body)))
    clock.now += 121  # this provider's window is 120 s
    assert not provider.verify(request("inbound", body, headers))


async def test_without_a_secret_nothing_verifies() -> None:
    credentials = VonageCredentials(api_key=API_KEY, api_secret=API_SECRET)
    async with httpx.AsyncClient() as client:
        provider = VonageProvider(client, credentials, signature_secret=None)
        body = b"{}"
        assert not provider.verify(request("status", body, sign_webhook(SIGNATURE_SECRET, body)))


@pytest.mark.parametrize(
    ("vonage", "ours"),
    [
        ("submitted", "submitted"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("rejected", "rejected"),
        ("undeliverable", "undelivered"),
        ("failed", None),
        ("", None),
    ],
)
def test_status_for(provider: VonageProvider, vonage: str, ours: str | None) -> None:
    assert provider.status_for(vonage) == ours
