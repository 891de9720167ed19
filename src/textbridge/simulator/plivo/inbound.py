"""The fields of Plivo's inbound message webhook (the Application's ``message_url``).

SMS carry ``Text`` and ``MessageIntent``; MMS and WhatsApp carry ``Body``, ``MediaCount`` and
``Media1..N`` (1-based, as documented: https://plivo.com/docs/messaging/api/message/handling-incoming).
WhatsApp adds ``ContentType`` (text | media | button | location) and ``MimeType`` (media only).

SMS and MMS are form posts. WhatsApp is posted as a JSON object: a Plivo WhatsApp integration
reads the button reply and the replied-to message as nested objects of the parsed body
(``Button.Text``, ``Button.Payload``, ``Context.MessageUUID``), which only a JSON body carries
unambiguously; the docs list the field names without the nesting. It is V3-signed over all its
fields as Plivo's SDK computes it (``signature.v3_string_to_sign`` over the decoded object).
Plivo documents no field for a shared location: the simulator sends ``ContentType=location``
with ``Latitude``, ``Longitude``, ``LocationName`` and ``LocationAddress`` (empty when not
given), an assumption.
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


def inbound_params(message: StoredMessage, media: Sequence[InboundMedia] = ()) -> Params:
    """The form fields of an SMS or MMS ``message`` received with ``media``."""
    if message.message_type == "sms":
        return _sms_params(message)
    return (*_common_params(message), *_media_params(media))


def whatsapp_body(
    message: StoredMessage,
    media: Sequence[InboundMedia] = (),
    button: InboundButton | None = None,
    location: InboundLocation | None = None,
    context_uuid: str | None = None,
) -> dict[str, object]:
    """The JSON body of a WhatsApp ``message``: text, ``media``, a ``button`` reply (nested
    ``Button``) or a shared ``location``; ``Context`` names the message replied to."""
    body: dict[str, object] = dict([*_common_params(message), *_media_params(media)])
    body.update(_whatsapp_params(media, location))
    if button is not None:
        body["ContentType"] = "button"
        body["Button"] = {"Payload": button.payload, "Text": button.text}
    if context_uuid is not None:
        body["Context"] = {"MessageUUID": context_uuid}
    return body


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
    media: Sequence[InboundMedia], location: InboundLocation | None
) -> list[tuple[str, str]]:
    if location is not None:
        return _location_params(location)
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
