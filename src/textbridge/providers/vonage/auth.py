"""Credentials for Vonage's Messages API and the `Authorization` header they produce.

With an application (id + RSA private key) every request carries a JWT signed RS256, with the
claims the official SDK uses (``vonage_jwt/jwt.py``): ``application_id``, ``iat``, ``jti``
(uuid4) and ``exp = iat + 900``, header ``{"alg": "RS256", "typ": "JWT"}``. Minting costs about
a millisecond, so one token is reused until shortly before it expires. Without an application,
Basic auth with ``api_key:api_secret`` (the SDK does the same).

Neither the key nor the secret ever appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from textbridge.providers.vonage.vocabulary import (
    JWT_LIFETIME_SECONDS,
    JWT_RENEW_BEFORE_EXPIRY_SECONDS,
)

Clock = Callable[[], float]


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


class VonageSettings(Protocol):
    """The settings `VonageCredentials.from_settings` reads (names as in `config.Settings`)."""

    @property
    def vonage_application_id(self) -> str | None: ...
    @property
    def vonage_private_key_content(self) -> _Secret | None: ...
    @property
    def vonage_private_key_path(self) -> Path | None: ...
    @property
    def vonage_api_key(self) -> str | None: ...
    @property
    def vonage_api_secret(self) -> _Secret | None: ...


def _reveal(value: str | _Secret | None) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    return value.get_secret_value() or None


def _pem(content: str) -> str:
    # Keys pasted into an environment variable often carry literal "\n" sequences.
    if "\\n" in content and "\n" not in content.strip():
        content = content.replace("\\n", "\n")
    return content.strip() + "\n"


@dataclass(frozen=True, slots=True)
class VonageCredentials:
    """An application (JWT auth) or an API key and secret (Basic auth); JWT wins when both."""

    application_id: str | None = None
    private_key_pem: str | None = field(default=None, repr=False)
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if bool(self.application_id) != bool(self.private_key_pem):
            raise ValueError("a Vonage application needs both its id and its private key")
        if bool(self.api_key) != bool(self.api_secret):
            raise ValueError("VONAGE_API_KEY and VONAGE_API_SECRET must be set together")
        if not (self.application_id or self.api_key):
            raise ValueError("Vonage needs an application (id + private key) or an API key")

    @property
    def uses_jwt(self) -> bool:
        return self.application_id is not None

    @classmethod
    def from_values(
        cls,
        *,
        application_id: str | None = None,
        private_key_content: str | _Secret | None = None,
        private_key_path: str | Path | None = None,
        api_key: str | None = None,
        api_secret: str | _Secret | None = None,
    ) -> VonageCredentials:
        """From settings-like values (`VONAGE_PRIVATE_KEY_CONTENT` wins over `..._PATH`)."""
        content = _reveal(private_key_content)
        if content is None and private_key_path:
            content = Path(private_key_path).read_text(encoding="utf-8")
        return cls(
            application_id=application_id or None,
            private_key_pem=_pem(content) if content else None,
            api_key=api_key or None,
            api_secret=_reveal(api_secret),
        )

    @classmethod
    def from_settings(cls, settings: VonageSettings) -> VonageCredentials:
        return cls.from_values(
            application_id=settings.vonage_application_id,
            private_key_content=settings.vonage_private_key_content,
            private_key_path=settings.vonage_private_key_path,
            api_key=settings.vonage_api_key,
            api_secret=settings.vonage_api_secret,
        )


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse the application key once; `ValueError` (without the key) when unusable."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the Vonage private key is not a readable, unencrypted PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the Vonage private key must be an RSA key (JWTs are signed RS256)")
    return key


def mint_application_jwt(application_id: str, private_key: rsa.RSAPrivateKey, iat: int) -> str:
    """A JWT exactly like the SDK's `JwtClient.generate_application_jwt()`."""
    claims = {
        "application_id": application_id,
        "iat": iat,
        "jti": str(uuid.uuid4()),
        "exp": iat + JWT_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"typ": "JWT"})


class AuthHeader(Protocol):
    def value(self) -> str:
        """The `Authorization` header for the next request."""
        ...


class JwtAuthHeader:
    """A cached application JWT, re-minted shortly before it expires."""

    def __init__(self, application_id: str, private_key_pem: str, clock: Clock) -> None:
        self._application_id = application_id
        self._key = load_private_key(private_key_pem)
        self._clock = clock
        self._header = ""
        self._renew_at = float("-inf")

    def value(self) -> str:
        now = self._clock()
        if now >= self._renew_at:
            iat = int(now)
            token = mint_application_jwt(self._application_id, self._key, iat)
            self._header = f"Bearer {token}"
            self._renew_at = iat + JWT_LIFETIME_SECONDS - JWT_RENEW_BEFORE_EXPIRY_SECONDS
        return self._header

    def __repr__(self) -> str:
        return f"JwtAuthHeader(application_id={self._application_id!r})"


class BasicAuthHeader:
    def __init__(self, api_key: str, api_secret: str) -> None:
        encoded = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode("ascii")
        self._header = f"Basic {encoded}"
        self._api_key = api_key

    def value(self) -> str:
        return self._header

    def __repr__(self) -> str:
        return f"BasicAuthHeader(api_key={self._api_key!r})"


def auth_header(credentials: VonageCredentials, clock: Clock = time.time) -> AuthHeader:
    if credentials.application_id and credentials.private_key_pem:
        return JwtAuthHeader(credentials.application_id, credentials.private_key_pem, clock)
    if credentials.api_key and credentials.api_secret:
        return BasicAuthHeader(credentials.api_key, credentials.api_secret)
    raise ValueError("Vonage credentials hold neither an application nor an API key")
