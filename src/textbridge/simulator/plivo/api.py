"""The fake Plivo Message API: send (``POST .../Message/``) and fetch (``GET .../Message/{uuid}/``).

Requests are checked in Plivo's order: credentials (401), account path (404), armed send faults,
then the body (400). Errors use Plivo's ``{"api_id", "error"}`` shape.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from textbridge.simulator.callbacks import CallbackDispatcher
from textbridge.simulator.config import SimulatorConfig, is_plivo_auth_id
from textbridge.simulator.errors import PlivoApiError, new_api_id
from textbridge.simulator.plivo.payloads import plan_for, plivo_steps
from textbridge.simulator.plivo.validation import SendRequest, parse_send_request
from textbridge.simulator.plivo.vocabulary import (
    OUTBOUND_RATES,
    WHATSAPP_PARAMETER_ERROR_CODE,
    WHATSAPP_TEMPLATE_ERROR_CODE,
    WHATSAPP_WINDOW_ERROR_CODE,
)
from textbridge.simulator.state import SimulatorState, StoredMessage, api_time, new_message
from textbridge.simulator.whatsapp import check_whatsapp

# Bodies of the injected send failures (`fail_next_sends`); Plivo sends no Retry-After.
SEND_FAULT_ERRORS: dict[int, str] = {
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _reference(callback_url: str | None) -> str | None:
    """Our caller's reference to its message: the `ref` query parameter of the callback URL."""
    if not callback_url:
        return None
    values = parse_qs(urlsplit(callback_url).query).get("ref")
    return values[0] if values else None


def build_plivo_router(
    config: SimulatorConfig, state: SimulatorState, callbacks: CallbackDispatcher
) -> APIRouter:
    """Routes under ``/v1/Account/{auth_id}``, for one account."""
    router = APIRouter(prefix="/v1/Account/{auth_id}", tags=["plivo"])

    @router.post("/Message/", status_code=202)
    async def send_message(auth_id: str, request: Request) -> JSONResponse:
        arrived = time.time()
        authorize(request, auth_id, config)
        _raise_send_fault(state)
        send = parse_send_request(await read_params(request))
        reference = _reference(send.callback_url)
        fault = state.draw_send_fault()
        taken = state.fault_takes(fault)
        messages = (
            [
                _queue(send, destination, state, callbacks, config.plivo_auth_token)
                for destination in send.destinations
            ]
            if taken
            else []
        )
        retry_after = state.log_send("plivo", reference, fault or 202, taken, arrived)
        if fault is not None:
            message = SEND_FAULT_ERRORS.get(fault, "simulated failure")
            raise PlivoApiError(fault, message, retry_after=retry_after)
        await state.answer_delay()
        body = {
            "api_id": new_api_id(),
            "message": "message(s) queued",
            "message_uuid": [message.message_uuid for message in messages],
        }
        return JSONResponse(body, status_code=202)

    @router.get("/Message/{message_uuid}/")
    async def get_message(auth_id: str, message_uuid: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        message = state.messages.get(message_uuid)
        if message is None or message.provider != "plivo":
            raise PlivoApiError(404, "not found")
        return JSONResponse(message_resource(message, config.plivo_auth_id))

    return router


def message_resource(message: StoredMessage, auth_id: str) -> dict[str, object]:
    """The message object Plivo's ``GET .../Message/{uuid}/`` answers."""
    return {
        "api_id": new_api_id(),
        "error_code": message.error_code,
        "error_message": "",
        "from_number": message.from_number,
        "to_number": message.to_number,
        "message_direction": message.direction,
        "message_state": message.state,
        "message_time": api_time(message.message_time),
        "message_type": message.message_type,
        "message_uuid": message.message_uuid,
        "resource_uri": f"/v1/Account/{auth_id}/Message/{message.message_uuid}/",
        "total_amount": message.total_amount,
        "total_rate": message.total_rate,
        "units": message.units,
        "message_sent_time": api_time(message.sent_time),
        "message_updated_time": api_time(message.updated_time),
    }


def _queue(
    send: SendRequest,
    destination: str,
    state: SimulatorState,
    callbacks: CallbackDispatcher,
    auth_token: str,
) -> StoredMessage:
    message = new_message(
        direction="outbound",
        message_type=send.message_type,
        from_number=send.src,
        to_number=destination,
        text=send.text,
        units=send.units,
        rate=OUTBOUND_RATES[send.message_type],
        initial_state="queued",
        now=state.now(),
    )
    message.media_urls = send.media_urls
    message.content_type = send.whatsapp.kind if send.whatsapp else None
    message.callback_url, message.callback_method = send.callback_url, send.callback_method
    state.add(message)
    plan = plan_for(message, state.fate_for(destination), _rule_error(send, message, state))
    steps = plivo_steps(message, plan, state.faults.callback_delay_seconds, auth_token)
    callbacks.start_lifecycle(message, steps, state.faults)
    return message


def _rule_error(send: SendRequest, message: StoredMessage, state: SimulatorState) -> str | None:
    """Plivo's ErrorCode for a WhatsApp message that breaks the window or template rules."""
    if send.whatsapp is None:
        return None
    breach = check_whatsapp(
        state.windows,
        state.templates,
        business=message.from_number,
        contact=message.to_number,
        template=send.template,
        now=state.now(),
    )
    if breach is None:
        return _parameter_error(send, state)
    if breach.reason == "outside_window":
        return WHATSAPP_WINDOW_ERROR_CODE
    return WHATSAPP_TEMPLATE_ERROR_CODE


def _parameter_error(send: SendRequest, state: SimulatorState) -> str | None:
    """350 when a template's body parameters do not match its placeholders."""
    if send.whatsapp is None or send.whatsapp.template is None:
        return None
    found = state.templates.find(send.whatsapp.template)
    if found is None or found.body_placeholders() == send.whatsapp.body_parameters:
        return None
    return WHATSAPP_PARAMETER_ERROR_CODE


def authorize(request: Request, path_auth_id: str, config: SimulatorConfig) -> None:
    """Basic auth with the account's Auth ID and token (401), for this account's path (404)."""
    credentials = _basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        raise PlivoApiError(401, "authentication credentials were not provided")
    auth_id, token = credentials
    # Both compared in full (no short-circuit) so timing does not tell which one was wrong.
    id_ok = hmac.compare_digest(auth_id.encode(), config.plivo_auth_id.encode())
    token_ok = hmac.compare_digest(token.encode(), config.plivo_auth_token.encode())
    if not (is_plivo_auth_id(auth_id) and id_ok and token_ok):
        raise PlivoApiError(401, "authentication failed: invalid auth_id or auth_token")
    if path_auth_id != auth_id:
        raise PlivoApiError(404, f"account {path_auth_id} not found")


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    auth_id, separator, token = decoded.partition(":")
    return (auth_id, token) if separator else None


def _raise_send_fault(state: SimulatorState) -> None:
    status = state.take_send_fault()
    if status is not None:
        raise PlivoApiError(status, SEND_FAULT_ERRORS.get(status, "simulated failure"))


async def read_params(request: Request) -> dict[str, object]:
    """A write's parameters from a JSON body (what the SDK sends) or a form body (curl)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data: object = await request.json()
        except ValueError:
            raise PlivoApiError(400, "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise PlivoApiError(400, "request body must be a JSON object")
        return data
    async with request.form() as form:
        return {
            key: values[0] if len(values) == 1 else values
            for key in form
            if (values := [v for v in form.getlist(key) if isinstance(v, str)])
        }
