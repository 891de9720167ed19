"""Inbound WhatsApp media of every kind, and shared locations: the exact webhook bodies, and what
the real provider adapters make of them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from textbridge.providers.base import InboundMessage, Location, Media
from textbridge.providers.plivo import webhooks as plivo_webhooks
from textbridge.providers.vonage import webhooks as vonage_webhooks

from .harness import Received, Receiver
from .inbound_support import (
    OURS,
    PLIVO,
    USER,
    VONAGE,
    plivo_inbound,
    stable_payload,
    vonage_webhook,
)

MEDIA_URL = "https://api-us.nexmo.com/v3/media/aa7b9a2c-4f39-4a5e-9d4e-2b1a6f0c8e11"
PLACE = {"lat": 37.7793, "long": -122.4193, "name": "City Hall", "address": "1 Dr Carlton B Pl"}
WHATSAPP = {
    "channel": "whatsapp",
    "to": OURS,
    "from": USER,
    "profile": {"name": "Ann"},
    "context_status": "none",
    "whatsapp": {"sender": {"wa_id": USER}},
}


def vonage_event(webhook: Received) -> InboundMessage:
    [event] = vonage_webhooks.parse("inbound", webhook.body)
    assert isinstance(event, InboundMessage)
    return event


def plivo_event(params: dict[str, str]) -> InboundMessage:
    [event] = plivo_webhooks.parse("inbound", list(params.items()))
    assert isinstance(event, InboundMessage)
    return event


def whatsapp_payload(
    control: httpx.Client, receiver: Receiver, body: dict[str, Any]
) -> tuple[Any, Received]:
    """The stable part of the Vonage WhatsApp webhook for ``body``, and the webhook itself."""
    webhook = vonage_webhook(
        control, receiver, {"channel": "whatsapp", "profile_name": "Ann", **body}
    )
    payload = stable_payload(webhook)
    assert payload.pop("_self")["href"].startswith("https://api.nexmo.com/v1/messages/")
    return payload, webhook


# --- Vonage media ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (
            {"kind": "file", "name": "invoice.pdf", "caption": "March"},
            Media(MEDIA_URL, "file", caption="March", filename="invoice.pdf"),
        ),
        ({"kind": "audio", "name": "note.ogg"}, Media(MEDIA_URL, "audio", filename="note.ogg")),
        ({"kind": "video", "caption": "the leak"}, Media(MEDIA_URL, "video", caption="the leak")),
        ({"kind": "sticker"}, Media(MEDIA_URL, "sticker")),
        ({"kind": "image", "name": "a.jpg"}, Media(MEDIA_URL, "image", filename="a.jpg")),
    ],
    ids=["file", "audio", "video", "sticker", "image"],
)
def test_vonage_whatsapp_media_of_every_kind(
    control: httpx.Client, receiver: Receiver, media: dict[str, str], expected: Media
) -> None:
    payload, webhook = whatsapp_payload(control, receiver, {"media": {"url": MEDIA_URL, **media}})

    kind = media["kind"]
    fields = {key: value for key, value in media.items() if key != "kind"}
    assert payload == {**WHATSAPP, "message_type": kind, kind: {"url": MEDIA_URL, **fields}}
    event = vonage_event(webhook)
    assert (event.channel, event.content_type, event.media) == ("whatsapp", "media", (expected,))
    assert event.text == (expected.caption or "")
    [stored] = control.get("/messages", params={"provider": "vonage"}).json()
    assert stored["content_type"] == kind


def test_vonage_image_field_is_an_image_medium(control: httpx.Client, receiver: Receiver) -> None:
    image = {"url": MEDIA_URL, "caption": "look"}
    payload, webhook = whatsapp_payload(control, receiver, {"image": image})

    assert payload == {**WHATSAPP, "message_type": "image", "image": image}
    assert vonage_event(webhook).media == (Media(MEDIA_URL, "image", caption="look"),)


# --- Vonage location -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "text"),
    [
        ({**PLACE, "url": "https://www.example.com/hall"}, "City Hall, 1 Dr Carlton B Pl"),
        ({"lat": -33.8568, "long": 151.2153}, ""),
    ],
    ids=["named", "bare"],
)
def test_vonage_whatsapp_location(
    control: httpx.Client, receiver: Receiver, place: dict[str, Any], text: str
) -> None:
    payload, webhook = whatsapp_payload(control, receiver, {"location": place})

    assert payload == {**WHATSAPP, "message_type": "location", "location": place}
    event = vonage_event(webhook)
    assert (event.content_type, event.media, event.text) == ("location", (), text)
    expected = Location(place["lat"], place["long"], place.get("name"), place.get("address"))
    assert event.location == expected


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "whatsapp", "media": {"url": MEDIA_URL, "kind": "audio", "caption": "x"}},
        {"channel": "whatsapp", "media": {"url": MEDIA_URL, "kind": "sticker", "caption": "x"}},
        {"channel": "whatsapp", "media": {"url": MEDIA_URL, "kind": "sticker", "name": "s.webp"}},
        {"channel": "whatsapp", "media": {"url": MEDIA_URL, "kind": "vcard"}},
        {"channel": "whatsapp", "media": {"url": MEDIA_URL}},
        {"channel": "whatsapp", "media": {"url": "not a url", "kind": "file"}},
        {"channel": "whatsapp", "media": {"url": MEDIA_URL, "kind": "file"}, "text": "hi"},
        {
            "channel": "whatsapp",
            "media": {"url": MEDIA_URL, "kind": "file"},
            "image": {"url": MEDIA_URL},
        },
        {"channel": "sms", "media": {"url": MEDIA_URL, "kind": "file"}},
        {"channel": "sms", "location": PLACE},
        {"channel": "whatsapp", "location": {**PLACE, "lat": 91}},
        {"channel": "whatsapp", "location": {**PLACE, "long": -181}},
        {"channel": "whatsapp", "location": {"name": "nowhere"}},
        {"channel": "whatsapp", "location": {**PLACE, "url": "www.example.com"}},
    ],
)
def test_vonage_media_and_location_shapes_are_checked(
    control: httpx.Client, body: dict[str, Any]
) -> None:
    answer = control.post("/vonage/inbound", json={**VONAGE, **body})

    assert answer.status_code == 400, answer.text


# --- Plivo location --------------------------------------------------------------------------

PLIVO_PLACE = {
    "ContentType": "location",
    "Latitude": "37.7793",
    "Longitude": "-122.4193",
    "LocationName": "City Hall",
    "LocationAddress": "1 Dr Carlton B Pl",
}


def test_plivo_whatsapp_location_fields(control: httpx.Client, receiver: Receiver) -> None:
    params = plivo_inbound(control, receiver, {"type": "whatsapp", "location": PLACE})

    assert PLIVO_PLACE.items() <= params.items()
    assert (params["Body"], params["MediaCount"]) == ("", "0")
    assert "MimeType" not in params
    [stored] = control.get("/messages", params={"provider": "plivo"}).json()
    assert stored["content_type"] == "location"
    event = plivo_event(params)
    assert (event.channel, event.media, event.text) == ("whatsapp", (), "")
    assert PLIVO_PLACE.items() <= event.raw.items()


def test_plivo_bare_location_sends_empty_name_and_address(
    control: httpx.Client, receiver: Receiver
) -> None:
    place = {"lat": 1.5, "long": 2}
    params = plivo_inbound(control, receiver, {"type": "whatsapp", "location": place})

    assert (params["Latitude"], params["Longitude"]) == ("1.5", "2.0")
    assert (params["LocationName"], params["LocationAddress"]) == ("", "")


def test_plivo_adapter_reads_the_location(control: httpx.Client, receiver: Receiver) -> None:
    params = plivo_inbound(control, receiver, {"type": "whatsapp", "location": PLACE})

    event = plivo_event(params)
    assert event.content_type == "location"
    assert event.location == Location(37.7793, -122.4193, "City Hall", "1 Dr Carlton B Pl")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "sms", "text": "hi", "location": PLACE},
        {"type": "mms", "text": "hi", "location": PLACE},
        {"type": "whatsapp", "text": "hi", "location": PLACE},
        {"type": "whatsapp", "location": PLACE, "button": {"payload": "p", "text": "t"}},
        {
            "type": "whatsapp",
            "location": PLACE,
            "media": [{"url": MEDIA_URL, "mime_type": "image/png"}],
        },
        {"type": "whatsapp", "location": {**PLACE, "lat": -90.5}},
        {"type": "whatsapp", "location": {**PLACE, "url": "https://example.com/x"}},
    ],
)
def test_plivo_location_shapes_are_checked(control: httpx.Client, body: dict[str, Any]) -> None:
    answer = control.post("/plivo/inbound", json={**PLIVO, **body})

    assert answer.status_code == 400, answer.text
