"""The control API (JSON, under ``/control``): set fates and faults, inspect, reset.

Not part of any provider: tests and the ``sim`` CLI drive the simulator through it. Errors are
400 ``{"api_id", "error"}``. Inbound injection lives in ``control.inbound``; the clock and the
WhatsApp templates in ``control.whatsapp``.

- ``GET /control/numbers[?provider=plivo|vonage]``;
  ``PUT /control/numbers/{number} {"outcome", "error_code"?, "provider"?}``;
  ``DELETE /control/numbers/{number}[?provider=...]``: destination fates (a leading ``+`` is
  ignored). Without ``provider`` a fate applies to both providers (its ``error_code`` is
  Plivo's; Vonage then reports its own default); a provider's own fate wins over it. Vonage
  reports ``failed`` as ``rejected`` and ``undelivered`` as ``undeliverable``.
- ``GET | PUT | DELETE /control/faults``: ``duplicate_callbacks``, ``shuffle_callbacks``,
  ``lost_callbacks`` (the share of status callbacks never sent, 0 to 1: lost receipts; the
  messages' statuses move on all the same), ``callback_delay_seconds``,
  ``fail_next_sends {"status": 429 | 500 | 502 | 503 | 504, "count"}`` (both APIs),
  ``send_delay_seconds`` (a slow provider: each send is taken at once, answered this late),
  ``random_sends {"rates": {"<status>": probability}, "retry_after_seconds", "taken":
  [statuses], "seed"}`` (each send call fails at random; 429 and 503 carry
  ``Retry-After``; the ``taken`` ones, by default 500 and 504, store the message first),
  ``record_sends`` (keep every send call for ``GET /control/sends``).
- ``GET /control/sends``: every send call while ``record_sends`` is on: ``at`` (epoch seconds
  on arrival), ``provider``, ``reference`` (Plivo: the callback URL's ``ref``; Vonage:
  ``client_ref``), ``status`` answered, ``taken``, ``retry_after``.
- ``GET /control/messages[?direction=inbound|outbound][&provider=plivo|vonage]``: every
  message, newest last; ``received_at`` is when the simulator took it, in seconds on its own
  monotonic clock (rate checks compare these, never the senders' clocks).
- ``POST /control/reset``: cancel pending callbacks; forget messages, fates, faults, WhatsApp
  windows and the clock offset; re-seed the templates.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from textbridge.simulator.callbacks import CallbackDispatcher
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.plivo.api import message_resource
from textbridge.simulator.plivo.vocabulary import Outcome
from textbridge.simulator.state import (
    NumberFate,
    Provider,
    RandomSendFaults,
    SendFault,
    SimulatorState,
    StoredMessage,
    number_key,
)

_NUMBER = re.compile(r"[0-9]{3,15}")
# GSM's alphanumeric sender ID (spaces left out here), or Meta's business-scoped user id.
_SENDER_ID = re.compile(r"[A-Za-z0-9]{1,11}|[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")


class ControlBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumberFateIn(ControlBody):
    outcome: Outcome
    error_code: str | None = Field(default=None, pattern=r"^[0-9]{1,6}$")
    provider: Provider | None = None


FaultStatus = Literal[429, 500, 502, 503, 504]


class SendFaultIn(ControlBody):
    status: FaultStatus
    count: int = Field(ge=0)


class RandomSendsIn(ControlBody):
    rates: dict[Literal["429", "500", "502", "503", "504"], float] = Field(max_length=5)
    retry_after_seconds: float = Field(default=1.0, ge=0, le=3600)
    taken: list[FaultStatus] = Field(default=[500, 504])
    seed: int | None = None

    def faults(self) -> RandomSendFaults:
        if any(not 0 <= rate <= 1 for rate in self.rates.values()) or sum(self.rates.values()) > 1:
            raise PlivoApiError(400, "random_sends.rates: each in [0, 1], together at most 1")
        return RandomSendFaults(
            {int(status): rate for status, rate in self.rates.items()},
            self.retry_after_seconds,
            frozenset(self.taken),
            random.Random(self.seed),  # noqa: S311 - a simulation, not a secret
        )


class FaultsIn(ControlBody):
    duplicate_callbacks: bool | None = None
    shuffle_callbacks: bool | None = None
    lost_callbacks: float | None = Field(default=None, ge=0, le=1)
    callback_delay_seconds: float | None = Field(default=None, ge=0)
    fail_next_sends: SendFaultIn | None = None
    send_delay_seconds: float | None = Field(default=None, ge=0, le=3600)
    random_sends: RandomSendsIn | None = None
    record_sends: bool | None = None


def build_control_router(
    config: SimulatorConfig, state: SimulatorState, callbacks: CallbackDispatcher
) -> APIRouter:
    """Routes under ``/control``."""
    router = APIRouter(prefix="/control", tags=["control"])

    @router.get("/numbers")
    async def list_numbers(provider: Provider | None = None) -> dict[str, dict[str, str | None]]:
        return {number: fate.view() for number, fate in state.fates(provider).items()}

    @router.put("/numbers/{number}")
    async def set_number(number: str, body: NumberFateIn) -> dict[str, str | None]:
        if body.outcome == "delivered" and body.error_code is not None:
            raise PlivoApiError(400, "error_code applies only to failed or undelivered")
        key = control_number(number)
        fate = NumberFate.of(body.outcome, body.error_code, body.provider)
        state.fates(body.provider)[key] = fate
        return {"number": key, **fate.view()}

    @router.delete("/numbers/{number}", status_code=204)
    async def reset_number(number: str, provider: Provider | None = None) -> Response:
        state.fates(provider).pop(control_number(number), None)
        return Response(status_code=204)

    @router.get("/faults")
    async def get_faults() -> dict[str, object]:
        return _faults_view(state)

    @router.put("/faults")
    async def set_faults(body: FaultsIn) -> dict[str, object]:
        _apply_faults(state, body)
        return _faults_view(state)

    @router.delete("/faults")
    async def reset_faults() -> dict[str, object]:
        state.reset_faults()
        return _faults_view(state)

    @router.get("/sends")
    async def list_sends() -> list[dict[str, object]]:
        return [asdict(attempt) for attempt in state.send_log]

    @router.get("/messages")
    async def list_messages(
        direction: Literal["inbound", "outbound"] | None = None,
        provider: Provider | None = None,
    ) -> list[dict[str, object]]:
        return [
            _control_view(message, config.plivo_auth_id)
            for message in state.messages.values()
            if direction in (None, message.direction) and provider in (None, message.provider)
        ]

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        await callbacks.cancel_pending()
        state.reset()
        return {"status": "reset"}

    return router


def control_number(raw: str) -> str:
    """A phone number from a control request: punctuation stripped, then 3-15 digits (400)."""
    key = number_key(raw)
    if not _NUMBER.fullmatch(key):
        raise PlivoApiError(400, f"{raw!r} is not a phone number")
    return key


def control_sender(raw: str) -> str:
    """The sender of an injected inbound message: a number or short code (`control_number`),
    or, kept as given, an alphanumeric sender ID (`AMAZON`) or a WhatsApp business-scoped user
    id (`US.1349...`), as carriers and WhatsApp send them."""
    text = raw.strip()
    if any(character.isalpha() for character in text) and _SENDER_ID.fullmatch(text):
        return text
    return control_number(raw)


def _faults_view(state: SimulatorState) -> dict[str, object]:
    view = asdict(state.faults)
    if state.faults.random_sends is not None:
        random_sends = state.faults.random_sends
        view["random_sends"] = {
            "rates": random_sends.rates,
            "retry_after_seconds": random_sends.retry_after_seconds,
            "taken": sorted(random_sends.taken),
        }
    return view


def _apply_faults(state: SimulatorState, body: FaultsIn) -> None:
    faults = state.faults
    if "random_sends" in body.model_fields_set:
        faults.random_sends = body.random_sends.faults() if body.random_sends else None
    if body.record_sends is not None:
        faults.record_sends = body.record_sends
    if body.duplicate_callbacks is not None:
        faults.duplicate_callbacks = body.duplicate_callbacks
    if body.shuffle_callbacks is not None:
        faults.shuffle_callbacks = body.shuffle_callbacks
    if body.lost_callbacks is not None:
        faults.lost_callbacks = body.lost_callbacks
    if body.callback_delay_seconds is not None:
        faults.callback_delay_seconds = body.callback_delay_seconds
    if body.send_delay_seconds is not None:
        faults.send_delay_seconds = body.send_delay_seconds
    if "fail_next_sends" in body.model_fields_set:
        sends = body.fail_next_sends
        faults.fail_next_sends = (
            SendFault(sends.status, sends.count) if sends and sends.count else None
        )


def _control_view(message: StoredMessage, auth_id: str) -> dict[str, object]:
    """The Plivo-shaped message object (for Vonage messages too, then without a resource
    URI) plus what tests want to check: provider, body, callback, history."""
    resource = message_resource(message, auth_id)
    if message.provider != "plivo":
        resource["resource_uri"] = None
    return {
        **resource,
        "provider": message.provider,
        "content_type": message.content_type,
        "client_ref": message.client_ref,
        "text": message.text,
        "media_urls": list(message.media_urls),
        "callback_url": message.callback_url,
        "callback_method": message.callback_method,
        "history": list(message.history),
        "received_at": message.received_at,
    }
