"""Parse Vonage's inbound-message and message-status webhooks (Messages API v1, JSON POST).

Schemas: the Messages OpenAPI ``x-webhooks`` (``inbound-message``, ``message-status``);
summarised in providers.md section 5.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeGuard

from textbridge.providers.base import (
    InboundMessage,
    Location,
    Media,
    StatusUpdate,
    WebhookEvent,
    WebhookKind,
    WebhookPayloadError,
    load_webhook_json,
)
from textbridge.providers.shapes import note_unknown_shape
from textbridge.providers.vonage.vocabulary import INBOUND_CHANNELS, INBOUND_MEDIA_KINDS

PROVIDER = "vonage"

Payload = dict[str, Any]


def parse(kind: WebhookKind, body: bytes) -> list[WebhookEvent]:
    payload = load(body)
    if kind == "inbound":
        return [inbound(payload)]
    return [status(payload)]


def load(body: bytes) -> Payload:
    payload = load_webhook_json(body)
    if not isinstance(payload, dict):
        raise WebhookPayloadError("body is not a JSON object")
    return payload


# --- field helpers ---------------------------------------------------------------------------


def _required(payload: Payload, name: str) -> str:
    value = payload.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise WebhookPayloadError(f"missing field {name}")
    return value.strip()


def _object(payload: Payload, name: str) -> Payload:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"missing object {name}")
    return value


def _optional_object(payload: Payload, name: str) -> Payload:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _e164(address: str) -> str:
    return f"+{address}" if address.isdigit() else address


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- inbound ---------------------------------------------------------------------------------


def inbound(payload: Payload) -> InboundMessage:
    channel_name = _required(payload, "channel")
    channel = INBOUND_CHANNELS.get(channel_name)
    if channel is None:
        raise WebhookPayloadError(f"unsupported channel {channel_name!r}")
    message_type = _required(payload, "message_type")
    content = _content(message_type, payload)
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=_required(payload, "message_uuid"),
        channel=channel,
        from_address=_e164(_required(payload, "from")),
        to_address=_e164(_required(payload, "to")),
        segments=_int_or_none(_optional_object(payload, "sms").get("num_messages")),
        profile_name=_text(_optional_object(payload, "profile").get("name")),
        sent_at=_time(payload.get("timestamp")),
        keyword=_text(_optional_object(payload, "sms").get("keyword")),
        raw=payload,
        **content,
    )


def _content(message_type: str, payload: Payload) -> dict[str, Any]:
    """`text`, `content_type` and what goes with it, for one inbound `message_type`."""
    if message_type in INBOUND_MEDIA_KINDS:
        return _media(message_type, payload)
    reader = _READERS.get(message_type, _unsupported)
    return reader(payload)


def _plain_text(payload: Payload) -> dict[str, Any]:
    text = payload.get("text")
    if not isinstance(text, str):
        raise WebhookPayloadError("missing field text")
    return {"text": text, "content_type": "text"}


def _media(message_type: str, payload: Payload) -> dict[str, Any]:
    """The attachment the `message_type` names, then any others an MMS carries in `content`."""
    first = _medium(message_type, _object(payload, message_type))
    media = (first, *_content_media(payload, skip=first.url))
    return {"text": first.caption or "", "content_type": "media", "media": media}


def _content_only(payload: Payload) -> dict[str, Any]:
    """`message_type: "content"`: attachments only in `content[]`."""
    media = _content_media(payload, skip=None)
    if not media:
        raise WebhookPayloadError("content carries no attachment")
    caption = next((item.caption for item in media if item.caption), None)
    return {"text": caption or "", "content_type": "media", "media": media}


def _medium(kind: str, resource: Payload) -> Media:
    return Media(
        url=_required(resource, "url"),
        kind=INBOUND_MEDIA_KINDS[kind],
        mime_type="text/vcard" if kind == "vcard" else None,
        caption=_text(resource.get("caption")),
        filename=_text(resource.get("name")),
    )


def _content_media(payload: Payload, skip: str | None) -> tuple[Media, ...]:
    """MMS attachments in `content: [{type, url, caption?}]` (Vonage's MMS page: an inbound MMS
    may carry further attachments of any type); an item of another shape is skipped and its
    shape logged once. `raw` keeps them all."""
    items = payload.get("content")
    if items is None:
        return ()
    if not isinstance(items, list):
        note_unknown_shape(PROVIDER, "inbound content", [type(items).__name__])
        return ()
    found: list[Media] = []
    for item in items:
        if not _is_content_item(item):
            shape = item if isinstance(item, dict) else [type(item).__name__]
            note_unknown_shape(PROVIDER, "inbound content item", shape)
            continue
        if item["url"] != skip:
            found.append(_medium(item["type"], item))
    return tuple(found)


def _is_content_item(item: object) -> TypeGuard[Payload]:
    return (
        isinstance(item, dict)
        and item.get("type") in INBOUND_MEDIA_KINDS
        and isinstance(item.get("url"), str)
        and bool(item["url"].strip())
    )


def _location(payload: Payload) -> dict[str, Any]:
    place = _object(payload, "location")
    try:
        latitude, longitude = float(place["lat"]), float(place["long"])
    except (KeyError, TypeError, ValueError):
        raise WebhookPayloadError("location needs numeric lat and long") from None
    name, address = _text(place.get("name")), _text(place.get("address"))
    location = Location(latitude, longitude, name, address)
    text = ", ".join(part for part in (name, address) if part)
    return {"text": text, "content_type": "location", "location": location}


def _reply(payload: Payload) -> dict[str, Any]:
    reply = _object(payload, "reply")
    reply_id = _required(reply, "id")
    return {"text": _text(reply.get("title")) or "", "content_type": "reply", "reply_id": reply_id}


def _button(payload: Payload) -> dict[str, Any]:
    button = _object(payload, "button")
    text = _text(button.get("text")) or ""
    reply_id = _text(button.get("payload")) or text or None
    if reply_id is None:
        raise WebhookPayloadError("button needs a payload or text")
    return {"text": text, "content_type": "button", "reply_id": reply_id}


def _unsupported(payload: Payload) -> dict[str, Any]:
    # `unsupported`, and types we do not model (reaction, order, contact, ...): kept in `raw`.
    kind = str(payload.get("message_type"))[:32]
    note_unknown_shape(PROVIDER, f"inbound message_type {kind!r}", payload)
    return {"text": "", "content_type": "unsupported"}


_READERS: dict[str, Callable[[Payload], dict[str, Any]]] = {
    "text": _plain_text,
    "location": _location,
    "reply": _reply,
    "button": _button,
    "content": _content_only,
}


# --- status ----------------------------------------------------------------------------------


def status(payload: Payload) -> StatusUpdate:
    error = _optional_object(payload, "error")
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=_required(payload, "message_uuid"),
        provider_status=_required(payload, "status").lower(),
        error_code=_text(error.get("title")),
        error_description=_text(error.get("detail")),
        occurred_at=_time(payload.get("timestamp")),
        price=_text(_optional_object(payload, "usage").get("price")),
        client_ref=_text(payload.get("client_ref")),
        raw=payload,
    )
