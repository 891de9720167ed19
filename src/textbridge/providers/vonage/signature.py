"""Vonage signed webhooks (Messages API): signing and verification.

Vonage sends ``Authorization: Bearer <JWT>``, the JWT signed HS256 with the account's signature
secret, with claims ``iat``, ``jti``, ``iss: "Vonage"``, ``payload_hash`` (lower-case hex
SHA-256 of the raw body), ``api_key`` and optionally ``application_id``. Sources: Repo
Nexmo/station ``_documentation/en/messages/concepts/signed-webhooks.md``; providers.md
section 5. The SDK's ``vonage_jwt.verify_signature`` checks only the HMAC (and raises on other
failures), so we check the body hash and the age of ``iat`` as well; Vonage documents no age
window, ours defaults to 300 s in both directions.

Vonage picks the secret by the account: the token's ``api_key`` claim names it, and a
sub-account has a secret of its own. The verifier holds one secret per API key (and a default
secret for any other key) and checks the token with the secret of its ``api_key`` only.

Verification decodes the token once with PyJWT (HS256 only: `none`, RS256 and every other
algorithm are refused before any key is used) and never raises.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from textbridge.providers.vonage.auth import Clock
from textbridge.providers.vonage.vocabulary import SIGNATURE_ISSUER, SIGNATURE_MAX_AGE_SECONDS

if TYPE_CHECKING:
    from jwt.types import Options  # PyJWT >= 2.10

__all__ = ["WebhookVerifier", "payload_hash", "sign_webhook", "verify"]

HEADER = "Authorization"
ALGORITHMS = ["HS256"]
# PyJWT checks the algorithm and the signature; the times we check against our own clock.
_OPTIONS: Options = {
    "require": ["iat", "payload_hash"],
    "verify_iat": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_aud": False,
}
_MIN_HMAC_KEY_BYTES = 32


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_webhook(
    secret: str,
    body: bytes,
    iat: int | None = None,
    api_key: str = "a1b2c3d4",
    application_id: str | None = None,
) -> dict[str, str]:
    """The signature header Vonage sends with a webhook whose raw body is `body`."""
    claims: dict[str, Any] = {
        "iat": int(time.time()) if iat is None else iat,
        "jti": str(uuid.uuid4()),
        "iss": SIGNATURE_ISSUER,
        "payload_hash": payload_hash(body),
        "api_key": api_key,
    }
    if application_id is not None:
        claims["application_id"] = application_id
    with _short_key_allowed(len(secret.encode()) < _MIN_HMAC_KEY_BYTES):
        token = jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})
    return {HEADER: f"Bearer {token}"}


class WebhookVerifier:
    """Checks `Authorization: Bearer <JWT>` against the signature secret of the token's
    `api_key` (`secrets_by_api_key`), or `secret` for any other key (None: refuse it)."""

    def __init__(
        self,
        secret: str | None,
        max_age: float = SIGNATURE_MAX_AGE_SECONDS,
        clock: Clock = time.time,
        secrets_by_api_key: Mapping[str, str] | None = None,
    ) -> None:
        self._secret = secret.encode() if secret else None
        self._by_api_key = {
            key: value.encode() for key, value in (secrets_by_api_key or {}).items()
        }
        self._max_age = max_age
        self._clock = clock
        self._jwt = jwt.PyJWT()
        # A secret under 32 bytes still verifies, but PyJWT warns on every decode.
        every = [self._secret, *self._by_api_key.values()]
        self._short = any(s is not None and len(s) < _MIN_HMAC_KEY_BYTES for s in every)

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        token = bearer_token(headers)
        if token is None:
            return False
        try:
            secret = self._secret_for(token)
            if secret is None:
                return False
            claims = self._decode(token, secret)
            return self._claims_hold(claims, body)
        except Exception:  # any failure at all is a refusal, never an error
            return False

    def _secret_for(self, token: str) -> bytes | None:
        if not self._by_api_key:
            return self._secret
        # Only to choose the key: the claims are trusted after `_decode` checks the HMAC.
        unverified = self._jwt.decode(token, options={"verify_signature": False})
        api_key = unverified.get("api_key")
        if isinstance(api_key, str) and api_key in self._by_api_key:
            return self._by_api_key[api_key]
        return self._secret

    def _decode(self, token: str, secret: bytes) -> dict[str, Any]:
        with _short_key_allowed(self._short):
            return self._jwt.decode(token, secret, algorithms=ALGORITHMS, options=_OPTIONS)

    def _claims_hold(self, claims: dict[str, Any], body: bytes) -> bool:
        return self._times_hold(claims) and self._content_holds(claims, body)

    def _times_hold(self, claims: dict[str, Any]) -> bool:
        """`iat` within `max_age` of now either way; `exp` and `nbf` (if any) respected."""
        now = self._clock()
        iat, exp, nbf = claims["iat"], claims.get("exp", now + 1), claims.get("nbf", now)
        if not all(_is_number(value) for value in (iat, exp, nbf)):
            return False
        return bool(abs(now - iat) <= self._max_age and nbf <= now < exp)

    @staticmethod
    def _content_holds(claims: dict[str, Any], body: bytes) -> bool:
        if claims.get("iss", SIGNATURE_ISSUER) != SIGNATURE_ISSUER:
            return False
        claimed = claims["payload_hash"]
        if not isinstance(claimed, str):
            return False
        return hmac.compare_digest(claimed.encode(), payload_hash(body).encode())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    max_age: float = SIGNATURE_MAX_AGE_SECONDS,
) -> bool:
    """One-off check; a provider keeps a `WebhookVerifier` instead."""
    return WebhookVerifier(secret, max_age).verify(headers, body)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get(HEADER) or headers.get(HEADER.lower())
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@contextmanager
def _short_key_allowed(short: bool) -> Iterator[None]:
    """Silence PyJWT's warning about HMAC keys under 32 bytes (it would fire on every call)."""
    if not short:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        yield
