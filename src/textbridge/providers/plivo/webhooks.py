"""Parse Plivo's inbound-message and status-callback webhooks into normalized events.

Plivo posts form fields (or a query string for GET). Nested fields that a JSON body would carry
(`{"Button": {"Payload": ...}}`) are flattened to dotted names, so that every spelling of an
unconfirmed field (see `vocabulary.BUTTON_PAYLOAD`) is read the same way.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from textbridge.providers.base import (
    Channel,
    InboundMessage,
    Location,
    Media,
    MediaKind,
    StatusUpdate,
    WebhookEvent,
    WebhookKind,
    WebhookPayloadError,
    WebhookRequest,
    load_webhook_json,
)
from textbridge.providers.plivo import vocabulary as v
from textbridge.providers.plivo.signature import SignedParams
from textbridge.providers.plivo.vocabulary import ERROR_CODES
from textbridge.providers.shapes import note_unknown_shape

PROVIDER = "plivo"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
MEDIA_FIELD = re.compile(r"Media(\d+)")
FORM = "application/x-www-form-urlencoded"


CALLBACK_REF = "ref"
"""The query parameter of our status callback URL that carries our message id."""


def fields_of(request: WebhookRequest) -> list[tuple[str, str]]:
    """The webhook's fields: form or query params, plus a JSON body's, flattened; for a POST,
    our own `ref` from the callback URL's query too. Only what `signed_params` (and the URL)
    put under the signature: a GET's body, for one, is never read."""
    if request.method == "POST":
        query = parse_qsl(urlsplit(request.url).query)
        ours = [(key, value) for key, value in query if key == CALLBACK_REF]
    else:
        ours = []
    if not _is_json_post(request):
        return [*request.params, *ours]
    return [*request.params, *ours, *_flatten(_json_object(request.body), "")]


def signed_params(request: WebhookRequest) -> SignedParams | None:
    """What Plivo's signature covers besides the URL and its query, as the SDK is given it:
    the query (GET), the form (form POST), the object of a JSON body (JSON POST), else
    nothing. None for a JSON body that is not an object: nothing could have signed it."""
    if request.method != "POST":
        return request.params
    if _is_json_post(request):
        try:
            return _json_object(request.body)
        except WebhookPayloadError:
            return None
    if request.headers.get("content-type", "").startswith(FORM):
        return request.params
    return ()


def _is_json_post(request: WebhookRequest) -> bool:
    return request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/json"
    )


def _json_object(body: bytes) -> dict[str, Any]:
    value = load_webhook_json(body or b"{}")
    if not isinstance(value, dict):
        raise WebhookPayloadError("JSON body is not an object")
    return value


def _flatten(value: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for key, item in value.items():
        if isinstance(item, dict):
            yield from _flatten(item, f"{prefix}{key}.")
        elif item is not None:
            yield f"{prefix}{key}", item if isinstance(item, str) else json.dumps(item)


def parse(kind: WebhookKind, params: Sequence[tuple[str, str]]) -> list[WebhookEvent]:
    fields = dict(params)
    if kind == "inbound":
        return [_inbound(fields)]
    return [_status(fields)]


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise WebhookPayloadError(f"missing field {name}")
    return value


def _e164(number: str) -> str:
    return number if number.startswith("+") or not number.isdigit() else f"+{number}"


def _nested(fields: dict[str, str], name: tuple[str, str]) -> str | None:
    """`ButtonPayload`, `Button.Payload` or `Button[Payload]`, whichever is there."""
    outer, inner = name
    for key in (f"{outer}{inner}", f"{outer}.{inner}", f"{outer}[{inner}]"):
        value = fields.get(key, "").strip()
        if value:
            return value
    return None


def _inbound(fields: dict[str, str]) -> InboundMessage:
    channel = _channel(fields)
    media = _media(fields, channel)
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=_required(fields, "MessageUUID"),
        channel=channel,
        from_address=_e164(_required(fields, "From")),
        to_address=_e164(_required(fields, "To")),
        text=_text(fields, channel),
        segments=_int_or_none(fields.get("Units")),
        content_type=_content_type(fields, channel, media),
        media=media,
        reply_id=_nested(fields, v.BUTTON_PAYLOAD) or _nested(fields, v.LIST_ID),
        profile_name=_nested(fields, v.PROFILE_NAME),
        location=_location(fields),
        intent=fields.get(v.MESSAGE_INTENT, "").strip() or None,
        raw=fields,
    )


