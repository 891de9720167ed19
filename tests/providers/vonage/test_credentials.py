"""VonageCredentials: loading from settings-like values, and never showing a secret."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from textbridge.providers.vonage import VonageCredentials, VonageProvider
from textbridge.providers.vonage.auth import (
    BasicAuthHeader,
    JwtAuthHeader,
    auth_header,
    load_private_key,
)

from .support import API_KEY, API_SECRET, APPLICATION_ID


def test_content_is_used_as_is(private_pem: str) -> None:
    credentials = VonageCredentials.from_values(
        application_id=APPLICATION_ID, private_key_content=private_pem
    )
    assert credentials.private_key_pem == private_pem
    assert credentials.uses_jwt


def test_key_from_a_file(private_pem: str, tmp_path: Path) -> None:
    path = tmp_path / "private.key"
    path.write_text(private_pem)
    credentials = VonageCredentials.from_values(
        application_id=APPLICATION_ID, private_key_path=path
    )
    assert credentials.private_key_pem == private_pem
    assert (
        VonageCredentials.from_values(application_id=APPLICATION_ID, private_key_path=str(path))
        == credentials
    )


def test_content_wins_over_path(private_pem: str, tmp_path: Path) -> None:
    credentials = VonageCredentials.from_values(
        application_id=APPLICATION_ID,
        private_key_content=private_pem,
        private_key_path=tmp_path / "missing.key",
    )
    assert credentials.private_key_pem == private_pem


def test_escaped_newlines_from_an_env_var_are_restored(private_pem: str) -> None:
    one_line = private_pem.strip().replace("\n", "\\n")
    credentials = VonageCredentials.from_values(
        application_id=APPLICATION_ID, private_key_content=SecretStr(one_line)
    )
    assert credentials.private_key_pem == private_pem
    load_private_key(credentials.private_key_pem)


@dataclass
class FakeSettings:
    vonage_application_id: str | None = None
    vonage_private_key_content: SecretStr | None = None
    vonage_private_key_path: Path | None = None
    vonage_api_key: str | None = None
    vonage_api_secret: SecretStr | None = None


def test_from_settings(private_pem: str) -> None:
    settings = FakeSettings(
        vonage_application_id=APPLICATION_ID,
        vonage_private_key_content=SecretStr(private_pem),
        vonage_api_key=API_KEY,
        vonage_api_secret=SecretStr(API_SECRET),
    )
    credentials = VonageCredentials.from_settings(settings)
    assert credentials == VonageCredentials(APPLICATION_ID, private_pem, API_KEY, API_SECRET)
    basic = VonageCredentials.from_settings(
        FakeSettings(vonage_api_key=API_KEY, vonage_api_secret=SecretStr(API_SECRET))
    )
    assert not basic.uses_jwt
    assert basic.api_secret == API_SECRET


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"application_id": APPLICATION_ID},
        {"api_key": API_KEY},
        {"api_secret": API_SECRET},
        {"api_key": "", "api_secret": ""},
    ],
)
def test_incomplete_credentials_are_refused(values: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"(?i)vonage"):
        VonageCredentials.from_values(**values)


def test_key_without_application_is_refused(private_pem: str) -> None:
    with pytest.raises(ValueError, match="both"):
        VonageCredentials(private_key_pem=private_pem)


def test_secrets_never_show(private_pem: str) -> None:
    credentials = VonageCredentials(APPLICATION_ID, private_pem, API_KEY, API_SECRET)
    for text in (repr(credentials), str(credentials)):
        assert APPLICATION_ID in text
        assert API_KEY in text
        assert API_SECRET not in text
        assert "PRIVATE KEY" not in text
    jwt_header = auth_header(credentials)
    basic_header = auth_header(VonageCredentials(api_key=API_KEY, api_secret=API_SECRET))
    assert isinstance(jwt_header, JwtAuthHeader)
    assert isinstance(basic_header, BasicAuthHeader)
    assert "PRIVATE" not in repr(jwt_header)
    assert API_SECRET not in repr(basic_header)


def test_unreadable_keys_are_refused_without_showing_them() -> None:
    garbage = "-----BEGIN PRIVATE KEY-----\nnot-a-key-c2VjcmV0\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ValueError, match="not a readable") as raised:
        load_private_key(garbage)
    assert "not-a-key" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_a_non_rsa_key_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="RSA"):
        load_private_key(pem)


async def test_provider_refuses_a_bad_key_at_construction() -> None:
    credentials = VonageCredentials(APPLICATION_ID, "-----BEGIN PRIVATE KEY-----\nx\n")
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="PEM"):
            VonageProvider(client, credentials, signature_secret=None)
