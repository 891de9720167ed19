"""Inbound injection (control API): a user's message, posted as the provider's signed webhook.

- ``POST /control/plivo/inbound {"from", "to", "type"?: "sms"|"mms"|"whatsapp", "text"?,
  "media"?: [{"url"?, "mime_type", "data"?}], "button"?: {"payload", "text"}, "location"?:
  {"lat", "long", "name"?, "address"?}, "context_message_uuid"?}`` posts Plivo's webhook to
  the ``message_url`` of the application the number ``to`` is linked to (``accounts``), else
  ``plivo_message_url``: a form for SMS and MMS, JSON for WhatsApp (see ``plivo.inbound``). SMS
  need ``text``; MMS take up to 10 media; WhatsApp takes text, one media (``text`` is its
  caption), a button reply or a location. A button reply's ``Context`` is
  ``context_message_uuid``, else the last WhatsApp message our number sent the contact. A medium
  without ``url`` is hosted by the simulator where Plivo hosts inbound media
  (``{base}/Account/{auth_id}/Message/{uuid}/Media/{id}``, see ``plivo.media``).
- ``POST /control/vonage/inbound {"channel": "sms"|"mms"|"whatsapp", "from", "to", "text"?,
  "media"?: {"url", "kind": "image"|"audio"|"video"|"file"|"sticker", "caption"?, "name"?},
  "image"?: {"url", "caption"?}, "location"?: {"lat", "long", "name"?, "address"?, "url"?},
  "button"?: {"payload", "text"}, "reply"?: {"id", "title"}, "attachments"?: [media, ...] (MMS
  only: the first names the ``message_type``, all are listed in ``content[]``),
  "profile_name"?}`` posts Vonage's
  JSON webhook to the ``inbound_url`` of the application ``to`` is linked to, else
  ``vonage_inbound_url`` (exactly one content field; SMS take ``text`` only;
  ``image`` is short for a ``media`` of kind ``image``; audio and stickers take no caption, a
  sticker no name). Exists when Vonage is configured.

Both answer ``{"message_uuid", "status_code"}`` (502 with ``error`` when the URL is
unreachable), and a WhatsApp message opens its 24-hour window at the simulator's "now".
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from textbridge.messaging.encoding import analyze
from textbridge.simulator.callbacks import (
    CallbackDispatcher,
    PlivoJsonWebhook,
    PlivoWebhook,
    Webhook,
)
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.control.api import control_number, control_sender
from textbridge.simulator.control.bodies import PlivoInboundIn, VonageInboundIn
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.plivo.inbound import (
    InboundButton,
    InboundLocation,
    InboundMedia,
    inbound_params,
    whatsapp_body,
)
from textbridge.simulator.plivo.media import PLACEHOLDER, host_media
from textbridge.simulator.plivo.vocabulary import INBOUND_RATE, MessageType
from textbridge.simulator.state import HostedMedia, SimulatorState, StoredMessage, new_message
from textbridge.simulator.vonage.callbacks import VonageSigner, VonageWebhook
from textbridge.simulator.vonage.payloads import inbound_payload


def build_inbound_router(
    config: SimulatorConfig, state: SimulatorState, callbacks: CallbackDispatcher
) -> APIRouter:
    """``/control/plivo/inbound``, and ``/control/vonage/inbound`` when Vonage is configured."""
    router = APIRouter(prefix="/control", tags=["control"])

    @router.post("/plivo/inbound")
    async def inject_plivo(body: PlivoInboundIn, request: Request) -> JSONResponse:
        # The application our number is linked to decides, as at Plivo (`accounts`).
        message_url = state.accounts.plivo_inbound_url(body.to) or config.plivo_message_url
        if message_url is None:
            raise PlivoApiError(400, "plivo_message_url is not configured: nowhere to post")
        message = _plivo_message(body, state)
        media = _media(body, message, state, _simulator_base(request), config.plivo_auth_id)
        message.media_urls = tuple(item.url for item in media)
        hook = _plivo_hook(body, message, media, state, message_url, config)
        return await _post_inbound(hook, message, state, callbacks)

    if config.vonage_enabled:

        @router.post("/vonage/inbound")
        async def inject_vonage(body: VonageInboundIn) -> JSONResponse:
            inbound_url = (
                state.accounts.vonage_webhook(body.to, "inbound") or config.vonage_inbound_url
            )
            if inbound_url is None:
                raise PlivoApiError(400, "vonage_inbound_url is not configured: nowhere to post")
            message = _vonage_message(body, state)
            payload = inbound_payload(message, body.content(), body.profile_name)
            hook = VonageWebhook(inbound_url, payload, VonageSigner.from_config(config))
            return await _post_inbound(hook, message, state, callbacks)

    return router


def _plivo_message(body: PlivoInboundIn, state: SimulatorState) -> StoredMessage:
    text = body.text or (body.button.text if body.button else "")
    message = _received(body.type, body.from_, body.to, text, state)
    message.units = analyze(text).segments if body.type == "sms" else 1
    message.content_type = body.content_type
    return message


def _vonage_message(body: VonageInboundIn, state: SimulatorState) -> StoredMessage:
    text = body.stored_text()
    message = _received(body.channel, body.from_, body.to, text, state)
    message.provider = "vonage"
    message.units = analyze(text).segments if body.channel == "sms" else 1
    message.content_type = body.content_type
    single = body.media_part()
    media = body.attachments or ([single] if single is not None else [])
    message.media_urls = tuple(item.url for item in media)
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


def _plivo_hook(
    body: PlivoInboundIn,
    message: StoredMessage,
    media: list[InboundMedia],
    state: SimulatorState,
    url: str,
    config: SimulatorConfig,
) -> Webhook:
    """SMS and MMS as a form post; WhatsApp as Plivo's JSON body (see ``plivo.inbound``)."""
    token = config.plivo_auth_token
    if message.message_type != "whatsapp":
        return PlivoWebhook(url, "POST", inbound_params(message, media), token)
    context = body.context_message_uuid or (_replied_to(state, message) if body.button else None)
    payload = whatsapp_body(message, media, _button(body), _location(body), context)
    return PlivoJsonWebhook(url, payload, token)


def _replied_to(state: SimulatorState, message: StoredMessage) -> str | None:
    """The last WhatsApp message our number sent this contact (what a button answers)."""
    for sent in reversed(state.messages.values()):
        if (
            sent.provider == "plivo"
            and sent.direction == "outbound"
            and sent.message_type == "whatsapp"
            and sent.to_number == message.from_number
            and sent.from_number == message.to_number
        ):
            return sent.message_uuid
    return None


def _simulator_base(request: Request) -> str:
    """The simulator's own base URL, mount prefix included (``/simulator`` inside serve)."""
    prefix = request.url.path.removesuffix("/control/plivo/inbound")
    return str(request.url.replace(path=prefix, query=None, fragment=None)).rstrip("/")


def _media(
    body: PlivoInboundIn, message: StoredMessage, state: SimulatorState, base: str, auth_id: str
) -> list[InboundMedia]:
    """Each medium at its given URL, or hosted on the simulator's media.plivo.com."""
    return [
        InboundMedia(
            item.url
            or host_media(
                state,
                base,
                auth_id,
                message.message_uuid,
                HostedMedia(item.mime_type, item.data or PLACEHOLDER),
            ),
            item.mime_type,
        )
        for item in body.media
    ]


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
