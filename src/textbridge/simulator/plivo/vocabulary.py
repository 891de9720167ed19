"""Plivo's vocabulary as the simulator speaks it: types, statuses, error codes, limits, prices.

Sources: ``/work/shared/reference/providers.md`` sections 1-3 and Plivo's messaging error-code
page (https://plivo.com/docs/messaging/troubleshooting/error-codes).
"""

from __future__ import annotations

from typing import Final, Literal

MessageType = Literal["sms", "mms", "whatsapp"]
Outcome = Literal["delivered", "failed", "undelivered"]
CallbackMethod = Literal["GET", "POST"]

MESSAGE_TYPES: Final[tuple[MessageType, ...]] = ("sms", "mms", "whatsapp")
CALLBACK_METHODS: Final[tuple[CallbackMethod, ...]] = ("GET", "POST")

# Plivo strips these from `src` and `dst` before validating them.
NUMBER_PUNCTUATION: Final = "+-.()/ "
MAX_NUMBER_DIGITS: Final = 15  # E.164
MIN_NUMBER_DIGITS: Final = 3
MAX_ALPHANUMERIC_SENDER: Final = 11  # SMS only

# Characters per message (not per segment): GSM-7 / UCS-2 SMS, and WhatsApp free-form text.
SMS_TEXT_LIMITS: Final[dict[str, int]] = {"GSM-7": 1600, "UCS-2": 737}
WHATSAPP_TEXT_LIMIT: Final = 4096
MMS_MAX_MEDIA: Final = 10  # media_urls per MMS
WHATSAPP_MAX_MEDIA: Final = 1  # one media URL per WhatsApp message; `text` is its caption

# Callback sequences by destination fate. Plivo: a message that cannot reach a carrier goes
# queued -> failed; one the carrier took but could not deliver goes queued -> sent -> undelivered.
LIFECYCLES: Final[dict[Outcome, tuple[str, ...]]] = {
    "delivered": ("queued", "sent", "delivered"),
    "failed": ("queued", "failed"),
    "undelivered": ("queued", "sent", "undelivered"),
}
TERMINAL_STATUSES: Final = frozenset({"delivered", "failed", "undelivered", "rejected", "read"})

# A few of Plivo's message error codes (the `ErrorCode` callback param, `error_code` field).
ERROR_CODES: Final[dict[str, str]] = {
    "000": "Success",
    "10": "Invalid message",
    "20": "Network error",
    "30": "Spam detected",
    "40": "Invalid source number",
    "50": "Invalid destination number",
    "70": "Destination permanently unavailable",
    "80": "Destination temporarily unavailable",
    "90": "No route available",
    "200": "Source number blocked by STOP from destination number",
    "300": "Failed to dispatch message",
    "420": "Message expired",
    "900": "Insufficient credit",
    "1000": "Unknown error",
    # WhatsApp rule failures: Plivo reports its own codes, not Meta's (see
    # providers/plivo/vocabulary.py for the source and how sure we are).
    "340": "WhatsApp template not approved, or free-form message outside the 24-hour window",
    "350": "WhatsApp template parameters do not match the template",
}
SUCCESS_ERROR_CODE: Final = "000"
WHATSAPP_WINDOW_ERROR_CODE: Final = "340"
WHATSAPP_TEMPLATE_ERROR_CODE: Final = "340"
WHATSAPP_PARAMETER_ERROR_CODE: Final = "350"
DEFAULT_ERROR_CODES: Final[dict[Outcome, str]] = {"failed": "300", "undelivered": "50"}

# Per-unit prices in USD, formatted like Plivo (five decimals).
OUTBOUND_RATES: Final[dict[MessageType, str]] = {
    "sms": "0.00500",
    "mms": "0.02000",
    "whatsapp": "0.00500",
}
INBOUND_RATE: Final = "0.00000"

# The network reported in status callbacks (T-Mobile USA).
MCC: Final = "310"
MNC: Final = "260"

# Plivo's `MessageIntent` on inbound SMS: the whole text, case-insensitive, is a standard keyword.
MESSAGE_INTENTS: Final[dict[str, str]] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "optout"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "optin"),
    **dict.fromkeys(("HELP", "INFO"), "help"),
}

# Callback retries after a non-2xx or a connection error: Plivo waits 60, 120, 240 s; the
# simulator waits these multiples of its callback delay instead.
RETRY_DELAY_FACTORS: Final[tuple[int, ...]] = (4, 8, 16)
CALLBACK_TIMEOUT_SECONDS: Final = 8.0  # Plivo's response deadline for webhooks

# Plivo's Auth ID: MA (main account) or SA (subaccount) followed by 18 characters.
AUTH_ID_PREFIXES: Final = ("MA", "SA")
AUTH_ID_LENGTH: Final = 20
