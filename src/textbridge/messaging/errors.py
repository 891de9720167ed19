"""Errors the messaging domain raises for requests it refuses (the API answers 422 or 409).

MessagingError               invalid request; `field` names the input at fault
├── IdempotencyConflict      the Idempotency-Key was used with another body (409)
├── OutsideWhatsAppWindow    free-form WhatsApp outside the 24-hour window
└── NotReplyable             the recipient cannot receive messages (an alphanumeric sender
                             ID, a short code), or not on this channel or provider
"""

from __future__ import annotations

from typing import Any


class MessagingError(Exception):
    code = "invalid_request"
    status = 422

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.field = field
        self.details = details


class IdempotencyConflict(MessagingError):
    code = "idempotency_key_reused"
    status = 409


class OutsideWhatsAppWindow(MessagingError):
    code = "outside_whatsapp_window"


class NotReplyable(MessagingError):
    code = "recipient_not_replyable"


class RecipientOptedOut(MessagingError):
    code = "recipient_opted_out"
    status = 409
