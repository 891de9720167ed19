"""Webhooks signed the way the providers sign them, posted to a running textbridge over HTTP:
Plivo V3 over the public URL (with the official SDK's signing code, a fresh nonce each time)
and Vonage's HS256 JWT over the raw body."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3

from .textbridge import CONTACT, SANDBOX_NUMBER, Textbridge

VONAGE_SMS_NUMBER = "+14155550102"


def plivo_sms(text: str, sender: str = CONTACT, message_uuid: str | None = None) -> dict[str, str]:
    """An inbound SMS as Plivo posts it (the message UUID first: it identifies the body)."""
    return {
        "MessageUUID": message_uuid or str(uuid.uuid4()),
        "From": sender.lstrip("+"),
        "To": SANDBOX_NUMBER.lstrip("+"),
        "Type": "sms",
        "Text": text,
        "Units": "1",
    }


def vonage_sms(text: str, sender: str = CONTACT, message_uuid: str | None = None) -> dict[str, Any]:
    """An inbound SMS as Vonage's Messages API posts it."""
    return {
        "message_uuid": message_uuid or str(uuid.uuid4()),
        "channel": "sms",
        "to": VONAGE_SMS_NUMBER.lstrip("+"),
        "from": sender.lstrip("+"),
        "timestamp": "2026-11-26T10:00:00Z",
        "message_type": "text",
        "text": text,
    }


def post_plivo(textbridge: Textbridge, params: dict[str, str], kind: str = "inbound") -> int:
    assert textbridge.runtime.sandbox is not None
    token = textbridge.runtime.sandbox.plivo_auth_token
    url = f"{textbridge.url}/webhooks/plivo/{kind}"
    nonce = "".join(secrets.choice("0123456789") for _ in range(20))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "X-Plivo-Signature-V3": get_signature_v3(token, construct_post_url(url, params), nonce),
        "X-Plivo-Signature-V3-Nonce": nonce,
    }
    return _post(url, urlencode(params).encode(), headers)


def post_vonage(textbridge: Textbridge, payload: dict[str, Any], kind: str = "inbound") -> int:
    """`payload` as JSON with `ensure_ascii` (a lone surrogate goes out as `\\ud800`)."""
    assert textbridge.runtime.sandbox is not None
    secret = textbridge.runtime.sandbox.vonage_signature_secret
    body = json.dumps(payload).encode()
    claims = {
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "a1b2c3d4",
        "application_id": str(uuid.uuid4()),
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    return _post(f"{textbridge.url}/webhooks/vonage/{kind}", body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code
