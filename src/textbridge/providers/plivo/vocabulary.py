"""Plivo's words, as data. Source: providers.md sections 1-2
(https://plivo.com/docs/messaging/api/message/message-status-callbacks)."""

from __future__ import annotations

from typing import Final

from textbridge.messaging import status

STATUS_MAP: Final[dict[str, str]] = {
    "queued": status.SUBMITTED,
    "sent": status.SENT,
    "delivered": status.DELIVERED,
    "undelivered": status.UNDELIVERED,
    "failed": status.FAILED,
    "rejected": status.REJECTED,
    "read": status.READ,
}

# https://www.plivo.com/docs/sms/api/message#sms-error-codes (subset the simulator produces).
ERROR_CODES: Final[dict[str, str]] = {
    "10": "Invalid message",
    "20": "Network error",
    "30": "Spam detected",
    "40": "Invalid source number",
    "50": "Invalid destination number",
    "200": "Source number blocked",
    "300": "Destination number blocked / unreachable",
    "420": "Message expired",
    "900": "Insufficient credit",
    "1000": "Unknown error",
}

SUCCESS_ERROR_CODE: Final = "000"

# Account API limit: 300 requests per 5 s for non-call APIs (Plivo account-limits docs).
API_REQUESTS_PER_SECOND: Final = 60.0
SMS_MAX_GSM_CHARACTERS: Final = 1600
SMS_MAX_UCS2_CHARACTERS: Final = 737
