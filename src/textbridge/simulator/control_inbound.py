"""Inbound injection (control API): a user's message, posted as the provider's signed webhook.

- ``POST /control/plivo/inbound {"from", "to", "type"?: "sms"|"mms"|"whatsapp", "text"?,
  "media"?: [{"url", "mime_type"}], "button"?: {"payload", "text"}, "location"?: {"lat",
  "long", "name"?, "address"?}}`` posts Plivo's form webhook to ``plivo_message_url``. SMS need
  ``text``; MMS take up to 10 media; WhatsApp takes text, one media (``text`` is its caption),
  a button reply or a location (see ``plivo_inbound`` for its assumed field names).
- ``POST /control/vonage/inbound {"channel": "sms"|"whatsapp", "from", "to", "text"?,
  "media"?: {"url", "kind": "image"|"audio"|"video"|"file"|"sticker", "caption"?, "name"?},
  "image"?: {"url", "caption"?}, "location"?: {"lat", "long", "name"?, "address"?, "url"?},
  "button"?: {"payload", "text"}, "reply"?: {"id", "title"}, "profile_name"?}`` posts Vonage's
  JSON webhook to ``vonage_inbound_url`` (exactly one content field; SMS take ``text`` only;
  ``image`` is short for a ``media`` of kind ``image``; audio and stickers take no caption, a
  sticker no name). Exists when Vonage is configured.

Both answer ``{"message_uuid", "status_code"}`` (502 with ``error`` when the URL is
unreachable), and a WhatsApp message opens its 24-hour window at the simulator's "now".
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from textbridge.messaging.encoding import analyze
from textbridge.simulator.callbacks import CallbackDispatcher, PlivoWebhook, Webhook
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.control import control_number, control_sender
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.inbound_bodies import PlivoInboundIn, VonageInboundIn
from textbridge.simulator.plivo_inbound import (
    InboundButton,
    InboundLocation,
    InboundMedia,
    inbound_params,
)
from textbridge.simulator.state import SimulatorState, StoredMessage, new_message
from textbridge.simulator.vocabulary import INBOUND_RATE, MessageType
from textbridge.simulator.vonage_callbacks import VonageSigner, VonageWebhook
from textbridge.simulator.vonage_payloads import inbound_payload


def build_inbound_router(
    config: SimulatorConfig, state: SimulatorState, callbacks: CallbackDispatcher
) -> APIRouter:
    """``/control/plivo/inbound``, and ``/control/vonage/inbound`` when Vonage is configured."""
    router = APIRouter(prefix="/control", tags=["control"])

    @router.post("/plivo/inbound")
    async def inject_plivo(body: PlivoInboundIn) -> JSONResponse:
        if config.plivo_message_url is None:
            raise PlivoApiError(400, "plivo_message_url is not configured: nowhere to post")
        message = _plivo_message(body, state)
        params = inbound_params(message, _media(body), _button(body), _location(body))
        hook = PlivoWebhook(config.plivo_message_url, "POST", params, config.plivo_auth_token)
        return await _post_inbound(hook, message, state, callbacks)

    if config.vonage_enabled:

        @router.post("/vonage/inbound")
        async def inject_vonage(body: VonageInboundIn) -> JSONResponse:
            if config.vonage_inbound_url is None:
                raise PlivoApiError(400, "vonage_inbound_url is not configured: nowhere to post")
            message = _vonage_message(body, state)
            payload = inbound_payload(message, body.content(), body.profile_name)
            hook = VonageWebhook(
                config.vonage_inbound_url, payload, VonageSigner.from_config(config)
            )
            return await _post_inbound(hook, message, state, callbacks)

    return router


def _plivo_message(body: PlivoInboundIn, state: SimulatorState) -> StoredMessage:
    text = body.text or (body.button.text if body.button else "")
    message = _received(body.type, body.from_, body.to, text, state)
    message.units = analyze(text).segments if body.type == "sms" else 1
    message.media_urls = tuple(item.url for item in body.media)
    message.content_type = body.content_type
    return message


def _vonage_message(body: VonageInboundIn, state: SimulatorState) -> StoredMessage:
    text = body.stored_text()
    message = _received(body.channel, body.from_, body.to, text, state)
    message.provider = "vonage"
    message.units = analyze(text).segments if body.channel == "sms" else 1
    message.content_type = body.content_type
    media = body.media_part()
    message.media_urls = (media.url,) if media else ()
    return message


def _received(
    message_type: MessageType, sender: str, recipient: str, text: str, state: SimulatorState
) -> StoredMessage:
    message = new_message(
        direction="inbound",
        message_type=message_type,
        from_number=control_sender(sender),
        to_number=control_number(recipient),
        text=text,
        units=1,
        rate=INBOUND_RATE,
        initial_state="received",
        now=state.now(),
    )
    message.advance("received", message.message_time)
    return message


def _media(body: PlivoInboundIn) -> list[InboundMedia]:
    return [InboundMedia(item.url, item.mime_type) for item in body.media]


def _button(body: PlivoInboundIn) -> InboundButton | None:
    return InboundButton(body.button.payload, body.button.text) if body.button else None


def _location(body: PlivoInboundIn) -> InboundLocation | None:
    place = body.location
    if place is None:
        return None
    return InboundLocation(place.lat, place.long, place.name, place.address)


async def _post_inbound(
    hook: Webhook, message: StoredMessage, state: SimulatorState, callbacks: CallbackDispatcher
) -> JSONResponse:
    state.record_inbound(message)
    try:
        response = await callbacks.deliver(hook)
    except httpx.HTTPError as exc:
        message.advance("undelivered", state.now())
        body = {"message_uuid": message.message_uuid, "status_code": None, "error": repr(exc)}
        return JSONResponse(body, status_code=502)
    message.advance("delivered" if response.is_success else "undelivered", state.now())
    return JSONResponse({"message_uuid": message.message_uuid, "status_code": response.status_code})
