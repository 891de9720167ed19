"""What a message carries beyond text: media, a template, an interactive object, a location.

One shape travels from the API to the database (`messages.payload` and `attachments`) and on
to the provider (`OutboundMessage`).
"""

from __future__ import annotations

import mimetypes
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from textbridge.models import Attachment, Message
from textbridge.providers.base import (
    Channel,
    JSONObject,
    Location,
    Media,
    MediaKind,
    OutboundMessage,
    Template,
)

SENDER_CHANNEL: dict[str, str] = {"sms": "sms", "mms": "sms", "whatsapp": "whatsapp"}
"""Which kind of sender carries a channel: MMS leaves from an SMS number, in the same thread."""


@dataclass(frozen=True, slots=True)
class Content:
    text: str | None = None
    media: tuple[Media, ...] = ()
    template: Template | None = None
    interactive: JSONObject | None = None
    location: Location | None = None


def media_kind(mime_type: str | None, url: str) -> MediaKind:
    mime = mime_type or mimetypes.guess_type(urlsplit(url).path)[0] or ""
    if mime == "image/webp":
        return "sticker"
    major = mime.split("/", 1)[0]
    if major in ("image", "audio", "video"):
        return major  # type: ignore[return-value]
    return "file"


def to_payload(content: Content) -> dict[str, Any] | None:
    payload: dict[str, Any] = {}
    if content.template is not None:
        payload["template"] = asdict(content.template)
    if content.interactive is not None:
        payload["interactive"] = content.interactive
    if content.location is not None:
        payload["location"] = asdict(content.location)
    return payload or None


def attachments_of(media: tuple[Media, ...]) -> list[Attachment]:
    return [Attachment(**attachment_columns(item, index)) for index, item in enumerate(media)]


def attachment_columns(item: Media, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "url": item.url,
        "kind": item.kind,
        "mime_type": item.mime_type,
        "size": item.size,
        "caption": item.caption,
        "filename": item.filename,
    }


def outbound_of(message: Message, status_callback_url: str) -> OutboundMessage:
    """The provider's view of a stored outbound message."""
    payload = message.payload or {}
    template = payload.get("template")
    location = payload.get("location")
    return OutboundMessage(
        message_id=str(message.id),
        channel=_channel(message.channel),
        from_address=message.from_address,
        to_address=message.to_address,
        text=message.body,
        status_callback_url=status_callback_url,
        media=tuple(_media(attachment) for attachment in message.attachments),
        template=_template(template) if template else None,
        interactive=payload.get("interactive"),
        location=Location(**location) if location else None,
    )


def _channel(value: str) -> Channel:
    if value not in SENDER_CHANNEL:
        raise ValueError(f"unknown channel {value!r}")
    return value  # type: ignore[return-value]


def _media(attachment: Attachment) -> Media:
    return Media(
        url=attachment.url,
        kind=attachment.kind,  # type: ignore[arg-type]
        mime_type=attachment.mime_type,
        caption=attachment.caption,
        filename=attachment.filename,
        size=attachment.size,
    )


def _template(data: dict[str, Any]) -> Template:
    return Template(data["name"], data["language"], tuple(data.get("components", ())))
