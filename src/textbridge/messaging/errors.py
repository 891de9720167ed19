"""Errors the messaging domain raises for requests it refuses (the API answers 422 or 409).

MessagingError               invalid request; `field` names the input at fault
├── IdempotencyConflict      the Idempotency-Key was used with another body (409)
└── OutsideWhatsAppWindow    free-form WhatsApp outside the 24-hour window
"""

from __future__ import annotations

from typing import Any

QUOTE_LIMIT = 64


def quoted(value: str, limit: int = QUOTE_LIMIT) -> str:
    """A value as an error message quotes it: its repr (escaped, so any string can be
    encoded), cut to a short prefix; an error never echoes a long input whole."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


class MessagingError(Exception):
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.field = field
        self.details = details


class IdempotencyConflict(MessagingError):
    code = "idempotency_key_reused"


class OutsideWhatsAppWindow(MessagingError):
    code = "outside_whatsapp_window"
