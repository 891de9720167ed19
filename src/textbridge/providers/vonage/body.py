"""Messages API v1 request bodies (flat), as the official SDK models serialize them.

One body per content type: SMS text; MMS image; WhatsApp text, image, audio, video, file,
sticker, and through ``message_type: "custom"`` Meta's own template, interactive and location
objects. Sources: SDK ``vonage_messages/models/{sms,mms,whatsapp}.py`` and providers.md
section 4. Call `checks.problems` first: these functions assume a message that passed it.
"""

from __future__ import annotations

from typing import Any

from textbridge.providers.base import JSONObject, Location, Media, OutboundMessage, Template


def vonage_number(e164: str) -> str:
    """Vonage wants E.164 without the leading "+" (alphanumeric senders pass unchanged)."""
    return e164[1:] if e164.startswith("+") else e164


def request_body(message: OutboundMessage) -> JSONObject:
    body: JSONObject = {
        "to": vonage_number(message.to_address),
        "from": vonage_number(message.from_address),
        "channel": message.channel,
        "client_ref": message.message_id,
    }
    if message.status_callback_url:
        body["webhook_url"] = message.status_callback_url
    body.update(content(message))
    return body


def content(message: OutboundMessage) -> JSONObject:
    """The `message_type` and its payload object for the content that leads."""
    if message.template is not None:
        return custom(template_object(message.template))
    if message.interactive is not None:
        return custom({"type": "interactive", "interactive": message.interactive})
    if message.location is not None:
        return custom(location_object(message.location))
    if message.media:
        return media_content(message.media[0], caption_for(message))
    return {"message_type": "text", "text": message.text or ""}


def custom(payload: JSONObject) -> JSONObject:
    return {"message_type": "custom", "custom": payload}


def template_object(template: Template) -> JSONObject:
    inner: dict[str, Any] = {
        "name": template.name,
        "language": {"policy": "deterministic", "code": template.language},
    }
    if template.components:
        inner["components"] = [dict(component) for component in template.components]
    return {"type": "template", "template": inner}


def location_object(location: Location) -> JSONObject:
    inner: dict[str, Any] = {"latitude": location.latitude, "longitude": location.longitude}
    if location.name:
        inner["name"] = location.name
    if location.address:
        inner["address"] = location.address
    return {"type": "location", "location": inner}


def caption_for(message: OutboundMessage) -> str | None:
    """A media item's own caption, else the message text; None when neither is set."""
    media = message.media[0] if message.media else None
    return (media.caption if media else None) or message.text or None


def media_content(media: Media, caption: str | None) -> JSONObject:
    resource: dict[str, Any] = {"url": media.url}
    if caption and media.kind in ("image", "video", "file"):
        resource["caption"] = caption
    if media.kind == "file" and media.filename:
        resource["name"] = media.filename
    return {"message_type": media.kind, media.kind: resource}
