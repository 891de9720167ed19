"""Plivo MMS and WhatsApp on the fake Message API: shapes (400s like Plivo) and statuses."""

from __future__ import annotations

from typing import Any

import httpx
import plivo
import pytest
from plivo.utils.template import Template

from .harness import Receiver, assert_signed

OURS, THEIRS = "14155550100", "14155550199"
WHATSAPP = {"src": OURS, "dst": THEIRS, "type": "whatsapp"}
MMS = {"src": OURS, "dst": THEIRS, "type": "mms"}
IMAGE = "https://example.com/a.png"
BUTTONS = {
    "type": "button",
    "body": {"text": "Pick one"},
    "action": {"buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}]},
}
LIST = {
    "type": "list",
    "body": {"text": "Pick a slot"},
    "action": {"sections": [{"title": "Today", "rows": [{"id": "9", "title": "9 am"}]}]},
}
CTA = {
    "type": "cta_url",
    "body": {"text": "See it"},
    "action": {"buttons": [{"title": "Open", "cta_url": "https://example.com"}]},
}
TEMPLATE = {
    "name": "order_update",
    "language": "en_US",
    "components": [
        {"type": "header", "parameters": [{"type": "media", "media": IMAGE}]},
        {"type": "body", "parameters": [{"type": "text", "text": "A-1"}]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": "YES"}],
        },
    ],
}
LOCATION = {"latitude": "37.7749", "longitude": "-122.4194", "name": "HQ", "address": "SF"}


def send(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post("/Message/", json=body)


@pytest.mark.parametrize(
    "content",
    [
        {"text": "hello"},
        {"media_urls": [IMAGE], "text": "a caption"},
        {"media_urls": [IMAGE]},
        {"template": TEMPLATE},
        {"template": {"name": "order_update", "language": "en_US"}},
        {"interactive": BUTTONS},
        {"interactive": LIST},
        {"interactive": CTA},
        {"location": LOCATION},
        {"location": {"latitude": 1.5, "longitude": 2}},
    ],
)
def test_whatsapp_shapes_are_accepted(api: httpx.Client, content: dict[str, Any]) -> None:
    response = send(api, {**WHATSAPP, **content})

    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ({}, "needs text"),
        ({"media_urls": [IMAGE, IMAGE]}, "single media URL"),
        ({"media_urls": ["not-a-url"]}, "media_urls"),
        ({"template": TEMPLATE, "interactive": BUTTONS}, "only one of"),
        ({"template": TEMPLATE, "media_urls": [IMAGE]}, "cannot be combined"),
        ({"template": "order_update"}, "template parameter must be an object"),
        ({"template": {"language": "en_US"}}, "template.name"),
        ({"template": {"name": "order_update"}}, "template.language"),
        (
            {"template": {**TEMPLATE, "components": [{"type": "sidebar"}]}},
            "template.components[0].type",
        ),
        (
            {"template": {**TEMPLATE, "components": [{"type": "button", "index": "0"}]}},
            "sub_type",
        ),
        (
            {"template": {**TEMPLATE, "components": [{"type": "body", "parameters": [{}]}]}},
            "parameters[0].type",
        ),
        ({"interactive": {**BUTTONS, "type": "carousel"}}, "interactive.type"),
        ({"interactive": {**BUTTONS, "body": {}}}, "interactive.body.text"),
        (
            {
                "interactive": {
                    **BUTTONS,
                    "action": {"buttons": [{"id": str(i), "title": "t"} for i in range(4)]},
                }
            },
            "1 to 3",
        ),
        ({"interactive": {**LIST, "action": {"sections": []}}}, "rows"),
        ({"interactive": {**CTA, "action": {"buttons": [{"title": "Open"}]}}}, "cta_url"),
        ({"location": {"latitude": "north", "longitude": "1"}}, "location.latitude"),
        ({"location": {"latitude": "91", "longitude": "1"}}, "out of range"),
        ({"text": "a" * 4097}, "too long"),
    ],
)
def test_bad_whatsapp_shapes_are_400(
    api: httpx.Client, content: dict[str, Any], fragment: str
) -> None:
    response = send(api, {**WHATSAPP, **content})

    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**MMS, "media_urls": [IMAGE] * 11}, "at most 10"),
        ({**MMS}, "needs text or media_urls"),
        ({"src": OURS, "dst": THEIRS, "text": "hi", "media_urls": [IMAGE]}, "only allowed for mms"),
        ({"src": OURS, "dst": THEIRS, "text": "hi", "template": TEMPLATE}, "type is whatsapp"),
        ({**MMS, "text": "hi", "location": LOCATION}, "type is whatsapp"),
    ],
)
def test_bad_mms_and_misplaced_whatsapp_fields_are_400(
    api: httpx.Client, body: dict[str, Any], fragment: str
) -> None:
    response = send(api, body)

    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def test_mms_takes_ten_media_and_is_called_back_queued_sent_delivered(
    api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    url = f"{receiver.url}/status"
    media = [f"https://example.com/{n}.png" for n in range(10)]

    response = send(api, {**MMS, "media_urls": media, "url": url})

    assert response.status_code == 202
    callbacks = receiver.wait_for(3, "/status")
    assert [c.params["Status"] for c in callbacks] == ["queued", "sent", "delivered"]
    assert {c.params["Type"] for c in callbacks} == {"mms"}
    assert_signed(callbacks[-1], "POST", url)
    [stored] = control.get("/messages").json()
    assert stored["media_urls"] == media
    assert (stored["units"], stored["total_rate"]) == (1, "0.02000")


def test_sdk_sends_a_whatsapp_template(
    plivo_client: plivo.RestClient, control: httpx.Client, receiver: Receiver
) -> None:
    template = Template(name="order_update", language="en_US", components=TEMPLATE["components"])
    url = f"{receiver.url}/status"

    [message_uuid] = plivo_client.messages.create(
        src=OURS, dst=THEIRS, type_="whatsapp", template=template, url=url
    ).message_uuid

    callbacks = receiver.wait_for(4, "/status")
    assert [c.params["Status"] for c in callbacks] == ["queued", "sent", "delivered", "read"]
    assert plivo_client.messages.get(message_uuid).message_state == "read"
    [stored] = control.get("/messages").json()
    assert stored["content_type"] == "template"
