"""Inbound Vonage WhatsApp files, voice notes and shared locations, end to end: injected through
the simulator, received over HTTP, stored, and read back through the API."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from textbridge.providers import testing
from textbridge.providers.vonage import sign_webhook

from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

OURS = "+14155550103"  # the Vonage WhatsApp sender
FILE_URL = "https://api-us.nexmo.com/v3/media/0b1c2d3e-file"
AUDIO_URL = "https://api-us.nexmo.com/v3/media/4f5a6b7c-audio"
PLACE = {"lat": 51.5007, "long": -0.1246, "name": "Big Ben", "address": "London SW1A 0AA"}


def _inject(textbridge: Textbridge, content: dict[str, Any]) -> None:
    body = {"channel": "whatsapp", "from": CONTACT, "to": OURS, "profile_name": "Ann", **content}
    response = textbridge.simulator.post("/control/vonage/inbound", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 200, response.text


def _messages(textbridge: Textbridge, count: int) -> list[dict[str, Any]]:
    """The WhatsApp conversation's messages, oldest first, once ``count`` have arrived."""

    def find() -> list[dict[str, Any]] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        conversation = next((c for c in listed if c["channel"] == "whatsapp"), None)
        if conversation is None:
            return None
        path = f"/api/v1/conversations/{conversation['id']}/messages"
        messages: list[dict[str, Any]] = textbridge.api.get(path).json()
        return messages if len(messages) >= count else None

    return wait_until(find, timeout=10)


def test_inbound_file_audio_and_location_arrive_as_messages(textbridge: Textbridge) -> None:
    _inject(textbridge, {"media": {"url": FILE_URL, "kind": "file", "name": "invoice.pdf"}})
    _messages(textbridge, 1)
    _inject(textbridge, {"media": {"url": AUDIO_URL, "kind": "audio", "name": "note.ogg"}})
    _messages(textbridge, 2)
    _inject(textbridge, {"location": PLACE})
    file, audio, place = _messages(textbridge, 3)

    for message in (file, audio, place):
        assert (message["direction"], message["channel"]) == ("inbound", "whatsapp")
        assert message["provider"] == "vonage"
    assert file["content_type"] == "media"
    assert [(m["kind"], m["url"], m["filename"]) for m in file["media"]] == [
        ("file", FILE_URL, "invoice.pdf")
    ]
    assert file["location"] is None
    assert audio["content_type"] == "media"
    assert [(m["kind"], m["url"], m["filename"]) for m in audio["media"]] == [
        ("audio", AUDIO_URL, "note.ogg")
    ]
    assert (place["content_type"], place["media"]) == ("location", [])
    assert place["location"] == {
        "latitude": 51.5007,
        "longitude": -0.1246,
        "name": "Big Ben",
        "address": "London SW1A 0AA",
    }
    assert place["text"] == "Big Ben, London SW1A 0AA"
    assert textbridge.database.scalar("SELECT count(*) FROM attachments") == 2


def test_plivo_whatsapp_location_arrives(textbridge: Textbridge) -> None:
    body = {"from": CONTACT, "to": "+14155550101", "type": "whatsapp", "location": PLACE}
    response = textbridge.simulator.post("/control/plivo/inbound", json=body)
    assert response.json()["status_code"] == 200, response.text
    [message] = _messages(textbridge, 1)
    assert message["content_type"] == "location"
    assert message["location"] == {
        "latitude": 51.5007,
        "longitude": -0.1246,
        "name": "Big Ben",
        "address": "London SW1A 0AA",
    }


def test_a_vonage_mms_with_several_attachments_keeps_them_all(textbridge: Textbridge) -> None:
    sandbox = textbridge.runtime.sandbox
    assert sandbox is not None
    fixture = Path(testing.__file__).parent / "vonage/fixtures/inbound_mms_several.json"
    body = fixture.read_text().replace("{message_uuid}", str(uuid.uuid4())).encode()
    body = body.replace(b'"14155550100"', b'"14155550102"')  # the sandbox's Vonage SMS number
    headers = {
        **sign_webhook(sandbox.vonage_signature_secret, body),
        "content-type": "application/json",
    }

    answer = httpx.post(f"{textbridge.url}/webhooks/vonage/inbound", content=body, headers=headers)

    assert answer.status_code == 200, answer.text

    def stored() -> list[dict[str, Any]] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        if not listed:
            return None
        path = f"/api/v1/conversations/{listed[0]['id']}/messages"
        messages: list[dict[str, Any]] = textbridge.api.get(path).json()
        return messages or None

    [message] = wait_until(stored, timeout=10)
    assert message["channel"] == "mms"
    assert [m["kind"] for m in message["media"]] == ["image", "image", "file"]
    assert textbridge.database.scalar("SELECT count(*) FROM attachments") == 3


def test_the_simulator_injects_a_vonage_mms_with_several_attachments(
    textbridge: Textbridge,
) -> None:
    attachments = [
        {"url": "https://api-us.nexmo.com/v3/media/one", "kind": "image", "caption": "Both"},
        {"url": "https://api-us.nexmo.com/v3/media/two", "kind": "video"},
    ]
    body = {"channel": "mms", "from": CONTACT, "to": "+14155550102", "attachments": attachments}

    response = textbridge.simulator.post("/control/vonage/inbound", json=body)

    assert response.json()["status_code"] == 200, response.text

    def stored() -> list[dict[str, Any]] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        if not listed:
            return None
        path = f"/api/v1/conversations/{listed[0]['id']}/messages"
        messages: list[dict[str, Any]] = textbridge.api.get(path).json()
        return messages or None

    [message] = wait_until(stored, timeout=10)
    assert (message["channel"], message["text"]) == ("mms", "Both")
    assert [(m["kind"], m["url"]) for m in message["media"]] == [
        ("image", "https://api-us.nexmo.com/v3/media/one"),
        ("video", "https://api-us.nexmo.com/v3/media/two"),
    ]
