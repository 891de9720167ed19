"""Signatures as the Standard Webhooks specification defines them (standard-webhooks/
standard-webhooks, `spec/standard-webhooks.md`, "Signature scheme" and "Webhook headers"):

- the secret is `whsec_` + base64 of random bytes (24 to 64); the HMAC key is those bytes;
- the signed content is `{webhook-id}.{webhook-timestamp}.{body}`, the body byte for byte;
- `webhook-signature` is `v1,` + base64 of its HMAC-SHA256, a space-separated list: one per
  secret in use (two while a rotation overlaps, so the receiver may verify with either);
- `webhook-timestamp` is integer seconds since the epoch, of the attempt (a retry re-signs);
- `webhook-id` is the same on every attempt: the receiver's idempotency key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_id(delivery_id: uuid.UUID) -> str:
    return f"msg_{delivery_id.hex}"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secrets_in_use: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    signatures = (signature(secret, message_id, timestamp, body) for secret in secrets_in_use)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
