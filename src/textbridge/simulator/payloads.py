"""The parameters of the webhooks the simulator sends, exactly as Plivo names them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from textbridge.simulator.state import NumberFate, StoredMessage, callback_time
from textbridge.simulator.vocabulary import (
    LIFECYCLES,
    MCC,
    MESSAGE_INTENTS,
    MNC,
    TERMINAL_STATUSES,
)

Params = tuple[tuple[str, str], ...]

_FAILURE_STATUSES = frozenset({"failed", "undelivered"})


@dataclass(frozen=True)
class StatusEvent:
    """One step of a message's life and the callback params that report it."""

    status: str
    moment: datetime
    error_code: str | None
    params: Params


def plan_lifecycle(message: StoredMessage, fate: NumberFate, delay: float) -> list[StatusEvent]:
    """The status events of ``message``, one every ``delay`` seconds from its creation."""
    statuses = LIFECYCLES[fate.outcome]
    start = message.message_time
    moments = [start + timedelta(seconds=delay * step) for step in range(len(statuses))]
    return [
        _status_event(message, statuses, moments, step, fate.error_code)
        for step in range(len(statuses))
    ]


def _status_event(
    message: StoredMessage,
    statuses: Sequence[str],
    moments: Sequence[datetime],
    step: int,
    fate_error_code: str | None,
) -> StatusEvent:
    status, moment = statuses[step], moments[step]
    error_code = fate_error_code if status in _FAILURE_STATUSES else None
    reached = statuses[: step + 1]
    sent_at = moments[reached.index("sent")] if "sent" in reached else None
    params: list[tuple[str, str]] = [
        ("MessageUUID", message.message_uuid),
        ("To", message.to_number),
        ("From", message.from_number),
        ("Type", message.message_type),
        ("Status", status),
        ("Units", str(message.units)),
        ("TotalRate", message.total_rate),
        ("TotalAmount", message.total_amount),
        ("MCC", MCC),
        ("MNC", MNC),
        ("ParentMessageUUID", message.message_uuid),
        ("PartInfo", "1 of 1"),
        ("Sequence", str(step + 1)),
        ("MessageTime", callback_time(message.message_time)),
        ("QueuedTime", callback_time(moments[0])),
        ("SentTime", callback_time(sent_at) if sent_at else ""),
        ("DeliveryReportTime", callback_time(moment) if status in TERMINAL_STATUSES else ""),
    ]
    if error_code is not None:
        params.append(("ErrorCode", error_code))
    return StatusEvent(status, moment, error_code, tuple(params))


def message_intent(text: str) -> str:
    """Plivo's ``MessageIntent``: set when the whole text is a standard keyword."""
    word = text.strip().strip(".!?,;:").strip().upper()
    return MESSAGE_INTENTS.get(word, "")


def inbound_params(message: StoredMessage) -> Params:
    """The form fields of Plivo's inbound SMS webhook (``message_url``)."""
    return (
        ("From", message.from_number),
        ("To", message.to_number),
        ("Type", message.message_type),
        ("Text", message.text),
        ("MessageUUID", message.message_uuid),
        ("Units", str(message.units)),
        ("TotalRate", message.total_rate),
        ("TotalAmount", message.total_amount),
        ("MessageIntent", message_intent(message.text)),
        ("PowerpackUUID", ""),
    )
