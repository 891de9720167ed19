"""The form fields of Plivo's inbound message webhook (the Application's ``message_url``).

SMS carry ``Text`` and ``MessageIntent``; MMS and WhatsApp carry ``Body``, ``MediaCount`` and
``Media1..N`` (1-based, as documented). WhatsApp adds ``ContentType`` (text | media | button
| location) and ``MimeType`` (media only). Plivo's docs cut off before naming the button-reply
fields: the simulator sends ``ButtonPayload`` and ``ButtonText`` (an assumption, in Plivo's
casing). Nor do they name a shared location's fields: the simulator sends ``ContentType=location``
with ``Latitude``, ``Longitude``, ``LocationName`` and ``LocationAddress`` (empty when not
given), likewise an assumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textbridge.simulator.callbacks import Params
from textbridge.simulator.plivo.vocabulary import MESSAGE_INTENTS
from textbridge.simulator.state import StoredMessage


@dataclass(frozen=True)
class InboundMedia:
    url: str
    mime_type: str


@dataclass(frozen=True)
class InboundButton:
    payload: str
    text: str


@dataclass(frozen=True)
class InboundLocation:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


def message_intent(text: str) -> str:
    """Plivo's ``MessageIntent``: set when the whole text is a standard keyword."""
    word = text.strip().strip(".!?,;:").strip().upper()
    return MESSAGE_INTENTS.get(word, "")


def inbound_params(
    message: StoredMessage,
    media: Sequence[InboundMedia] = (),
    button: InboundButton | None = None,
    location: InboundLocation | None = None,
) -> Params:
    """The webhook fields for ``message``, received with ``media``, as a ``button`` reply or
    as a shared ``location`` (WhatsApp)."""
    if message.message_type == "sms":
        return _sms_params(message)
    fields = [*_common_params(message), *_media_params(media)]
    if message.message_type == "whatsapp":
        fields.extend(_whatsapp_params(media, button, location))
    return tuple(fields)


def _sms_params(message: StoredMessage) -> Params:
    return (
        ("From", message.from_number),
        ("To", message.to_number),
        ("Type", message.message_type),
        ("Text", message.text),
        ("MessageUUID", message.message_uuid),
        ("Units", str(message.units)),
        ("TotalRate", message.total_rate),
        ("TotalAmount", message.total_amount),
        ("MessageIntent", message_intent(message.text)),
        ("PowerpackUUID", ""),
    )


def _common_params(message: StoredMessage) -> list[tuple[str, str]]:
    return [
        ("From", message.from_number),
        ("To", message.to_number),
        ("Type", message.message_type),
        ("Body", message.text),
        ("MessageUUID", message.message_uuid),
        ("Units", str(message.units)),
        ("TotalRate", message.total_rate),
        ("TotalAmount", message.total_amount),
        ("PowerpackUUID", ""),
    ]


def _media_params(media: Sequence[InboundMedia]) -> list[tuple[str, str]]:
    fields = [("MediaCount", str(len(media)))]
    fields.extend((f"Media{number}", item.url) for number, item in enumerate(media, start=1))
    return fields


def _whatsapp_params(
    media: Sequence[InboundMedia], button: InboundButton | None, location: InboundLocation | None
) -> list[tuple[str, str]]:
    if location is not None:
        return _location_params(location)
    if button is not None:
        return [
            ("ContentType", "button"),
            ("ButtonPayload", button.payload),
            ("ButtonText", button.text),
        ]
    if media:
        return [("ContentType", "media"), ("MimeType", media[0].mime_type)]
    return [("ContentType", "text")]


def _location_params(location: InboundLocation) -> list[tuple[str, str]]:
    return [
        ("ContentType", "location"),
        ("Latitude", str(location.latitude)),
        ("Longitude", str(location.longitude)),
        ("LocationName", location.name or ""),
        ("LocationAddress", location.address or ""),
    ]
