"""Validation of a Vonage ``POST /v1/messages`` body (the v1 flat shape), answered with 422
problems like Vonage: channel, then message type, recipient, sender, content, client reference.

Checked: ``channel`` (sms | mms | whatsapp); ``message_type`` allowed for the channel (SMS:
text; MMS: text, image, vcard, audio, video, file; WhatsApp: text, image, audio, video, file,
sticker (``{url}`` or ``{id}``, no caption), template, custom); ``to`` 7-15 digits; ``from``
digits (or, for SMS, an alphanumeric sender ID of at most 11 characters); ``text`` at most 3200
(SMS) or 4096 (WhatsApp) characters; media objects with an http(s) ``url`` and a 1-3000
character ``caption``; ``client_ref`` at most 100 characters; ``webhook_url`` an http(s) URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlparse

from textbridge.messaging.encoding import analyze
from textbridge.simulator.templates import TemplateRef
from textbridge.simulator.vonage.errors import unprocessable
from textbridge.simulator.vonage.vocabulary import (
    CAPTION_LIMIT,
    CHANNELS,
    CLIENT_REF_LIMIT,
    MAX_ALPHANUMERIC_SENDER,
    MEDIA_TYPES,
    MESSAGE_TYPES,
    TEXT_LIMITS,
    TO_DIGITS,
    Channel,
)

_TO = re.compile(rf"[1-9][0-9]{{{TO_DIGITS[0] - 1},{TO_DIGITS[1] - 1}}}")
_FROM_NUMBER = re.compile(r"[1-9][0-9]{2,14}")
_SENDER_ID = re.compile(rf"[A-Za-z0-9]{{1,{MAX_ALPHANUMERIC_SENDER}}}")
DEFAULT_LOCALE = "en_US"

Body = Mapping[str, object]


@dataclass(frozen=True)
class VonageSend:
    """A valid send request."""

    channel: Channel
    message_type: str
    to: str
    sender: str
    text: str
    media_url: str | None
    template: TemplateRef | None
    client_ref: str | None
    webhook_url: str | None
    units: int


def parse_vonage_send(body: Body) -> VonageSend:
    """Check ``body`` like Vonage; raise a 422 ``VonageProblem``."""
    channel = _channel(body)
    message_type = _message_type(body, channel)
    to, sender = _recipient(body), _sender(body, channel)
    text = _text(body, channel) if message_type == "text" else ""
    return VonageSend(
        channel=channel,
        message_type=message_type,
        to=to,
        sender=sender,
        text=text,
        media_url=_media_url(body, message_type),
        template=_template(body, message_type),
        client_ref=_client_ref(body),
        webhook_url=_webhook_url(body),
        units=analyze(text).segments if channel == "sms" else 1,
    )


def _channel(body: Body) -> Channel:
    channel = body.get("channel")
    if channel not in CHANNELS:
        raise unprocessable("channel", f"channel must be one of {', '.join(CHANNELS)}")
    return channel


def _message_type(body: Body, channel: Channel) -> str:
    message_type = body.get("message_type")
    allowed = MESSAGE_TYPES[channel]
    if not isinstance(message_type, str) or message_type not in allowed:
        detail = f"message_type for {channel} must be one of {', '.join(allowed)}"
        raise unprocessable("message_type", detail)
    return message_type


def _recipient(body: Body) -> str:
    to = body.get("to")
    if not isinstance(to, str) or not _TO.fullmatch(to):
        detail = "The `to` parameter must be 7 to 15 digits, without a leading + or 00."
        raise unprocessable("recipient", detail)
    return to


def _sender(body: Body, channel: Channel) -> str:
    sender = body.get("from")
    if isinstance(sender, str) and _FROM_NUMBER.fullmatch(sender):
        return sender
    if channel == "sms" and isinstance(sender, str) and _SENDER_ID.fullmatch(sender):
        return sender
    raise unprocessable("sender", f"The `from` parameter is invalid for the {channel} channel.")


def _text(body: Body, channel: Channel) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise unprocessable("params", "is required.", "text")
    limit = TEXT_LIMITS.get(channel)
    if limit is not None and len(text) > limit:
        raise unprocessable("params", f"must be at most {limit} characters.", "text")
    return text


def _object(body: Body, name: str) -> Body:
    value = body.get(name)
    if not isinstance(value, Mapping):
        raise unprocessable("params", "is required.", name)
    return cast(Body, value)


def _media_url(body: Body, message_type: str) -> str | None:
    if message_type == "sticker":
        return _sticker(body)
    return _media(body, message_type) if message_type in MEDIA_TYPES else None


def _sticker(body: Body) -> str | None:
    """``sticker: {url}`` or ``sticker: {id}`` (SDK ``WhatsappStickerUrl | WhatsappStickerId``);
    a sticker takes no caption (Meta)."""
    sticker = _object(body, "sticker")
    if "caption" in sticker:
        raise unprocessable("params", "is not allowed on a sticker.", "sticker.caption")
    url, sticker_id = sticker.get("url"), sticker.get("id")
    if isinstance(sticker_id, str) and sticker_id and url is None:
        return None
    if not isinstance(url, str) or not _is_http_url(url) or sticker_id is not None:
        reason = "needs exactly one of an http(s) url or an id."
        raise unprocessable("params", reason, "sticker")
    return url


def _media(body: Body, message_type: str) -> str:
    media = _object(body, message_type)
    url = media.get("url")
    if not isinstance(url, str) or not _is_http_url(url):
        reason = "is required and must be an http(s) URL."
        raise unprocessable("params", reason, f"{message_type}.url")
    caption = media.get("caption")
    if caption is not None and not _caption_valid(caption):
        reason = f"must be 1 to {CAPTION_LIMIT} characters."
        raise unprocessable("params", reason, f"{message_type}.caption")
    return url


def _caption_valid(caption: object) -> bool:
    return isinstance(caption, str) and 1 <= len(caption) <= CAPTION_LIMIT


def _template(body: Body, message_type: str) -> TemplateRef | None:
    """The template asked for: a ``template`` message, or a ``custom`` WhatsApp template."""
    if message_type == "template":
        return _vonage_template(body)
    if message_type == "custom":
        return _custom_template(_object(body, "custom"))
    return None


def _vonage_template(body: Body) -> TemplateRef:
    template = _object(body, "template")
    name = template.get("name")
    if not isinstance(name, str) or not name:
        raise unprocessable("params", "is required.", "template.name")
    parameters = template.get("parameters", [])
    if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
        raise unprocessable("params", "must be a list of strings.", "template.parameters")
    settings = body.get("whatsapp") or {}
    if not isinstance(settings, Mapping):
        raise unprocessable("params", "must be an object.", "whatsapp")
    if settings.get("policy", "deterministic") != "deterministic":
        raise unprocessable("params", "must be `deterministic`.", "whatsapp.policy")
    locale = settings.get("locale") or DEFAULT_LOCALE
    # Vonage names templates "namespace:template_name"; the store knows the bare name.
    return TemplateRef(name.rpartition(":")[2], str(locale))


def _custom_template(custom: Body) -> TemplateRef | None:
    if custom.get("type") != "template":
        return None
    template = custom.get("template")
    if not isinstance(template, Mapping) or not isinstance(template.get("name"), str):
        raise unprocessable("params", "is required.", "custom.template.name")
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    if not isinstance(code, str) or not code:
        raise unprocessable("params", "is required.", "custom.template.language.code")
    return TemplateRef(str(template["name"]), code)


def _client_ref(body: Body) -> str | None:
    client_ref = body.get("client_ref")
    if client_ref is None:
        return None
    if not isinstance(client_ref, str) or len(client_ref) > CLIENT_REF_LIMIT:
        detail = f"The client reference can be a string of up to {CLIENT_REF_LIMIT} characters."
        raise unprocessable("client_ref", detail)
    return client_ref


def _webhook_url(body: Body) -> str | None:
    if body.get("webhook_version", "v1") not in ("v1", "v0.1"):
        raise unprocessable("params", "must be `v1` or `v0.1`.", "webhook_version")
    url = body.get("webhook_url")
    if url is not None and not (isinstance(url, str) and _is_http_url(url)):
        raise unprocessable("params", "must be an http(s) URL.", "webhook_url")
    return url


def _is_http_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)
