"""The fake Vonage Messages API: ``POST /v1/messages`` (JSON, the v1 flat shape).

Requests are checked in Vonage's order: credentials (401), armed send faults (429 / 500), the
body (422); all as RFC 7807 problems. A valid send answers 202 ``{"message_uuid"}`` with an
``X-Request-Id`` header, then the status webhooks follow (to the message's ``webhook_url``,
else the ``status_url`` of the application the sender is linked to, else the configured
``vonage_status_url``, else nowhere).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from textbridge.simulator.callbacks import CallbackDispatcher
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.errors import new_api_id
from textbridge.simulator.state import SimulatorState, StoredMessage, new_message
from textbridge.simulator.vonage.auth import authorize_vonage
from textbridge.simulator.vonage.callbacks import VonageSigner
from textbridge.simulator.vonage.errors import VonageProblem, send_fault
from textbridge.simulator.vonage.payloads import VonagePlan, vonage_plan, vonage_steps
from textbridge.simulator.vonage.validation import VonageSend, parse_vonage_send
from textbridge.simulator.vonage.vocabulary import (
    INVALID_JSON_TYPE,
    INVALID_TEMPLATE_CODE,
    OUTSIDE_WINDOW_CODE,
    PRICES,
)
from textbridge.simulator.whatsapp import check_whatsapp


def build_vonage_router(
    config: SimulatorConfig, state: SimulatorState, callbacks: CallbackDispatcher
) -> APIRouter:
    """The ``/v1/messages`` route of one Vonage account."""
    router = APIRouter(tags=["vonage"])
    signer = VonageSigner.from_config(config)

    @router.post("/v1/messages", status_code=202)
    async def send_message(request: Request) -> JSONResponse:
        arrived = time.time()
        authorize_vonage(request.headers.get("authorization"), config)
        status = state.take_send_fault()
        if status is not None:
            raise send_fault(status)
        send = parse_vonage_send(await _read_json(request))
        fault = state.draw_send_fault()
        taken = state.fault_takes(fault)
        if taken:
            status_url = (
                state.accounts.vonage_webhook(send.sender, "status") or config.vonage_status_url
            )
            message = _queue(send, state, status_url)
            plan = _plan(send, message, state)
            steps = vonage_steps(message, plan, state.faults.callback_delay_seconds, signer)
            callbacks.start_lifecycle(message, steps, state.faults)
        retry_after = state.log_send("vonage", send.client_ref, fault or 202, taken, arrived)
        if fault is not None:
            raise send_fault(fault, retry_after)
        await state.answer_delay()
        headers = {"X-Request-Id": new_api_id()}
        return JSONResponse({"message_uuid": message.message_uuid}, 202, headers=headers)

    return router


async def _read_json(request: Request) -> dict[str, object]:
    try:
        data: object = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise VonageProblem(
            422,
            INVALID_JSON_TYPE,
            "The request body did not contain valid JSON",
            "Send a JSON object, with a Content-Type header of application/json.",
        )
    return data


def _queue(send: VonageSend, state: SimulatorState, status_url: str | None) -> StoredMessage:
    message = new_message(
        direction="outbound",
        message_type=send.channel,
        from_number=send.sender,
        to_number=send.to,
        text=send.text,
        units=send.units,
        rate=PRICES[send.channel],
        initial_state="accepted",
        now=state.now(),
    )
    message.provider = "vonage"
    message.content_type = send.message_type
    message.client_ref = send.client_ref
    message.media_urls = (send.media_url,) if send.media_url else ()
    message.callback_url = send.webhook_url or status_url
    state.add(message)
    return message


def _plan(send: VonageSend, message: StoredMessage, state: SimulatorState) -> VonagePlan:
    plan = vonage_plan(message, state.fate_for(send.to, "vonage"), _rule_error(send, state))
    if send.template is None:
        return plan
    template = state.templates.find(send.template)
    category = template.category.lower() if template else "service"
    return VonagePlan(plan.statuses, plan.error_code, category)


def _rule_error(send: VonageSend, state: SimulatorState) -> str | None:
    """Vonage's error code for a WhatsApp message breaking the window or template rules."""
    if send.channel != "whatsapp":
        return None
    breach = check_whatsapp(
        state.windows, state.templates, send.sender, send.to, send.template, state.now()
    )
    if breach is None:
        return None
    return OUTSIDE_WINDOW_CODE if breach.reason == "outside_window" else INVALID_TEMPLATE_CODE
