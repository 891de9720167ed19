"""Vonage's webhook bodies (Messages v1, providers.md section 5) and a message's statuses.

Statuses: SMS and MMS go ``submitted``, ``delivered``; WhatsApp adds ``read``. A destination set
to fail goes ``rejected`` (fate ``failed``) or ``submitted``, ``undeliverable`` (fate
``undelivered``), with an ``error`` object; a WhatsApp rule breach is ``rejected`` at once.
Timestamps are ISO 8601 in UTC (``2025-02-03T12:14:25Z``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from textbridge.simulator.callbacks import LifecycleStep
from textbridge.simulator.state import NumberFate, StoredMessage
from textbridge.simulator.vonage.callbacks import VonageSigner, VonageWebhook
from textbridge.simulator.vonage.vocabulary import (
    CURRENCY,
    DEFAULT_ERROR_CODES,
    ERROR_DETAILS,
    ERRORS_BASE,
    FATE_STATUSES,
    NETWORK_CODE,
    PRICES,
    VonageStatus,
)

Payload = dict[str, object]
_FAILURES = frozenset({"rejected", "undeliverable"})


@dataclass(frozen=True)
class VonagePlan:
    """The statuses a message goes through; the error code of its failure, if any; and the
    WhatsApp pricing category (``service`` for free-form, else the template's)."""

    statuses: tuple[VonageStatus, ...]
    error_code: str | None = None
    category: str = "service"


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vonage_plan(message: StoredMessage, fate: NumberFate, rule_error: str | None) -> VonagePlan:
    """A rule breach rejects at once; otherwise the destination's fate decides."""
    if rule_error is not None:
        return VonagePlan(("rejected",), rule_error)
    if fate.outcome == "delivered":
        read: tuple[VonageStatus, ...] = ("read",) if message.message_type == "whatsapp" else ()
        return VonagePlan(("submitted", "delivered", *read))
    # A fate shared by both providers carries Plivo's code: Vonage reports its own default.
    code = fate.error_code if fate.provider == "vonage" else None
    status = FATE_STATUSES[fate.outcome]
    statuses: tuple[VonageStatus, ...] = (
        ("rejected",) if status == "rejected" else ("submitted", "undeliverable")
    )
    return VonagePlan(statuses, code or DEFAULT_ERROR_CODES[fate.outcome])


def vonage_steps(
    message: StoredMessage, plan: VonagePlan, delay: float, signer: VonageSigner
) -> list[LifecycleStep]:
    """The lifecycle of ``message`` with its signed callbacks, one every ``delay`` seconds."""
    steps = []
    for index, status in enumerate(plan.statuses):
        moment = message.message_time + timedelta(seconds=delay * index)
        code = plan.error_code if status in _FAILURES else None
        payload = status_payload(message, status, moment, code, plan.category)
        webhook = None
        if message.callback_url is not None:
            webhook = VonageWebhook(message.callback_url, payload, signer)
        steps.append(LifecycleStep(status, moment, code, webhook))
    return steps


def status_payload(
    message: StoredMessage,
    status: VonageStatus,
    moment: datetime,
    error_code: str | None,
    category: str,
) -> Payload:
    """A message-status webhook body (no ``message_type``: status bodies have none)."""
    payload: Payload = {
        "message_uuid": message.message_uuid,
        "to": message.to_number,
        "from": message.from_number,
        "channel": message.message_type,
        "timestamp": iso_time(moment),
        "status": status,
    }
    if message.client_ref is not None:
        payload["client_ref"] = message.client_ref
    if error_code is not None:
        payload["error"] = error_object(error_code)
        return payload
    payload["usage"] = usage(message.message_type)
    payload.update(_channel_extras(message, status, category))
    return payload


def error_object(code: str) -> dict[str, str]:
    return {
        "type": ERRORS_BASE + code,
        "title": code,
        "detail": ERROR_DETAILS.get(code, "Delivery failed"),
        "instance": uuid.uuid4().hex,
    }


def usage(channel: str) -> dict[str, str]:
    return {"currency": CURRENCY, "price": PRICES.get(channel, "0.0000")}


def _channel_extras(message: StoredMessage, status: VonageStatus, category: str) -> Payload:
    if message.message_type == "sms":
        return {
            "destination": {"network_code": NETWORK_CODE},
            "sms": {"count_total": str(message.units)},
        }
    if message.message_type == "mms":
        return {"destination": {"network_code": NETWORK_CODE}}
    if status != "delivered":
        return {}
    return {"whatsapp": _whatsapp_delivered(message, category)}


def _whatsapp_delivered(message: StoredMessage, category: str) -> Payload:
    return {
        "recipient": {"wa_id": message.to_number},
        "pricing": {"type": "regular", "pricing_model": "PMP", "category": category},
        "conversation": {"id": message.message_uuid, "origin": {"type": category}},
    }


# --- inbound ---------------------------------------------------------------------------------


def inbound_payload(
    message: StoredMessage, content: Mapping[str, object], profile_name: str | None
) -> Payload:
    """An inbound-message webhook body; ``content`` is the type's own field(s)."""
    payload: Payload = {
        "channel": message.message_type,
        "message_uuid": message.message_uuid,
        "to": message.to_number,
        "from": message.from_number,
        "timestamp": iso_time(message.message_time),
        "message_type": message.content_type or "text",
        **content,
    }
    if message.message_type == "sms":
        payload["sms"] = {"num_messages": str(message.units), "keyword": sms_keyword(message.text)}
        payload["usage"] = usage("sms")
        return payload
    if message.message_type == "mms":
        return payload
    payload.update(_whatsapp_inbound(message, profile_name))
    return payload


def sms_keyword(text: str) -> str:
    """Vonage's ``sms.keyword``: the first word of the message, upper-cased."""
    words = text.split()
    return words[0].upper() if words else ""


def _whatsapp_inbound(message: StoredMessage, profile_name: str | None) -> Payload:
    return {
        "profile": {"name": profile_name or "WhatsApp User"},
        "context_status": "none",
        "whatsapp": {"sender": {"wa_id": message.from_number}},
        "_self": {"href": f"https://api.nexmo.com/v1/messages/{message.message_uuid}"},
    }
