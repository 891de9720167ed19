"""Vonage Messages API (v1) vocabulary as the simulator speaks it.

Sources: ``/work/shared/reference/providers.md`` sections 4-6, and the Messages OpenAPI 1.20.0
(``x-errors`` and the 422 ``MessageUnprocessableResponse`` examples), as mirrored in
api-evangelist/vonage ``openapi/_original/vonage-messages-openapi.yml``.
"""

from __future__ import annotations

from typing import Final, Literal

Channel = Literal["sms", "mms", "whatsapp"]
VonageStatus = Literal["submitted", "delivered", "read", "rejected", "undeliverable"]

CHANNELS: Final[tuple[Channel, ...]] = ("sms", "mms", "whatsapp")

# message_type values each channel accepts (the v1 flat shape; MMS "content" is not simulated).
MESSAGE_TYPES: Final[dict[Channel, tuple[str, ...]]] = {
    "sms": ("text",),
    "mms": ("text", "image", "vcard", "audio", "video", "file"),
    # WhatsApp sticker: SDK vonage_messages/models/whatsapp.py `WhatsappSticker`.
    "whatsapp": ("text", "image", "audio", "video", "file", "sticker", "template", "custom"),
}
# Media message types: the object named like the type needs a `url`.
MEDIA_TYPES: Final = frozenset({"image", "vcard", "audio", "video", "file"})

TEXT_LIMITS: Final[dict[Channel, int]] = {"sms": 3200, "whatsapp": 4096}  # MMS: none documented
CAPTION_LIMIT: Final = 3000
CLIENT_REF_LIMIT: Final = 100
TO_DIGITS: Final = (7, 15)  # ToNumber: E.164 digits without "+"
MAX_ALPHANUMERIC_SENDER: Final = 11  # SMS only

# 422 problem types, as the OpenAPI `MessageUnprocessableResponse` examples give them.
ERRORS_BASE: Final = "https://developer.vonage.com/api-errors/messages#"
INVALID_JSON_TYPE: Final = "https://developer.vonage.com/api-errors#invalid-json"
UNAUTHORIZED_TYPE: Final = "https://developer.vonage.com/api-errors#unauthorized"
THROTTLED_TYPE: Final = "https://developer.vonage.com/api-errors#throttled"
INTERNAL_TYPE: Final = "https://developer.vonage.com/api-errors#internal-error"
PROBLEMS: Final[dict[str, tuple[str, str]]] = {  # kind -> (code, title)
    "channel": ("1100", "Unsupported channel"),
    "sender": ("1120", "Invalid sender"),
    # The OpenAPI example reads "#110" (a typo); 1130 keeps the 11x0 pattern.
    "recipient": ("1130", "Invalid recipient"),
    "message_type": ("1140", "Invalid message type"),
    "params": ("1150", "Invalid params"),
    "client_ref": ("1060", "Invalid client reference"),
}

# Status-callback error codes (`error.title`), from the OpenAPI `x-errors` list.
ERROR_DETAILS: Final[dict[str, str]] = {
    "1020": "Invalid params - The value of one or more parameters is invalid.",
    "1022": "Invalid template - Invalid template or template parameters",
    # Not in the Messages OpenAPI's list; Vonage's error page
    # (https://developer.vonage.com/en/api-errors/messages) gives it, and it is the code a
    # barred (blocked) destination fails with: compliance.consent treats it as an opt-out.
    "1050": "Number barred - The number you are trying to submit to is blacklisted and may "
    "not receive messages",
    "1250": "Unroutable - The chosen route to send your message is not available.",
    "1260": "Destination unreachable - The message could not be delivered to the phone number.",
    "1340": "Outside of the allowed window - This message is sent outside of allowed "
    "response window.",
}
OUTSIDE_WINDOW_CODE: Final = "1340"
INVALID_TEMPLATE_CODE: Final = "1022"
# Default codes for destinations set to fail (`PUT /control/numbers/...`), by fate outcome:
# `failed` is reported as `rejected`, `undelivered` as `undeliverable`.
DEFAULT_ERROR_CODES: Final[dict[str, str]] = {"failed": "1250", "undelivered": "1260"}
FATE_STATUSES: Final[dict[str, VonageStatus]] = {
    "failed": "rejected",
    "undelivered": "undeliverable",
}

# Per-message prices in EUR, as the strings Vonage reports in `usage`.
PRICES: Final[dict[str, str]] = {"sms": "0.0057", "mms": "0.0200", "whatsapp": "0.0000"}
CURRENCY: Final = "EUR"
NETWORK_CODE: Final = "310260"  # T-Mobile USA, reported as `destination.network_code`
