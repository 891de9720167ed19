"""Correctly signed provider webhooks, posted straight to a running textbridge: for senders
and contents that the simulator's control routes do not produce."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from textbridge.providers.plivo.signature import signed_headers
from textbridge.providers.vonage.signature import sign_webhook

from ..support.textbridge import Textbridge

PLIVO_SMS = "14155550100"
VONAGE_SMS = "14155550102"
VONAGE_WHATSAPP = "14155550103"


def post_plivo(textbridge: Textbridge, kind: str, fields: dict[str, str]) -> httpx.Response:
    assert textbridge.runtime.sandbox is not None
    token = textbridge.runtime.sandbox.plivo_auth_token
    url = f"{textbridge.url}/webhooks/plivo/{kind}"
    params = list(fields.items())
    headers = {
        **signed_headers(token, "POST", url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return httpx.post(url, content=urlencode(params), headers=headers, timeout=10)


def plivo_sms(sender: str, text: str, **extra: str) -> dict[str, str]:
    return {
        "From": sender,
        "To": PLIVO_SMS,
        "Type": "sms",
        "Text": text,
        "MessageUUID": str(uuid.uuid4()),
        "Units": "1",
        **extra,
    }


def post_vonage(textbridge: Textbridge, kind: str, payload: dict[str, Any]) -> httpx.Response:
    """`payload` is sent as JSON with ASCII escapes, so that it can carry a lone surrogate."""
    assert textbridge.runtime.sandbox is not None
    secret = textbridge.runtime.sandbox.vonage_signature_secret
    body = json.dumps(payload).encode()
    headers = {**sign_webhook(secret, body), "Content-Type": "application/json"}
    url = f"{textbridge.url}/webhooks/vonage/{kind}"
    return httpx.post(url, content=body, headers=headers, timeout=10)


def vonage_text(channel: str, sender: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "message_uuid": str(uuid.uuid4()),
        "to": VONAGE_WHATSAPP if channel == "whatsapp" else VONAGE_SMS,
        "from": sender,
        # Now: a WhatsApp message opens its 24-hour window at the time the provider gives.
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message_type": "text",
        "text": text,
        **({"context_status": "none"} if channel == "whatsapp" else {}),
        **extra,
    }
