"""Providers hand out credentials for their own media URLs only."""

from __future__ import annotations

import httpx
import pytest

from textbridge.providers.plivo import PlivoProvider
from textbridge.providers.vonage import VonageCredentials, VonageProvider

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"


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
        (f"https://api.plivo.com/v1/Account/{AUTH_ID}/Media/abc/", True),
        ("https://api.plivo.com/v1/Account/MAYYYYYYYYYYYYYYYYYY/Media/abc/", False),
        (f"http://api.plivo.com/v1/Account/{AUTH_ID}/Media/abc/", False),
        (f"https://api.plivo.com.evil.example/v1/Account/{AUTH_ID}/Media/abc/", False),
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
