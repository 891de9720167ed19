"""Vonage's signed webhooks against the running app: a token made the way Vonage makes it
verifies; a tampered body, a wrong secret or a stale `iat` gets 401 and stores nothing.
(An unsigned request is kept as `unverified`: tests/webhooks/test_forgery.py.)"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from ...support.live import wait_until
from ...support.textbridge import CONTACT, Textbridge


def _body() -> bytes:
    return json.dumps(
        {
            "channel": "sms",
            "message_uuid": str(uuid.uuid4()),
            "to": "14155550102",
            "from": CONTACT.lstrip("+"),
            "timestamp": "2026-11-26T10:00:00Z",
            "message_type": "text",
            "text": "signed by Vonage",
        }
    ).encode()


def _token(secret: str, body: bytes, iat: float | None = None) -> str:
    # Vonage's claims (providers.md section 5), signed with PyJWT as Vonage does (HS256).
    claims = {
        "iat": int(iat if iat is not None else time.time()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "a1b2c3d4",
        "application_id": str(uuid.uuid4()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def secret(textbridge: Textbridge) -> str:
    assert textbridge.runtime.sandbox is not None
    return textbridge.runtime.sandbox.vonage_signature_secret


@pytest.fixture
def post(textbridge: Textbridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        yield client


def _deliver(client: httpx.Client, body: bytes, token: str | None) -> int:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return client.post("/webhooks/vonage/inbound", content=body, headers=headers).status_code


def test_signed_like_vonage_is_accepted(
    textbridge: Textbridge, post: httpx.Client, secret: str
) -> None:
    body = _body()
    assert _deliver(post, body, _token(secret, body)) == 200
    wait_until(lambda: textbridge.database.scalar("SELECT count(*) FROM messages") == 1)


def test_refusals(textbridge: Textbridge, post: httpx.Client, secret: str) -> None:
    body = _body()
    tampered = body.replace(b"signed by Vonage", b"signed by V0nage")
    assert _deliver(post, tampered, _token(secret, body)) == 401
    assert _deliver(post, body, _token("not-the-secret-at-all-0123456789", body)) == 401
    assert _deliver(post, body, _token(secret, body, iat=time.time() - 600)) == 401
    assert _deliver(post, body, _token(secret, body, iat=time.time() + 600)) == 401
    states = textbridge.database.rows("SELECT state FROM webhook_journal")
    assert [state for (state,) in states] == ["refused"] * 4
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def _whatsapp(sent: datetime) -> bytes:
    return json.dumps(
        {
            "channel": "whatsapp",
            "message_uuid": str(uuid.uuid4()),
            "to": "14155550103",
            "from": CONTACT.lstrip("+"),
            "timestamp": sent.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "message_type": "text",
            "text": "sent a while ago",
            "context_status": "none",
        }
    ).encode()


def test_the_window_counts_from_when_the_contact_wrote(
    textbridge: Textbridge, post: httpx.Client, secret: str
) -> None:
    """Vonage retries webhooks for up to 24 h: a message written 23 h ago leaves 1 h."""
    now = datetime.now(UTC)
    late = _whatsapp(now - timedelta(hours=23))
    assert _deliver(post, late, _token(secret, late)) == 200
    conversations = wait_until(lambda: textbridge.api.get("/api/v1/conversations").json())
    closes = datetime.fromisoformat(conversations[0]["window_expires_at"])
    assert timedelta(minutes=55) < closes - now < timedelta(minutes=65)

    older = _whatsapp(now - timedelta(hours=30))
    assert _deliver(post, older, _token(secret, older)) == 200
    wait_until(lambda: textbridge.database.scalar("SELECT count(*) FROM messages") == 2)
    again = textbridge.api.get("/api/v1/conversations").json()[0]["window_expires_at"]
    assert datetime.fromisoformat(again) == closes, "an older message never moves it back"
