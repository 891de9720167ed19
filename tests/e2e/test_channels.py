"""Both providers on every channel, end to end over HTTP with the in-process simulator:
send, statuses, replies; the WhatsApp window; templates; media; refusals before sending."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

WHATSAPP = {"plivo": "+14155550101", "vonage": "+14155550103"}
SMS = {"plivo": "+14155550100", "vonage": "+14155550102"}


def _inbound_whatsapp(textbridge: Textbridge, provider: str, text: str) -> None:
    to = WHATSAPP[provider]
    if provider == "plivo":
        body: dict[str, Any] = {"from": CONTACT, "to": to, "text": text, "type": "whatsapp"}
    else:
        body = {
            "channel": "whatsapp",
            "from": CONTACT,
            "to": to,
            "text": text,
            "profile_name": "Ann",
        }
    response = textbridge.simulator.post(f"/control/{provider}/inbound", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 200, response.text


def _conversation(textbridge: Textbridge, channel: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        return next((c for c in listed if c["channel"] == channel), None)

    return wait_until(find, timeout=10)


def _send(textbridge: Textbridge, **body: Any) -> Any:
    return textbridge.api.post("/api/v1/messages", json={"to": CONTACT, **body})


def _sync_templates(textbridge: Textbridge) -> None:
    response = textbridge.api.post("/api/v1/templates/sync")
    assert response.status_code == 200, response.text
    assert response.json()["synced"] >= 2


@pytest.mark.parametrize("provider", ["plivo", "vonage"])
def test_whatsapp_window_walk(textbridge: Textbridge, provider: str) -> None:
    _inbound_whatsapp(textbridge, provider, "Hi, is my order on its way?")
    conversation = _conversation(textbridge, "whatsapp")
    assert conversation["provider"] == provider
    assert conversation["window_expires_at"] is not None

    inside = _send(textbridge, channel="whatsapp", provider=provider, text="Yes, tomorrow!")
    assert inside.status_code == 202, inside.text
    message = textbridge.wait_for_status(inside.json()["id"], "read")
    assert message["channel"] == "whatsapp"

    textbridge.age_conversation(conversation["id"], hours=25)
    textbridge.simulator.put("/control/clock", json={"offset_seconds": 25 * 3600})
    outside = _send(textbridge, channel="whatsapp", provider=provider, text="Still there?")
    assert outside.status_code == 422
    error = outside.json()["error"]
    assert error["code"] == "outside_whatsapp_window"
    assert error["window_closed_at"]
    assert "approved template" in error["message"]

    _sync_templates(textbridge)
    template = {"name": "order_update", "language": "en_US", "parameters": ["A-1042"]}
    accepted = _send(textbridge, channel="whatsapp", provider=provider, template=template)
    assert accepted.status_code == 202, accepted.text
    # The simulator reports `read` right after `delivered` on WhatsApp.
    delivered = textbridge.wait_for_status(accepted.json()["id"], "delivered", "read")
    assert delivered["content_type"] == "template"
    assert delivered["template"]["name"] == "order_update"


def test_never_opened_window_needs_a_template(textbridge: Textbridge) -> None:
    response = _send(textbridge, channel="whatsapp", text="Hello out of the blue")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "outside_whatsapp_window"
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ([], "template.parameters.1"),
        (["A-1", "extra"], "template.parameters.2"),
        ({"customer": "Ann"}, "template.parameters.customer"),
    ],
)
def test_template_parameters_are_checked_first(
    textbridge: Textbridge, parameters: Any, field: str
) -> None:
    _sync_templates(textbridge)
    template = {"name": "order_update", "language": "en_US", "parameters": parameters}
    response = _send(textbridge, channel="whatsapp", template=template)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def test_only_approved_templates_can_be_sent(textbridge: Textbridge) -> None:
    _sync_templates(textbridge)
    template = {"name": "summer_sale", "language": "en_US"}
    response = _send(textbridge, channel="whatsapp", template=template)
    assert response.status_code == 422
    assert "APPROVED" in response.json()["error"]["message"]


def test_vonage_sms_and_reply(textbridge: Textbridge) -> None:
    response = _send(textbridge, channel="sms", provider="vonage", text="From Vonage")
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["from"] == SMS["vonage"]
    message = textbridge.wait_for_status(sent["id"], "delivered")
    assert [e["provider_status"] for e in message["history"] if e["source"] == "vonage"] == [
        "submitted",
        "delivered",
    ]
    reply = textbridge.simulator.post(
        "/control/vonage/inbound",
        json={"channel": "sms", "from": CONTACT, "to": SMS["vonage"], "text": "Got it"},
    )
    assert reply.json()["status_code"] == 200

    def thread() -> list[str]:
        messages = textbridge.api.get(
            f"/api/v1/conversations/{sent['conversation_id']}/messages"
        ).json()
        return [m["text"] for m in messages]

    assert wait_until(lambda: len(thread()) == 2 and thread()) == ["From Vonage", "Got it"]


def test_mms_with_two_images_is_delivered(textbridge: Textbridge) -> None:
    media = [{"url": "https://cdn.example.com/a.jpg"}, {"url": "https://cdn.example.com/b.png"}]
    response = _send(textbridge, channel="mms", text="Two photos", media=media)
    assert response.status_code == 202, response.text
    sent = response.json()
    assert [(m["url"], m["kind"]) for m in sent["media"]] == [
        ("https://cdn.example.com/a.jpg", "image"),
        ("https://cdn.example.com/b.png", "image"),
    ]
    assert sent["from"] == SMS["plivo"]
    textbridge.wait_for_status(sent["id"], "delivered")


def test_inbound_mms_media_is_stored_as_attachments(textbridge: Textbridge) -> None:
    media = [
        {"url": "https://media.example.com/cat.jpg", "mime_type": "image/jpeg"},
        {"url": "https://media.example.com/clip.mp4", "mime_type": "video/mp4"},
    ]
    textbridge.simulator.post(
        "/control/plivo/inbound",
        json={"from": CONTACT, "to": SMS["plivo"], "type": "mms", "text": "look", "media": media},
    )
    conversation = _conversation(textbridge, "sms")
    messages = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert messages[0]["channel"] == "mms"
    assert [(m["url"], m["kind"], m["mime_type"]) for m in messages[0]["media"]] == [
        ("https://media.example.com/cat.jpg", "image", "image/jpeg"),
        ("https://media.example.com/clip.mp4", "video", "video/mp4"),
    ]
    assert textbridge.database.scalar("SELECT count(*) FROM attachments") == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "channel": "whatsapp",
                "provider": "vonage",
                "media": [{"url": "https://e.x/a.jpg"}, {"url": "https://e.x/b.jpg"}],
            },
            "media",
        ),
        ({"channel": "sms", "media": {"url": "https://e.x/a.jpg"}}, "media"),
        ({"channel": "mms", "text": "no media"}, "media"),
        ({"channel": "sms", "text": "hi", "template": {"name": "order_update"}}, "template"),
        ({"channel": "sms", "text": "hi", "provider": "twilio"}, "provider"),
        ({"channel": "whatsapp", "from": "+14155550100", "text": "hi"}, "from"),
    ],
)
def test_what_cannot_be_carried_is_refused_before_anything_is_stored(
    textbridge: Textbridge, body: dict[str, Any], field: str
) -> None:
    _inbound_whatsapp(textbridge, "vonage", "open the window")
    _conversation(textbridge, "whatsapp")
    response = _send(textbridge, **body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    outbound = "SELECT count(*) FROM messages WHERE direction = 'outbound'"
    assert textbridge.database.scalar(outbound) == 0


def test_whatsapp_button_reply_is_kept(textbridge: Textbridge) -> None:
    textbridge.simulator.post(
        "/control/vonage/inbound",
        json={
            "channel": "whatsapp",
            "from": CONTACT,
            "to": WHATSAPP["vonage"],
            "button": {"payload": "CONFIRM", "text": "Yes, confirm"},
        },
    )
    conversation = _conversation(textbridge, "whatsapp")
    [message] = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert (message["content_type"], message["reply_id"]) == ("button", "CONFIRM")
    assert message["text"] == "Yes, confirm"


def test_a_vonage_whatsapp_sticker_goes_through_the_simulator(textbridge: Textbridge) -> None:
    _inbound_whatsapp(textbridge, "vonage", "Send me a sticker")
    _conversation(textbridge, "whatsapp")  # the window is open once the inbound is applied
    sticker = {"url": "https://example.com/wave.webp", "mime_type": "image/webp"}

    sent = _send(textbridge, channel="whatsapp", provider="vonage", media=sticker)

    assert sent.status_code == 202, sent.text
    delivered = textbridge.wait_for_status(sent.json()["id"], "delivered", timeout=30)
    assert delivered["media"][0]["kind"] == "sticker"
