"""Inbound injection (control API): a user's message, posted as the provider's signed webhook.

- ``POST /control/plivo/inbound {"from", "to", "type"?: "sms"|"mms"|"whatsapp", "text"?,
  "media"?: [{"url", "mime_type"}], "button"?: {"payload", "text"}}`` posts Plivo's form
  webhook to ``plivo_message_url``. SMS need ``text``; MMS take up to 10 media; WhatsApp takes
  text, one media (``text`` is its caption) or a button reply.
- ``POST /control/vonage/inbound {"channel": "sms"|"whatsapp", "from", "to", "text"?,
  "image"?: {"url", "caption"?}, "button"?: {"payload", "text"}, "reply"?: {"id", "title"},
  "profile_name"?}`` posts Vonage's JSON webhook to ``vonage_inbound_url`` (exactly one
  content field; SMS take ``text`` only). Exists when Vonage is configured.

Both answer ``{"message_uuid", "status_code"}`` (502 with ``error`` when the URL is
unreachable), and a WhatsApp message opens its 24-hour window at the simulator's "now".
"""

from __future__ import annotations

from typing import Literal, Self

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from textbridge.messaging.encoding import analyze
from textbridge.simulator.callbacks import CallbackDispatcher, PlivoWebhook, Webhook
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.control import ControlBody, control_number
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.plivo_inbound import InboundButton, InboundMedia, inbound_params
from textbridge.simulator.state import SimulatorState, StoredMessage, new_message
from textbridge.simulator.vocabulary import INBOUND_RATE, MMS_MAX_MEDIA, MessageType
from textbridge.simulator.vonage_callbacks import VonageSigner, VonageWebhook
from textbridge.simulator.vonage_payloads import inbound_payload

_URL = r"^https?://\S+$"
_VONAGE_CONTENT = ("text", "image", "button", "reply")
_MIME = r"^[\w.+-]+/[\w.+-]+$"


class MediaIn(ControlBody):
    url: str = Field(pattern=_URL)
    mime_type: str = Field(pattern=_MIME)


class ButtonIn(ControlBody):
    payload: str = Field(min_length=1)
    text: str


class PlivoInboundIn(ControlBody):
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    type: MessageType = "sms"
    text: str | None = None
    media: list[MediaIn] = Field(default_factory=list, max_length=MMS_MAX_MEDIA)
    button: ButtonIn | None = None

    @model_validator(mode="after")
    def _content(self) -> Self:
        if self.type == "sms" and (self.text is None or self.media or self.button):
            raise ValueError("an sms needs text, and takes no media or button")
        if self.type == "mms" and (self.button or not (self.text or self.media)):
            raise ValueError("an mms needs text or media, and takes no button")
        if self.type == "whatsapp":
            _check_whatsapp(self)
        return self


def _check_whatsapp(body: PlivoInboundIn) -> None:
    if len(body.media) > 1 or (body.media and body.button):
        raise ValueError("a whatsapp message carries one media, or a button reply")
    if not (body.text or body.media or body.button):
        raise ValueError("a whatsapp message needs text, media or a button")


class ImageIn(ControlBody):
    url: str = Field(pattern=_URL)
    caption: str | None = Field(default=None, min_length=1, max_length=3000)


class ReplyIn(ControlBody):
    id: str = Field(min_length=1)
    title: str


class VonageInboundIn(ControlBody):
    channel: Literal["sms", "whatsapp"]
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    text: str | None = None
    image: ImageIn | None = None
    button: ButtonIn | None = None
    reply: ReplyIn | None = None
    profile_name: str | None = None

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        given = [name for name in _VONAGE_CONTENT if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, image, button, reply")
        if self.channel == "sms" and given != ["text"]:
            raise ValueError("an sms carries text only")
        return self

    @property
    def content_type(self) -> str:
        return next(name for name in _VONAGE_CONTENT if getattr(self, name) is not None)

    def content(self) -> dict[str, object]:
        """The payload field(s) of this message's type."""
        if self.text is not None:
            return {"text": self.text}
        part = self.image or self.button or self.reply
        assert part is not None
        return {self.content_type: part.model_dump(exclude_none=True)}

    def stored_text(self) -> str:
        if self.text is not None:
            return self.text
        if self.image is not None:
            return self.image.caption or ""
        if self.button is not None:
            return self.button.text
        assert self.reply is not None
        return self.reply.title


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
        params = inbound_params(message, _media(body), _button(body))
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
    message.content_type = "button" if body.button else ("media" if body.media else "text")
    return message


def _vonage_message(body: VonageInboundIn, state: SimulatorState) -> StoredMessage:
    text = body.stored_text()
    message = _received(body.channel, body.from_, body.to, text, state)
    message.provider = "vonage"
    message.units = analyze(text).segments if body.channel == "sms" else 1
    message.content_type = body.content_type
    message.media_urls = (body.image.url,) if body.image else ()
    return message


def _received(
    message_type: MessageType, sender: str, recipient: str, text: str, state: SimulatorState
) -> StoredMessage:
    message = new_message(
        direction="inbound",
        message_type=message_type,
        from_number=control_number(sender),
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
