"""Constants and helpers for the Vonage adapter tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textbridge.providers.base import OutboundMessage

APPLICATION_ID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
API_KEY = "a1b2c3d4"
API_SECRET = "s3cr3t-api-secret-value"
SIGNATURE_SECRET = "ZmFrZS1zaWduYXR1cmUtc2VjcmV0LWZvci10ZXN0cw"
OUR_NUMBER = "+14155550100"
CONTACT = "+14155550199"
STATUS_URL = "https://textbridge.example/webhooks/vonage/status"
NOW = 1_790_000_000.0


class FakeClock:
    """A settable `time.time`."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def message(channel: str = "sms", **changes: Any) -> OutboundMessage:
    base = OutboundMessage(
        message_id="msg_01JD7X3K9Q",
        channel=channel,  # type: ignore[arg-type]
        from_address=OUR_NUMBER,
        to_address=CONTACT,
        text="Your order has shipped.",
        status_callback_url=STATUS_URL,
    )
    return replace(base, **changes)
