"""The simulator logs its webhooks, and never the auth token."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import plivo
from structlog.testing import capture_logs

from ..support.live import wait_until
from .harness import AUTH_TOKEN, Receiver
from .vonage_support import API_SECRET, SIGNATURE_SECRET, private_key_pem


def callback_logs(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "simulator.callback.sent"]


def test_logs_callbacks_without_the_token(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client
) -> None:
    with capture_logs() as logs:
        receiver.fail_next(1)
        control.post("/plivo/inbound", json={"from": "1415", "to": "1416", "text": "x"})
        plivo_client.messages.create(
            src="14155550100", dst="14155550199", text="hi", url=f"{receiver.url}/status"
        )
        # The simulator logs after the receiver answers: wait for the log lines themselves.
        sent = wait_until(lambda: callback_logs(logs) if len(callback_logs(logs)) >= 4 else None)

    assert [(entry["status"], entry["status_code"]) for entry in sent] == [
        ("", 500),  # the inbound webhook
        ("queued", 200),
        ("sent", 200),
        ("delivered", 200),
    ]
    assert all(AUTH_TOKEN not in repr(entry) for entry in logs)


def test_logs_vonage_webhooks_without_secrets(
    vonage_api: httpx.Client, receiver: Receiver, control: httpx.Client
) -> None:
    sms = {"channel": "sms", "message_type": "text", "to": "14155550199", "from": "Acme"}
    with capture_logs() as logs:
        control.post(
            "/vonage/inbound", json={"channel": "sms", "from": "1415", "to": "1416", "text": "x"}
        )
        vonage_api.post("/v1/messages", json={**sms, "text": "hi"})
        sent = wait_until(lambda: callback_logs(logs) if len(callback_logs(logs)) >= 3 else None)

    assert [entry["status"] for entry in sent] == ["", "submitted", "delivered"]
    for secret in (SIGNATURE_SECRET, API_SECRET, private_key_pem()):
        assert all(secret not in repr(entry) for entry in logs)
