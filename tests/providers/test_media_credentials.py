"""Providers hand out credentials for their own media URLs only."""

from __future__ import annotations

import httpx
import pytest

from textbridge.providers.plivo import PlivoProvider
from textbridge.providers.vonage import VonageCredentials, VonageProvider

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
UUID = "24d742b9-9b12-4397-93a7-da496bc874d9"
MEDIA = "0178eb8a-461a-4fd1-bc37-13eebfdc0676"


@pytest.fixture
async def plivo() -> PlivoProvider:
    return PlivoProvider(
        AUTH_ID, ["token"], "https://api.plivo.com/v1/Account", httpx.AsyncClient()
    )


@pytest.fixture
async def vonage() -> VonageProvider:
    credentials = VonageCredentials.from_values(api_key="key", api_secret="secret")
    return VonageProvider(httpx.AsyncClient(), credentials, signature_secret="s" * 32)


@pytest.mark.parametrize(
    ("url", "gets_credentials"),
    [
        # Plivo serves message media on media.plivo.com (plivo-python's
        # messageListMediaResponse.json), uploaded media at /Account/{id}/Media/{id}.
        (f"https://media.plivo.com/Account/{AUTH_ID}/Message/{UUID}/Media/{MEDIA}", True),
        (f"https://MEDIA.plivo.com/Account/{AUTH_ID}/Media/{MEDIA}", True),
        (f"https://media.plivo.com/Account/MAYYYYYYYYYYYYYYYYYY/Message/{UUID}/Media/1", False),
        (f"http://media.plivo.com/Account/{AUTH_ID}/Message/{UUID}/Media/{MEDIA}", False),
        (f"https://media.plivo.com:8443/Account/{AUTH_ID}/Media/{MEDIA}", False),
        (f"https://media.plivo.com.evil.example/Account/{AUTH_ID}/Media/{MEDIA}", False),
        (f"https://user@media.plivo.com/Account/{AUTH_ID}/Media/{MEDIA}", False),
        (f"https://media.plivo.com/Account/{AUTH_ID}/../MAYYYYYYYYYYYYYYYYYY/Media/1", False),
        (f"https://media.plivo.com/Account/{AUTH_ID}/%2e%2e/MAYYYYYYYYYYYYYYYYYY/Media/1", False),
        (f"https://evil.example/media.plivo.com/Account/{AUTH_ID}/Media/{MEDIA}", False),
        # The Media API's JSON resource is not the file: no credentials there either.
        (f"https://api.plivo.com/v1/Account/{AUTH_ID}/Media/abc/", False),
        ("https://media.example.com/cat.jpg", False),
    ],
)
async def test_plivo(plivo: PlivoProvider, url: str, gets_credentials: bool) -> None:
    headers = plivo.media_headers(url)
    assert bool(headers) is gets_credentials
    if gets_credentials:
        assert headers["Authorization"].startswith("Basic ")
    await plivo.aclose()


@pytest.mark.parametrize(
    ("url", "gets_credentials"),
    [
        ("https://api-us.nexmo.com/v3/media/abc", True),
        ("https://api.nexmo.com/v3/media/abc", True),
        ("https://api-eu.vonage.com/v3/media/abc", True),
        ("http://api.nexmo.com/v3/media/abc", False),
        ("https://api.nexmo.com.evil.example/v3/media/abc", False),
        ("https://evil.example/api.nexmo.com/v3/media/abc", False),
        ("https://lookalike-api.nexmo.com/v3/media/abc", False),
    ],
)
async def test_vonage(vonage: VonageProvider, url: str, gets_credentials: bool) -> None:
    assert bool(vonage.media_headers(url)) is gets_credentials
    await vonage.aclose()
