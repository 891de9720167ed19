"""Parsing every fixture and every inbound type; dedup keys; refusing unreadable payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from textbridge.providers import shapes
from textbridge.providers.base import (
    InboundMessage,
    Location,
    Media,
    StatusUpdate,
    WebhookKind,
    WebhookPayloadError,
    journal_key,
)
from textbridge.providers.vonage import vocabulary, webhooks

FIXTURES = Path(webhooks.__file__).parent / "fixtures"
UUID = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
CONTACT = "+14155550199"
OURS = "+14155550100"


def fixture(name: str, message_uuid: str = UUID) -> bytes:
    return (FIXTURES / f"{name}.json").read_text().replace("{message_uuid}", message_uuid).encode()


def kind_of(name: str) -> WebhookKind:
    return "inbound" if name.startswith("inbound") else "status"


def parse_one(name: str) -> InboundMessage | StatusUpdate:
    (event,) = webhooks.parse(kind_of(name), fixture(name))
    return event


EXPECTED_FIXTURES = {
    "inbound_sms",
    "inbound_stop_keyword",
    "inbound_whatsapp_text",
    "inbound_whatsapp_image",
    "inbound_whatsapp_button",
    "inbound_whatsapp_reply",
    "inbound_whatsapp_location",
    "inbound_mms_several",
    "status_submitted",
    "status_delivered",
    "status_read",
    "status_rejected",
    "status_undeliverable",
}


def test_fixture_files() -> None:
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert names == EXPECTED_FIXTURES
    for name in names:
        raw = (FIXTURES / f"{name}.json").read_text()
        assert raw.count('"{message_uuid}"') == 1, name
        json.loads(raw)


INBOUND: dict[str, dict[str, Any]] = {
    "inbound_stop_keyword": {"channel": "sms", "text": "STOP", "keyword": "STOP", "intent": None},
    "inbound_sms": {
        "channel": "sms",
        "text": "Is my order ready?",
        "content_type": "text",
        "segments": 1,
        "profile_name": None,
    },
    "inbound_whatsapp_text": {
        "channel": "whatsapp",
        "text": "Hi! Can I change my delivery address?",
        "content_type": "text",
        "profile_name": "Ann Example",
        "segments": None,
    },
    "inbound_whatsapp_image": {
        "channel": "whatsapp",
        "text": "The parcel arrived damaged",
        "content_type": "media",
        "media": (
            Media(
                url="https://api-us.nexmo.com/v3/media/aa7b9a2c-4f39-4a5e-9d4e-2b1a6f0c8e11",
                kind="image",
                caption="The parcel arrived damaged",
            ),
        ),
    },
    # Vonage's MMS page: the main attachment is of the message type, further ones of any type.
    "inbound_mms_several": {
        "channel": "mms",
        "text": "Front and back",
        "content_type": "media",
        "media": (
            Media(
                url="https://api-us.nexmo.com/v3/media/1b2c3d4e-0000-4a5e-9d4e-000000000001",
                kind="image",
                caption="Front and back",
            ),
            Media(
                url="https://api-us.nexmo.com/v3/media/1b2c3d4e-0000-4a5e-9d4e-000000000002",
                kind="image",
            ),
            Media(
                url="https://api-us.nexmo.com/v3/media/1b2c3d4e-0000-4a5e-9d4e-000000000003",
                kind="file",
                mime_type="text/vcard",
            ),
        ),
    },
    "inbound_whatsapp_button": {
        "text": "Yes, confirm",
        "content_type": "button",
        "reply_id": "CONFIRM_APPOINTMENT",
    },
    "inbound_whatsapp_reply": {
        "text": "Tomorrow 9:00",
        "content_type": "reply",
        "reply_id": "slot-2026-11-27-0900",
    },
    "inbound_whatsapp_location": {
        "text": "City Hall, 1 Dr Carlton B Goodlett Pl, San Francisco, CA 94102",
        "content_type": "location",
        "location": Location(
            37.7793, -122.4193, "City Hall", "1 Dr Carlton B Goodlett Pl, San Francisco, CA 94102"
        ),
        "media": (),
        "reply_id": None,
    },
}


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_inbound_fixtures(name: str) -> None:
    event = parse_one(name)
    assert isinstance(event, InboundMessage)
    assert event.provider == "vonage"
    assert event.provider_message_id == UUID
    assert event.from_address == CONTACT
    assert event.to_address == OURS
    assert event.raw["message_uuid"] == UUID
    for field, value in INBOUND[name].items():
        assert getattr(event, field) == value, field


STATUS: dict[str, dict[str, Any]] = {
    "status_submitted": {"provider_status": "submitted", "ours": "submitted", "price": "0.0067"},
    "status_delivered": {"provider_status": "delivered", "ours": "delivered", "price": "0.0067"},
    "status_read": {"provider_status": "read", "ours": "read", "price": None},
    "status_rejected": {
        "provider_status": "rejected",
        "ours": "rejected",
        "error_code": "1020",
        "error_description": (
            "Invalid params: the template components do not match the approved template"
        ),
    },
    "status_undeliverable": {
        "provider_status": "undeliverable",
        "ours": "undelivered",
        "error_code": "1250",
        "price": "0.0067",
    },
}


@pytest.mark.parametrize("name", sorted(STATUS))
def test_status_fixtures(name: str) -> None:
    event = parse_one(name)
    assert isinstance(event, StatusUpdate)
    assert event.provider == "vonage"
    assert event.provider_message_id == UUID
    assert event.occurred_at is not None
    assert event.occurred_at.tzinfo is not None
    expected = dict(STATUS[name])
    assert vocabulary.STATUS_MAP[event.provider_status] == expected.pop("ours")
    if "error_code" not in expected:
        assert event.error_code is None
        assert event.error_description is None
    for field, value in expected.items():
        assert getattr(event, field) == value, field


def test_status_time() -> None:
    event = parse_one("status_delivered")
    assert event.occurred_at == datetime(2026, 11, 26, 10, 0, 4, tzinfo=UTC)  # type: ignore[union-attr]


# --- dedup -----------------------------------------------------------------------------------


def test_dedup_keys() -> None:
    inbound = webhooks.parse("inbound", fixture("inbound_sms"))
    assert journal_key("vonage", inbound) == f"vonage:inbound:{UUID}"
    status = webhooks.parse("status", fixture("status_rejected"))
    assert journal_key("vonage", status) == f"vonage:status:vonage:{UUID}:rejected:1020"


def test_same_status_with_a_new_timestamp_dedups() -> None:
    payload = json.loads(fixture("status_delivered"))
    again = {**payload, "timestamp": "2026-11-26T10:00:09.123Z"}
    first = webhooks.parse("status", json.dumps(payload).encode())
    second = webhooks.parse("status", json.dumps(again).encode())
    assert first[0].occurred_at != second[0].occurred_at  # type: ignore[union-attr]
    assert journal_key("vonage", first) == journal_key("vonage", second)


def test_different_statuses_do_not_dedup() -> None:
    keys = {journal_key("vonage", webhooks.parse("status", fixture(name))) for name in STATUS}
    assert len(keys) == len(STATUS)


# --- inbound types without a fixture ---------------------------------------------------------


def whatsapp(message_type: str, **content: Any) -> bytes:
    payload = {
        "channel": "whatsapp",
        "message_uuid": UUID,
        "to": "14155550100",
        "from": "14155550199",
        "timestamp": "2026-11-26T10:00:00Z",
        "profile": {"name": "Ann"},
        "context_status": "none",
        "message_type": message_type,
        **content,
    }
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("message_type", "content", "media"),
    [
        ("audio", {"audio": {"url": "https://m/a"}}, Media("https://m/a", kind="audio")),
        (
            "video",
            {"video": {"url": "https://m/v", "caption": "look"}},
            Media("https://m/v", kind="video", caption="look"),
        ),
        (
            "file",
            {"file": {"url": "https://m/f", "name": "menu.pdf", "caption": "menu"}},
            Media("https://m/f", kind="file", caption="menu", filename="menu.pdf"),
        ),
        ("sticker", {"sticker": {"url": "https://m/s"}}, Media("https://m/s", kind="sticker")),
    ],
)
def test_inbound_media(message_type: str, content: dict[str, Any], media: Media) -> None:
    (event,) = webhooks.parse("inbound", whatsapp(message_type, **content))
    assert isinstance(event, InboundMessage)
    assert event.content_type == "media"
    assert event.media == (media,)
    assert event.text == (media.caption or "")
    assert event.profile_name == "Ann"


@pytest.mark.parametrize(
    ("message_type", "content"),
    [
        ("unsupported", {}),
        ("reaction", {"reaction": {"action": "react", "emoji": "👍"}}),
        ("order", {"order": {"catalog_id": "1", "product_items": []}}),
        ("contact", {"contact": {"name": {"first_name": "Bo"}}}),
    ],
)
def test_inbound_unsupported(message_type: str, content: dict[str, Any]) -> None:
    (event,) = webhooks.parse("inbound", whatsapp(message_type, **content))
    assert isinstance(event, InboundMessage)
    assert event.content_type == "unsupported"
    assert event.text == ""
    assert event.raw["message_type"] == message_type


def test_inbound_mms_image_and_vcard() -> None:
    base = {"channel": "mms", "message_uuid": UUID, "to": "14155550100", "from": "14155550199"}
    image = {**base, "message_type": "image", "image": {"url": "https://m/i.jpg"}}
    vcard = {**base, "message_type": "vcard", "vcard": {"url": "https://m/c.vcf"}}
    (event,) = webhooks.parse("inbound", json.dumps(image).encode())
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.media) == ("mms", (Media("https://m/i.jpg"),))
    (card,) = webhooks.parse("inbound", json.dumps(vcard).encode())
    assert isinstance(card, InboundMessage)
    assert card.media == (Media("https://m/c.vcf", kind="file", mime_type="text/vcard"),)


def test_button_without_payload_falls_back_to_its_text() -> None:
    (event,) = webhooks.parse("inbound", whatsapp("button", button={"text": "Stop promotions"}))
    assert isinstance(event, InboundMessage)
    assert event.reply_id == "Stop promotions"


def test_status_with_numeric_error_title_and_no_extras() -> None:
    body = json.dumps(
        {
            "message_uuid": UUID,
            "status": "REJECTED",
            "error": {
                "type": "https://developer.vonage.com/api-errors/messages#1020",
                "title": 1020,
            },
        }
    ).encode()
    (event,) = webhooks.parse("status", body)
    assert isinstance(event, StatusUpdate)
    assert (event.provider_status, event.error_code, event.error_description) == (
        "rejected",
        "1020",
        None,
    )
    assert event.occurred_at is None
    assert event.price is None


def test_unknown_status_is_kept_for_status_for_to_judge() -> None:
    body = json.dumps({"message_uuid": UUID, "status": "deleted"}).encode()
    (event,) = webhooks.parse("status", body)
    assert isinstance(event, StatusUpdate)
    assert event.provider_status == "deleted"
    assert vocabulary.STATUS_MAP.get("deleted") is None


# --- refusals --------------------------------------------------------------------------------


def without(name: str, *path: str) -> bytes:
    payload = json.loads(fixture(name))
    target = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("kind", "body", "words"),
    [
        ("inbound", b"", "not valid JSON"),
        ("inbound", b"{not json", "not valid JSON"),
        ("status", b"\xff\xfe", "not valid JSON"),
        ("inbound", b"[]", "not a JSON object"),
        ("status", b'"delivered"', "not a JSON object"),
        ("inbound", without("inbound_sms", "message_uuid"), "message_uuid"),
        ("inbound", without("inbound_sms", "from"), "from"),
        ("inbound", without("inbound_sms", "to"), "to"),
        ("inbound", without("inbound_sms", "channel"), "channel"),
        ("inbound", without("inbound_sms", "message_type"), "message_type"),
        ("inbound", without("inbound_sms", "text"), "text"),
        ("inbound", without("inbound_whatsapp_image", "image", "url"), "url"),
        ("inbound", without("inbound_whatsapp_image", "image"), "image"),
        ("inbound", without("inbound_whatsapp_reply", "reply", "id"), "id"),
        ("inbound", without("inbound_whatsapp_location", "location", "lat"), "lat"),
        ("inbound", without("inbound_whatsapp_button", "button"), "button"),
        ("status", without("status_delivered", "message_uuid"), "message_uuid"),
        ("status", without("status_delivered", "status"), "status"),
    ],
)
def test_unreadable_payloads(kind: WebhookKind, body: bytes, words: str) -> None:
    with pytest.raises(WebhookPayloadError, match=words):
        webhooks.parse(kind, body)


def test_unknown_channel_is_refused() -> None:
    body = json.loads(whatsapp("text", text="hi"))
    body["channel"] = "viber_service"
    with pytest.raises(WebhookPayloadError, match="viber_service"):
        webhooks.parse("inbound", json.dumps(body).encode())


def test_blank_uuid_is_refused() -> None:
    with pytest.raises(WebhookPayloadError, match="message_uuid"):
        webhooks.parse("status", fixture("status_delivered", message_uuid="  "))


def _with(body: dict[str, Any]) -> bytes:
    base = {"channel": "mms", "message_uuid": UUID, "to": "14155550100", "from": "14155550199"}
    return json.dumps({**base, **body}).encode()


def test_a_content_only_mms_keeps_every_attachment() -> None:
    items = [
        {"type": "image", "url": "https://api-us.nexmo.com/v3/media/a", "caption": "both"},
        {"type": "video", "url": "https://api-us.nexmo.com/v3/media/b"},
    ]
    (event,) = webhooks.parse("inbound", _with({"message_type": "content", "content": items}))

    assert isinstance(event, InboundMessage)
    assert [(m.kind, m.url) for m in event.media] == [
        ("image", "https://api-us.nexmo.com/v3/media/a"),
        ("video", "https://api-us.nexmo.com/v3/media/b"),
    ]
    assert event.text == "both"


def test_an_odd_content_item_is_skipped_and_its_shape_counted() -> None:
    odd = {"kind": "image", "href": "https://e.x/a", "odd_marker_vonage": 1}
    body = {
        "message_type": "image",
        "image": {"url": "https://api-us.nexmo.com/v3/media/a"},
        "content": [odd, odd],
    }
    (event,) = webhooks.parse("inbound", _with(body))

    assert isinstance(event, InboundMessage)
    assert len(event.media) == 1
    assert event.raw["content"] == [odd, odd]  # kept whole
    assert shapes.unknown_shape_count("vonage", "inbound content item", odd) == 2
