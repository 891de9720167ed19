"""Credentials of the fake Vonage Messages API.

``Authorization: Bearer <JWT>``: RS256, verified with the application's public key; the SDK's
claims (``application_id``, ``iat``, ``jti``, ``exp``) must be there and ``application_id`` must
be the configured one. ``Authorization: Basic <api_key:api_secret>`` when those are configured.
Anything else is a 401 problem.
"""

from __future__ import annotations

import base64
import binascii
import hmac

import jwt

from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.vonage.errors import unauthorized

REQUIRED_CLAIMS = ["application_id", "iat", "jti", "exp"]
LEEWAY_SECONDS = 30


def authorize_vonage(header: str | None, config: SimulatorConfig) -> None:
    """Accept the request's credentials or raise a 401 ``VonageProblem``."""
    scheme, _, credentials = (header or "").partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer" and config.vonage_jwt and _jwt_valid(credentials, config):
        return
    if scheme == "basic" and config.vonage_basic and _basic_valid(credentials, config):
        return
    raise unauthorized()


def _jwt_valid(token: str, config: SimulatorConfig) -> bool:
    assert config.vonage_public_key_pem is not None
    assert config.vonage_application_id
    try:
        claims = jwt.decode(
            token,
            config.vonage_public_key_pem,
            algorithms=["RS256"],
            options={"require": REQUIRED_CLAIMS},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError:
        return False
    return hmac.compare_digest(
        str(claims["application_id"]).encode(), config.vonage_application_id.encode()
    )


def _basic_valid(encoded: str, config: SimulatorConfig) -> bool:
    assert config.vonage_api_key is not None
    assert config.vonage_api_secret is not None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    key, separator, secret = decoded.partition(":")
    # Both compared in full (no short-circuit) so timing does not tell which one was wrong.
    key_ok = hmac.compare_digest(key.encode(), config.vonage_api_key.encode())
    secret_ok = hmac.compare_digest(secret.encode(), config.vonage_api_secret.encode())
    return bool(separator) and key_ok and secret_ok


def authorize_account(header: str | None, api_key: str | None, config: SimulatorConfig) -> None:
    """The account APIs (balance, numbers, applications) take the account's key and secret
    only: as Basic auth (what the SDK sends), or `api_key`/`api_secret` in the query (the
    older REST style, given here already joined as `key:secret` in ``api_key``)."""
    scheme, _, credentials = (header or "").partition(" ")
    if not config.vonage_basic:
        raise unauthorized()
    if scheme.lower() == "basic":
        encoded = credentials.strip()
    elif api_key is not None:
        encoded = base64.b64encode(api_key.encode()).decode()
    else:
        raise unauthorized()
    if not _basic_valid(encoded, config):
        raise unauthorized()
