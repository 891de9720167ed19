"""Inject one inbound message through the control API and catch the webhook it posts."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .harness import Received, Receiver, assert_signed
from .vonage_support import assert_vonage_signed

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
USER, OURS = "14155550199", "14155550100"
PLIVO = {"from": f"+{USER}", "to": f"+{OURS}"}
VONAGE = {"from": USER, "to": OURS}


def plivo_fields(webhook: Received) -> dict[str, str]:
    """A Plivo webhook's fields: its form, or its JSON body with nested objects as dotted
    names (``Button.Payload``)."""
    if not webhook.headers.get("content-type", "").startswith("application/json"):
        return webhook.params
    return dict(_dotted(webhook.json(), ""))


def _dotted(value: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if isinstance(item, dict):
            pairs += _dotted(item, f"{prefix}{key}.")
        else:
            assert isinstance(item, str), (key, item)  # Plivo's fields are all strings
            pairs.append((f"{prefix}{key}", item))
    return pairs


def plivo_inbound(
    control: httpx.Client, receiver: Receiver, body: dict[str, Any]
) -> dict[str, str]:
    """The fields of the Plivo webhook that injecting ``body`` posts (signature checked)."""
    answer = control.post("/plivo/inbound", json={**PLIVO, **body})
    assert answer.status_code == 200, answer.text
    [webhook] = receiver.wait_for(1, "/inbound")
    assert_signed(webhook, "POST", f"{receiver.url}/inbound")
    fields = plivo_fields(webhook)
    assert fields["MessageUUID"] == answer.json()["message_uuid"]
    return fields


def vonage_webhook(control: httpx.Client, receiver: Receiver, body: dict[str, Any]) -> Received:
    """The Vonage webhook that injecting ``body`` posts (signature checked)."""
    answer = control.post("/vonage/inbound", json={**VONAGE, **body})
    assert answer.status_code == 200, answer.text
    [webhook] = receiver.wait_for(1, "/vonage/inbound")
    assert_vonage_signed(webhook)
    assert webhook.json()["message_uuid"] == answer.json()["message_uuid"]
    return webhook


def stable_payload(webhook: Received) -> Any:
    """The webhook's JSON without its per-message ``message_uuid`` and ``timestamp``."""
    payload = webhook.json()
    assert ISO.match(payload.pop("timestamp"))
    payload.pop("message_uuid")
    return payload


def vonage_inbound(control: httpx.Client, receiver: Receiver, body: dict[str, Any]) -> Any:
    return stable_payload(vonage_webhook(control, receiver, body))
