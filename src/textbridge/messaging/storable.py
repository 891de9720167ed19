"""Webhook events made storable, or refused: the limits of our columns, checked at the edge.

Ingest runs every parsed event through `check` (a `WebhookPayloadError` is answered 400 and
journaled as `invalid` with the reason); the services make storable (`inbound`, `status`) what
the applier parses back from the journal, with the same rules.

Free text is normalized (`text.clean`; truncated where a column has a limit: a name, a caption,
a filename, an error description). A value that cannot be normalized without changing what it
identifies (an address, a message id, a status, an error code, a media URL, a price) is refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from textbridge.messaging import address
from textbridge.messaging.text import clean, clean_json, excerpt
from textbridge.models import Attachment, Contact, Message, MessageEvent, Sender
from textbridge.providers.base import (
    InboundMessage,
    Location,
    Media,
    StatusUpdate,
    WebhookEvent,
    WebhookPayloadError,
)


def _length(attribute: Any) -> int:
    """The length of a mapped String column, so that the limits follow the models."""
    length: int = attribute.property.columns[0].type.length
    return length


MESSAGE_ID = _length(Message.provider_message_id)
OUR_ADDRESS = _length(Sender.address)
NAME = _length(Contact.name)
MEDIA_URL = _length(Attachment.url)
MIME_TYPE = _length(Attachment.mime_type)
CAPTION = _length(Attachment.caption)
FILENAME = _length(Attachment.filename)
PROVIDER_STATUS = _length(MessageEvent.provider_status)
ERROR_CODE = _length(MessageEvent.error_code)
ERROR_MESSAGE = _length(Message.error_message)
PRICE = _length(Message.price)
MAX_SEGMENTS = 2**31 - 1
"""An INTEGER column; the count is only informative (we count SMS segments ourselves)."""


def check(events: list[WebhookEvent]) -> None:
    """`WebhookPayloadError` when an event cannot be made storable. Ingest's check: it builds
    nothing (the raw payload is the costly part, and the applier rebuilds the events from the
    journal anyway), so the hot path pays only for the fields."""
    for event in events:
        if isinstance(event, InboundMessage):
            _inbound_fields(event)
        else:
            _status_fields(event)


def inbound(message: InboundMessage) -> InboundMessage:
    """`message` with storable text, or `WebhookPayloadError` naming the field at fault."""
    return dataclasses.replace(message, **_inbound_fields(message), raw=clean_json(message.raw))


def status(update: StatusUpdate) -> StatusUpdate:
    """`update` with storable text, or `WebhookPayloadError` naming the field at fault."""
    return dataclasses.replace(update, **_status_fields(update), raw=clean_json(update.raw))


def _inbound_fields(message: InboundMessage) -> dict[str, Any]:
    try:
        sender = address.of_sender(clean(message.from_address), message.channel)
    except address.InvalidAddress as exc:
        raise WebhookPayloadError(f"from: {exc}") from None
    return dict(
        provider_message_id=_bounded("message id", message.provider_message_id, MESSAGE_ID),
        from_address=sender.value,
        to_address=_bounded("to", message.to_address, OUR_ADDRESS),
        text=clean(message.text),
        segments=message.segments if 0 < (message.segments or 0) <= MAX_SEGMENTS else None,
        media=tuple(_media(item) for item in message.media),
        reply_id=_cleaned(message.reply_id),
        profile_name=_truncated(message.profile_name, NAME),
        location=_location(message.location),
    )


def _status_fields(update: StatusUpdate) -> dict[str, Any]:
    return dict(
        provider_message_id=_bounded("message id", update.provider_message_id, MESSAGE_ID),
        provider_status=_bounded("status", update.provider_status, PROVIDER_STATUS),
        error_code=_bounded_or_none("error code", update.error_code, ERROR_CODE),
        error_description=_truncated(update.error_description, ERROR_MESSAGE),
        price=_bounded_or_none("price", update.price, PRICE),
        client_ref=_cleaned(update.client_ref),
    )


def _media(item: Media) -> Media:
    mime_type = _cleaned(item.mime_type)
    return dataclasses.replace(
        item,
        url=_bounded("media url", item.url, MEDIA_URL),
        # A MIME type cut short would lie; without one, the kind still says what it is.
        mime_type=mime_type if mime_type and len(mime_type) <= MIME_TYPE else None,
        caption=_truncated(item.caption, CAPTION),
        filename=_truncated(item.filename, FILENAME),
    )


def _location(location: Location | None) -> Location | None:
    if location is None:
        return None
    problems = location.coordinate_problems()  # NaN fails them too: JSON columns refuse it
    if problems:
        raise WebhookPayloadError(f"{problems[0].field} {problems[0].message}")
    name, place = _cleaned(location.name), _cleaned(location.address)
    return dataclasses.replace(location, name=name, address=place)


def _bounded(field: str, value: str, limit: int) -> str:
    text = clean(value)
    if len(text) > limit:
        raise WebhookPayloadError(f"{field} {excerpt(text)} is longer than {limit} characters")
    return text


def _bounded_or_none(field: str, value: str | None, limit: int) -> str | None:
    return None if value is None else _bounded(field, value, limit)


def _cleaned(value: str | None) -> str | None:
    return None if value is None else clean(value)


def _truncated(value: str | None, limit: int) -> str | None:
    return None if value is None else clean(value)[:limit]
