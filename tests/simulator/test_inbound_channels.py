"""Inbound injection for every channel: Plivo SMS/MMS/WhatsApp forms, Vonage SMS/WhatsApp JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from textbridge.simulator import SimulatorConfig, create_simulator_app

from ..support.live import LiveServer
from .harness import Receiver
from .inbound_support import OURS, PLIVO, USER, VONAGE, plivo_inbound, vonage_inbound

PNG = {"url": "https://example.com/a.png", "mime_type": "image/png"}


# --- Plivo -----------------------------------------------------------------------------------


def test_plivo_mms_carries_body_and_numbered_media(
    control: httpx.Client, receiver: Receiver
) -> None:
    gif = {"url": "https://example.com/b.gif", "mime_type": "image/gif"}
    params = plivo_inbound(control, receiver, {"type": "mms", "text": "look", "media": [PNG, gif]})

    assert params["Type"] == "mms"
    assert params["Body"] == "look"
    assert (params["MediaCount"], params["Media1"], params["Media2"]) == (
        "2",
        PNG["url"],
        gif["url"],
    )
    assert params["Units"] == "1"
    assert "Text" not in params
    assert "ContentType" not in params


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"text": "hello"}, {"ContentType": "text", "Body": "hello", "MediaCount": "0"}),
        (
            {"text": "caption", "media": [PNG]},
            {
                "ContentType": "media",
                "MimeType": "image/png",
                "MediaCount": "1",
                "Media1": PNG["url"],
                "Body": "caption",
            },
        ),
        (
            {"button": {"payload": "YES", "text": "Yes please"}},
            {
                "ContentType": "button",
                "Button.Payload": "YES",  # nested: {"Button": {"Payload", "Text"}}
                "Button.Text": "Yes please",
                "Body": "Yes please",
            },
        ),
    ],
)
def test_plivo_whatsapp_fields(
    control: httpx.Client, receiver: Receiver, body: dict[str, Any], expected: dict[str, str]
) -> None:
    params = plivo_inbound(control, receiver, {"type": "whatsapp", **body})

    assert params["Type"] == "whatsapp"
    assert params["Units"] == "1"
    assert expected.items() <= params.items()
    [stored] = control.get("/messages", params={"direction": "inbound"}).json()
    assert stored["content_type"] == expected["ContentType"]


def test_plivo_whatsapp_is_json_with_nested_button_and_context(
    control: httpx.Client, receiver: Receiver, api: httpx.Client
) -> None:
    sent = api.post(
        "/Message/",
        json={"src": OURS, "dst": USER, "type": "whatsapp", "text": "Shall we?"},
    )
    assert sent.status_code == 202, sent.text
    button = {"payload": "YES", "text": "Yes please"}

    answer = control.post("/plivo/inbound", json={**PLIVO, "type": "whatsapp", "button": button})

    [webhook] = receiver.wait_for(1, "/inbound")
    assert webhook.headers["content-type"] == "application/json"
    body = webhook.json()
    assert body["Button"] == {"Payload": "YES", "Text": "Yes please"}
    assert body["Context"] == {"MessageUUID": sent.json()["message_uuid"][0]}
    assert body["MessageUUID"] == answer.json()["message_uuid"]


def test_plivo_whatsapp_context_can_be_named(control: httpx.Client, receiver: Receiver) -> None:
    fields = plivo_inbound(
        control, receiver, {"type": "whatsapp", "text": "re", "context_message_uuid": "abc-1"}
    )

    assert fields["Context.MessageUUID"] == "abc-1"


@pytest.mark.parametrize(
    "body",
    [
        {"type": "sms", "text": "hi", "context_message_uuid": "abc"},
        {"type": "sms", "text": "hi", "media": [PNG]},
        {"type": "mms"},
        {"type": "mms", "text": "hi", "button": {"payload": "p", "text": "t"}},
        {"type": "mms", "media": [PNG] * 11},
        {"type": "whatsapp"},
        {"type": "whatsapp", "media": [PNG, PNG]},
        {"type": "whatsapp", "media": [PNG], "button": {"payload": "p", "text": "t"}},
        {"type": "whatsapp", "media": [{"url": "https://e.x/a"}]},
        {"type": "whatsapp", "media": [{"url": "e.x/a", "mime_type": "image/png"}]},
        {"type": "fax", "text": "hi"},
    ],
)
def test_plivo_inbound_shapes_are_checked(control: httpx.Client, body: dict[str, Any]) -> None:
    answer = control.post("/plivo/inbound", json={**PLIVO, **body})

    assert answer.status_code == 400
    assert answer.json()["error"]


# --- Vonage ----------------------------------------------------------------------------------


def test_vonage_sms_payload(control: httpx.Client, receiver: Receiver) -> None:
    payload = vonage_inbound(control, receiver, {"channel": "sms", "text": "stop sending"})

    assert payload == {
        "channel": "sms",
        "to": OURS,
        "from": USER,
        "message_type": "text",
        "text": "stop sending",
        "sms": {"num_messages": "1", "keyword": "STOP"},
        "usage": {"currency": "EUR", "price": "0.0057"},
    }


WHATSAPP_COMMON = {
    "channel": "whatsapp",
    "to": OURS,
    "from": USER,
    "context_status": "none",
    "whatsapp": {"sender": {"wa_id": USER}},
}


@pytest.mark.parametrize(
    ("body", "content"),
    [
        ({"text": "hello"}, {"message_type": "text", "text": "hello"}),
        (
            {"image": {"url": "https://example.com/a.jpg", "caption": "look"}},
            {
                "message_type": "image",
                "image": {"url": "https://example.com/a.jpg", "caption": "look"},
            },
        ),
        (
            {"button": {"payload": "YES", "text": "Yes"}},
            {"message_type": "button", "button": {"payload": "YES", "text": "Yes"}},
        ),
        (
            {"reply": {"id": "slot-9", "title": "9 am"}},
            {"message_type": "reply", "reply": {"id": "slot-9", "title": "9 am"}},
        ),
    ],
)
def test_vonage_whatsapp_payloads(
    control: httpx.Client, receiver: Receiver, body: dict[str, Any], content: dict[str, Any]
) -> None:
    payload = vonage_inbound(
        control, receiver, {"channel": "whatsapp", "profile_name": "Ann", **body}
    )

    assert payload.pop("_self")["href"].startswith("https://api.nexmo.com/v1/messages/")
    assert payload == {**WHATSAPP_COMMON, "profile": {"name": "Ann"}, **content}


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "sms", "image": {"url": "https://e.x/a.jpg"}},
        {"channel": "whatsapp"},
        {"channel": "whatsapp", "text": "hi", "reply": {"id": "a", "title": "b"}},
        {"channel": "rcs", "text": "hi"},
        {"channel": "whatsapp", "image": {"url": "not a url"}},
        {"channel": "mms", "text": "hi"},
        {"channel": "mms", "attachments": []},
        {"channel": "mms", "attachments": [{"url": "https://e.x/s.webp", "kind": "sticker"}]},
        {"channel": "whatsapp", "attachments": [{"url": "https://e.x/a.png", "kind": "image"}]},
        {"channel": "mms", "attachments": [{"url": "https://e.x/a.png", "kind": "image"}] * 11},
    ],
)
def test_vonage_inbound_shapes_are_checked(control: httpx.Client, body: dict[str, Any]) -> None:
    assert control.post("/vonage/inbound", json={**VONAGE, **body}).status_code == 400


def test_vonage_inbound_reports_the_webhook_status(
    control: httpx.Client, receiver: Receiver
) -> None:
    receiver.fail_next(1)

    answer = control.post("/vonage/inbound", json={**VONAGE, "channel": "sms", "text": "hi"})

    assert answer.json()["status_code"] == 500
    [stored] = control.get("/messages", params={"provider": "vonage"}).json()
    assert (stored["message_direction"], stored["message_state"]) == ("inbound", "undelivered")


def test_vonage_inbound_needs_an_inbound_url(simulator_config: SimulatorConfig) -> None:
    simulator_config.vonage_inbound_url = None
    with LiveServer(create_simulator_app(simulator_config)) as server:
        answer = httpx.post(
            f"{server.url}/control/vonage/inbound", json={**VONAGE, "channel": "sms", "text": "x"}
        )

    assert answer.status_code == 400
    assert "vonage_inbound_url" in answer.json()["error"]


def test_vonage_mms_lists_every_attachment_in_content(
    control: httpx.Client, receiver: Receiver
) -> None:
    attachments = [
        {"url": "https://e.x/a.png", "kind": "image", "caption": "look"},
        {"url": "https://e.x/b.mp4", "kind": "video"},
    ]
    payload = vonage_inbound(control, receiver, {"channel": "mms", "attachments": attachments})

    assert payload["channel"] == "mms"
    assert payload["message_type"] == "image"
    assert payload["image"] == {"url": "https://e.x/a.png", "caption": "look"}
    assert payload["content"] == [
        {"type": "image", "url": "https://e.x/a.png", "caption": "look"},
        {"type": "video", "url": "https://e.x/b.mp4"},
    ]
    assert "whatsapp" not in payload
