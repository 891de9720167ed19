"""The control API (JSON, under ``/control``): inject inbound SMS, set fates and faults, inspect.

Not part of Plivo: tests and the ``sim`` CLI drive the simulator through it. Errors are 400
``{"api_id", "error"}``.

- ``POST /control/plivo/inbound {"from", "to", "text"}``: post a signed inbound SMS webhook to
  ``plivo_message_url``; answers ``{"message_uuid", "status_code"}`` (502 if unreachable).
- ``GET /control/numbers``; ``PUT /control/numbers/{number} {"outcome", "error_code"?}``;
  ``DELETE /control/numbers/{number}``: destination fates (a leading ``+`` is ignored).
- ``GET | PUT | DELETE /control/faults``: ``duplicate_callbacks``, ``shuffle_callbacks``,
  ``callback_delay_seconds``, ``fail_next_sends {"status": 429 | 500, "count"}``.
- ``GET /control/messages[?direction=inbound|outbound]``: every message, newest last.
- ``POST /control/reset``: cancel pending callbacks; forget messages, fates and faults.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Literal

import httpx
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from textbridge.messaging.encoding import analyze
from textbridge.simulator.callbacks import CallbackDispatcher, Webhook
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.payloads import inbound_params
from textbridge.simulator.plivo_api import message_resource
from textbridge.simulator.state import (
    NumberFate,
    SendFault,
    SimulatorState,
    StoredMessage,
    new_message,
    number_key,
    utc_now,
)
from textbridge.simulator.vocabulary import INBOUND_RATE, Outcome

_NUMBER = re.compile(r"[0-9]{3,15}")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InboundIn(_Body):
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    text: str


class NumberFateIn(_Body):
    outcome: Outcome
    error_code: str | None = Field(default=None, pattern=r"^[0-9]{1,4}$")


class SendFaultIn(_Body):
    status: Literal[429, 500]
    count: int = Field(ge=0)


class FaultsIn(_Body):
    duplicate_callbacks: bool | None = None
    shuffle_callbacks: bool | None = None
    callback_delay_seconds: float | None = Field(default=None, ge=0)
    fail_next_sends: SendFaultIn | None = None


def build_control_router(
    config: SimulatorConfig, state: SimulatorState, callbacks: CallbackDispatcher
) -> APIRouter:
    """Routes under ``/control``."""
    router = APIRouter(prefix="/control", tags=["control"])

    @router.post("/plivo/inbound")
    async def inject_inbound(body: InboundIn) -> JSONResponse:
        if config.plivo_message_url is None:
            raise PlivoApiError(400, "plivo_message_url is not configured: nowhere to post")
        message = _inbound_message(body)
        state.add(message)
        return await _post_inbound(config.plivo_message_url, message, callbacks)

    @router.get("/numbers")
    async def list_numbers() -> dict[str, dict[str, str | None]]:
        return {number: asdict(fate) for number, fate in state.numbers.items()}

    @router.put("/numbers/{number}")
    async def set_number(number: str, body: NumberFateIn) -> dict[str, str | None]:
        if body.outcome == "delivered" and body.error_code is not None:
            raise PlivoApiError(400, "error_code applies only to failed or undelivered")
        key = _number(number)
        state.numbers[key] = NumberFate.of(body.outcome, body.error_code)
        return {"number": key, **asdict(state.numbers[key])}

    @router.delete("/numbers/{number}", status_code=204)
    async def reset_number(number: str) -> Response:
        state.numbers.pop(_number(number), None)
        return Response(status_code=204)

    @router.get("/faults")
    async def get_faults() -> dict[str, object]:
        return asdict(state.faults)

    @router.put("/faults")
    async def set_faults(body: FaultsIn) -> dict[str, object]:
        _apply_faults(state, body)
        return asdict(state.faults)

    @router.delete("/faults")
    async def reset_faults() -> dict[str, object]:
        state.reset_faults()
        return asdict(state.faults)

    @router.get("/messages")
    async def list_messages(
        direction: Literal["inbound", "outbound"] | None = None,
    ) -> list[dict[str, object]]:
        return [
            _control_view(message, config.plivo_auth_id)
            for message in state.messages.values()
            if direction is None or message.direction == direction
        ]

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        await callbacks.cancel_pending()
        state.reset()
        return {"status": "reset"}

    return router


def _number(raw: str) -> str:
    key = number_key(raw)
    if not _NUMBER.fullmatch(key):
        raise PlivoApiError(400, f"{raw!r} is not a phone number")
    return key


def _inbound_message(body: InboundIn) -> StoredMessage:
    message = new_message(
        direction="inbound",
        message_type="sms",
        from_number=_number(body.from_),
        to_number=_number(body.to),
        text=body.text,
        units=analyze(body.text).segments,
        rate=INBOUND_RATE,
        initial_state="received",
    )
    message.advance("received", message.message_time)
    return message


async def _post_inbound(
    url: str, message: StoredMessage, callbacks: CallbackDispatcher
) -> JSONResponse:
    hook = Webhook(url, "POST", inbound_params(message))
    try:
        response = await callbacks.deliver(hook)
    except httpx.HTTPError as exc:
        message.advance("undelivered", utc_now())
        body = {"message_uuid": message.message_uuid, "status_code": None, "error": repr(exc)}
        return JSONResponse(body, status_code=502)
    message.advance("delivered" if response.is_success else "undelivered", utc_now())
    return JSONResponse({"message_uuid": message.message_uuid, "status_code": response.status_code})


def _apply_faults(state: SimulatorState, body: FaultsIn) -> None:
    faults = state.faults
    if body.duplicate_callbacks is not None:
        faults.duplicate_callbacks = body.duplicate_callbacks
    if body.shuffle_callbacks is not None:
        faults.shuffle_callbacks = body.shuffle_callbacks
    if body.callback_delay_seconds is not None:
        faults.callback_delay_seconds = body.callback_delay_seconds
    if "fail_next_sends" in body.model_fields_set:
        sends = body.fail_next_sends
        faults.fail_next_sends = (
            SendFault(sends.status, sends.count) if sends and sends.count else None
        )


def _control_view(message: StoredMessage, auth_id: str) -> dict[str, object]:
    """The Plivo message object plus what tests want to check: body, callback, history."""
    return {
        **message_resource(message, auth_id),
        "text": message.text,
        "media_urls": list(message.media_urls),
        "callback_url": message.callback_url,
        "callback_method": message.callback_method,
        "history": list(message.history),
    }
