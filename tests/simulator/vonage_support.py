"""Vonage test support: the fake account's credentials, an RSA application key, signatures."""

from __future__ import annotations

from functools import cache

import vonage_jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from textbridge.providers.vonage.signature import bearer_token, verify

from .harness import Received

APPLICATION_ID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
API_KEY = "a1b2c3d4"
API_SECRET = "sim-api-secret-1"
# At least 32 bytes: PyJWT warns about shorter HMAC keys (and warnings fail the tests).
SIGNATURE_SECRET = "sim-signature-secret-0123456789abcdef"
WABA_ID = "104996122399160"


@cache
def private_key_pem(seed: int = 0) -> str:
    """An RSA application key (``seed`` tells several keys apart), as PKCS#8 PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def assert_vonage_signed(received: Received) -> None:
    """The webhook carries the Bearer JWT Vonage sends: valid for the official SDK's checker,
    and for ours (which also checks ``payload_hash`` against the body and the ``iat`` age)."""
    assert received.headers["content-type"] == "application/json"
    token = bearer_token(received.headers)
    assert token is not None, "no Authorization: Bearer header"
    assert vonage_jwt.verify_signature(token, SIGNATURE_SECRET)
    assert verify(received.headers, received.body, SIGNATURE_SECRET)