def _location(fields: dict[str, str]) -> Location | None:
    latitude, longitude, name, address = (fields.get(key, "").strip() for key in v.LOCATION_FIELDS)
    if not (latitude and longitude):
        return None
    try:
        return Location(float(latitude), float(longitude), name or None, address or None)
    except ValueError:
        raise WebhookPayloadError(f"unreadable location {latitude!r}, {longitude!r}") from None


def _channel(fields: dict[str, str]) -> Channel:
    message_type = (fields.get("Type") or "sms").strip().lower()
    channel = v.INBOUND_TYPES.get(message_type)
    if channel is None:
        raise WebhookPayloadError(f"unsupported message type {message_type!r}")
    return channel


def _text(fields: dict[str, str], channel: Channel) -> str:
    first, second = ("Text", "Body") if channel == "sms" else ("Body", "Text")
    text = fields.get(first) or fields.get(second)
    return text or _nested(fields, v.BUTTON_TEXT) or _nested(fields, v.LIST_TITLE) or ""


def _content_type(fields: dict[str, str], channel: Channel, media: tuple[Media, ...]) -> str:
    if _nested(fields, v.LIST_ID):
        return "reply"
    declared = (fields.get("ContentType") or "").strip().lower()
    if channel == "whatsapp" and declared:
        if declared not in v.INBOUND_CONTENT_TYPES:
            note_unknown_shape(PROVIDER, f"whatsapp ContentType {declared[:32]!r}", fields)
        return v.INBOUND_CONTENT_TYPES.get(declared, "unsupported")
    if _nested(fields, v.BUTTON_PAYLOAD) or _nested(fields, v.BUTTON_TEXT):
        return "button"
    return "media" if media else "text"


def _media(fields: dict[str, str], channel: Channel) -> tuple[Media, ...]:
    urls = [url for _, url in sorted(_media_fields(fields)) if url]
    mime_type = (fields.get("MimeType") or "").strip().lower() or None
    # Plivo names one MimeType (WhatsApp: one media per message); MMS media carry none. A
    # WhatsApp caption arrives in `Body` and becomes the message text, as on the way out.
    single = mime_type if len(urls) == 1 else None
    return tuple(_medium(url, single, channel) for url in urls)


def _media_fields(fields: dict[str, str]) -> Iterator[tuple[int, str]]:
    for name, value in fields.items():
        match = MEDIA_FIELD.fullmatch(name)
        if match:
            yield int(match.group(1)), value.strip()


def _medium(url: str, mime_type: str | None, channel: Channel) -> Media:
    mime_type = mime_type or mimetypes.guess_type(url)[0]
    return Media(url=url, kind=_kind(mime_type, channel), mime_type=mime_type)


def _kind(mime_type: str | None, channel: Channel) -> MediaKind:
    if channel == "whatsapp" and mime_type == v.WHATSAPP_STICKER_TYPE:
        return "sticker"
    return v.INBOUND_MEDIA_KINDS.get((mime_type or "").partition("/")[0], "file")


def _status(fields: dict[str, str]) -> StatusUpdate:
    error_code = _error_code(fields.get("ErrorCode"))
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=_required(fields, "MessageUUID"),
        provider_status=_required(fields, "Status").lower(),
        error_code=error_code,
        error_description=ERROR_CODES.get(error_code or "", error_code and "Plivo error"),
        occurred_at=_time(fields),
        price=fields.get("TotalAmount") or None,
        client_ref=fields.get(CALLBACK_REF) or None,
        raw=fields,
    )


def _error_code(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "000", "0") else value


def _time(fields: dict[str, str]) -> datetime | None:
    for name in ("DeliveryReportTime", "SentTime", "QueuedTime", "MessageTime"):
        value = fields.get(name)
        if value:
            try:
                return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
