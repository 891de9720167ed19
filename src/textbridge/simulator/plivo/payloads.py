"""Plivo's status callbacks: which statuses a message goes through, and the params of each,
exactly as Plivo names them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from textbridge.simulator.callbacks import LifecycleStep, Params, PlivoWebhook
from textbridge.simulator.plivo.vocabulary import (
    LIFECYCLES,
    MCC,
    MNC,
    SUCCESS_ERROR_CODE,
    TERMINAL_STATUSES,
)
from textbridge.simulator.state import NumberFate, StoredMessage, callback_time

_FAILURE_STATUSES = frozenset({"failed", "undelivered"})


@dataclass(frozen=True)
class StatusEvent:
    """One step of a message's life and the callback params that report it."""

    status: str
    moment: datetime
    error_code: str | None
    params: Params


@dataclass(frozen=True)
class Plan:
    """The statuses a message will go through, and the error code of its failure, if any."""

    statuses: tuple[str, ...]
    error_code: str | None = None


def plan_for(message: StoredMessage, fate: NumberFate, rule_error: str | None) -> Plan:
    """A WhatsApp rule breach fails the message at once (queued -> failed); otherwise the
    destination's fate decides, and a delivered WhatsApp message is then read."""
    if rule_error is not None:
        return Plan(("queued", "failed"), rule_error)
    statuses = LIFECYCLES[fate.outcome]
    if message.message_type == "whatsapp" and fate.outcome == "delivered":
        statuses = (*statuses, "read")
    return Plan(statuses, fate.error_code)


def plivo_steps(
    message: StoredMessage, plan: Plan, delay: float, auth_token: str
) -> list[LifecycleStep]:
    """The lifecycle of ``message`` with its signed callbacks, one every ``delay`` seconds."""
    return [
        _step(message, event, auth_token)
        for event in plan_lifecycle(message, plan.statuses, plan.error_code, delay)
    ]


def _step(message: StoredMessage, event: StatusEvent, auth_token: str) -> LifecycleStep:
    code = SUCCESS_ERROR_CODE if event.status == "delivered" else event.error_code
    webhook = None
    if message.callback_url is not None:
        webhook = PlivoWebhook(
            message.callback_url, message.callback_method, event.params, auth_token
        )
    return LifecycleStep(event.status, event.moment, code, webhook)


def plan_lifecycle(
    message: StoredMessage, statuses: Sequence[str], error_code: str | None, delay: float
) -> list[StatusEvent]:
    """The status events of ``message``, one every ``delay`` seconds from its creation."""
    start = message.message_time
    moments = [start + timedelta(seconds=delay * step) for step in range(len(statuses))]
    return [
        _status_event(message, statuses, moments, step, error_code) for step in range(len(statuses))
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
