"""Parse Plivo's inbound-message and status-callback webhooks into normalized events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from textbridge.providers.base import (
    InboundMessage,
    StatusUpdate,
    WebhookEvent,
    WebhookKind,
    WebhookPayloadError,
)
from textbridge.providers.plivo.vocabulary import ERROR_CODES

PROVIDER = "plivo"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def parse(kind: WebhookKind, params: Sequence[tuple[str, str]]) -> list[WebhookEvent]:
    fields = dict(params)
    if kind == "inbound":
        return [_inbound(fields)]
    return [_status(fields)]


def dedup_key(kind: WebhookKind, events: list[WebhookEvent]) -> str:
    event = events[0]
    if isinstance(event, StatusUpdate):
        return f"{PROVIDER}:status:{event.dedup_key}"
    return f"{PROVIDER}:inbound:{event.provider_message_id}"


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise WebhookPayloadError(f"missing field {name}")
    return value


def _e164(number: str) -> str:
    return number if number.startswith("+") or not number.isdigit() else f"+{number}"


def _inbound(fields: dict[str, str]) -> InboundMessage:
    message_type = fields.get("Type", "sms") or "sms"
    if message_type != "sms":
        raise WebhookPayloadError(f"unsupported message type {message_type!r}")
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=_required(fields, "MessageUUID"),
        channel="sms",
        from_address=_e164(_required(fields, "From")),
        to_address=_e164(_required(fields, "To")),
        text=fields.get("Text") or fields.get("Body") or "",
        segments=_int_or_none(fields.get("Units")),
        raw=fields,
    )


def _status(fields: dict[str, str]) -> StatusUpdate:
    error_code = _error_code(fields.get("ErrorCode"))
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=_required(fields, "MessageUUID"),
        provider_status=_required(fields, "Status").lower(),
        error_code=error_code,
        error_description=ERROR_CODES.get(error_code or "", error_code and "Plivo error"),
        occurred_at=_time(fields),
        price=fields.get("TotalAmount") or None,
        raw=fields,
    )


def _error_code(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "000", "0") else value


def _time(fields: dict[str, str]) -> datetime | None:
    for name in ("DeliveryReportTime", "SentTime", "QueuedTime", "MessageTime"):
        value = fields.get(name)
        if value:
            try:
                return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
