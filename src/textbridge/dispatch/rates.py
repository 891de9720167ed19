"""The published throughput limits the governor starts from, each with its source. Every one
is a setting (README, Configuration); these are only the defaults."""

from __future__ import annotations

from typing import Literal

SenderKind = Literal["long_code", "toll_free", "short_code", "alphanumeric", "whatsapp"]
SENDER_KINDS: tuple[SenderKind, ...] = (
    "long_code",
    "toll_free",
    "short_code",
    "alphanumeric",
    "whatsapp",
)

DEFAULT_RATES: dict[SenderKind, float] = {
    # About 1 segment per second per US long code: reference/domain.md (Twilio error 30001
    # docs, carrier practice); AWS End User Messaging "MPS limits": 1 MPS per 10DLC number.
    "long_code": 1.0,
    # US toll-free: 3 message parts per second (AWS End User Messaging, "MPS limits").
    "toll_free": 3.0,
    # US short code: 100+ segments per second: reference/domain.md (Twilio Messaging Services).
    "short_code": 100.0,
    # Alphanumeric sender IDs: 10 MPS (AWS End User Messaging, "MPS limits", sender IDs); the
    # real figure varies by country, so set TEXTBRIDGE_RATE_ALPHANUMERIC to your route's.
    "alphanumeric": 10.0,
    # WhatsApp Cloud API number: 80 messages/s by default: reference/domain.md (Meta docs).
    "whatsapp": 80.0,
}
"""Messages (SMS: segments) per second per sender, by kind."""

DEFAULT_ACCOUNT_RATES: dict[str, float] = {
    # Plivo: 300 requests per 5 s per account for non-call APIs, 429 past it
    # (reference/providers.md section 1; Plivo account-limits docs).
    "plivo": 300 / 5,
    # Vonage: 30 requests per second per API key, 429 with Retry-After (reference/domain.md;
    # Vonage support article 203993598).
    "vonage": 30.0,
}
"""Send API requests per second per provider account."""

DEFAULT_PAIR_SECONDS = 6.0
"""WhatsApp: about one message per 6 s to the same user before Meta's error 131056
(reference/domain.md, Meta error docs)."""
