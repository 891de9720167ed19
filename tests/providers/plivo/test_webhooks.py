"""Parsing Plivo's inbound and status webhooks: every fixture, and every field we read."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from textbridge.providers import shapes, testing
from textbridge.providers.base import (
    InboundMessage,
    Media,
    StatusUpdate,
    WebhookPayloadError,
    WebhookRequest,
)
from textbridge.providers.plivo import webhooks

FIXTURES = Path(testing.__file__).parent / "plivo" / "fixtures"
SPEC = testing.ProviderSpec("plivo", FIXTURES, lambda fixture, url: {}, secrets=())
UUID = "6f1c6a5e-1b7d-4c6e-9a51-3c2d1e0f9a87"
BASE = {"From": "14155550199", "To": "14155550100", "MessageUUID": UUID}


def fixture_event(name: str) -> InboundMessage | StatusUpdate:
    fixture = SPEC.fixture(name).with_id(UUID)
    request = WebhookRequest(
        fixture.method,
        "https://example.com/webhooks/plivo/inbound",
        {"content-type": fixture.content_type},
        fixture.params,
        fixture.payload.encode(),
    )
    events = webhooks.parse(fixture.kind, webhooks.fields_of(request))
    assert len(events) == 1
    return events[0]


def inbound(**fields: str) -> InboundMessage:
    event = webhooks.parse("inbound", list({**BASE, **fields}.items()))[0]
    assert isinstance(event, InboundMessage)
    return event


@pytest.mark.parametrize("fixture", SPEC.fixtures(), ids=lambda fixture: fixture.name)
def test_every_fixture_parses(fixture: testing.WebhookFixture) -> None:
    event = fixture_event(fixture.name)
    expected = InboundMessage if fixture.kind == "inbound" else StatusUpdate
    assert isinstance(event, expected)
    assert event.provider == "plivo"
    assert event.provider_message_id == UUID


def test_inbound_sms() -> None:
    event = fixture_event("inbound_sms")
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.content_type, event.media) == ("sms", "text", ())
    assert (event.from_address, event.to_address) == ("+14155550199", "+14155550100")
    assert event.text == "Is my order ready?"


def test_inbound_mms_with_two_media() -> None:
    event = fixture_event("inbound_mms")
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.content_type) == ("mms", "media")
    assert event.text == "Here is the damage, front and back"
    assert [(m.kind, m.mime_type) for m in event.media] == [
        ("image", "image/jpeg"),
        ("image", "image/png"),
    ]
    assert event.media[0].url.endswith(f"/Message/{UUID}/Media/front.jpg")
    assert event.raw["MediaCount"] == "2"


def test_inbound_whatsapp_text() -> None:
    event = fixture_event("inbound_whatsapp_text")
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.content_type) == ("whatsapp", "text")
    assert event.text == "Hi, is my order on its way?"
    assert event.media == ()
    assert event.reply_id is None


def test_inbound_whatsapp_image_with_caption() -> None:
    event = fixture_event("inbound_whatsapp_image")
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.content_type) == ("whatsapp", "media")
    assert event.text == "This arrived broken"  # the caption
    (media,) = event.media
    assert (media.kind, media.mime_type) == ("image", "image/jpeg")
    assert media.url.endswith(f"/WhatsApp/{UUID}/Media/0")


def test_inbound_whatsapp_button_reply() -> None:
    event = fixture_event("inbound_whatsapp_button")
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.content_type) == ("whatsapp", "button")
    assert event.reply_id == "RESCHEDULE_YES"
    assert event.text == "Yes, reschedule"  # Body is empty: the button's text stands in
    assert event.raw["Context.MessageUUID"] == "3f9b2a8e-4c1d-4e0a-9b7f-0a1b2c3d4e5f"


def test_status_whatsapp_read_keeps_conversation_fields() -> None:
    event = fixture_event("status_whatsapp_read")
    assert isinstance(event, StatusUpdate)
    assert (event.provider_status, event.error_code) == ("read", None)
    assert event.raw["ConversationID"] == "8f842dbba350821654c9dfed31f5635c"
    assert event.raw["ConversationOrigin"] == "service"
    assert event.raw["ConversationExpirationTimestamp"] == "1795694400"


def test_status_whatsapp_failed() -> None:
    event = fixture_event("status_whatsapp_failed")
    assert isinstance(event, StatusUpdate)
    assert (event.provider_status, event.error_code) == ("failed", "300")
    assert event.error_description


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("status_whatsapp_template_not_approved", "340", "not approved"),
        ("status_whatsapp_parameter_mismatch", "350", "parameters"),
    ],
)
def test_plivo_whatsapp_error_codes_are_plivos_own(name: str, code: str, words: str) -> None:
    event = fixture_event(name)
    assert isinstance(event, StatusUpdate)
    assert event.error_code == code
    assert words in (event.error_description or "")


@pytest.mark.parametrize("message_type", ["rcs", "voice", "whatsapp_business"])
def test_unknown_type_is_a_payload_error(message_type: str) -> None:
    with pytest.raises(WebhookPayloadError, match="unsupported message type"):
        inbound(Type=message_type, Text="hi")


def test_missing_type_is_sms() -> None:
    assert inbound(Text="hi").channel == "sms"
    assert inbound(Type="WhatsApp", Body="hi").channel == "whatsapp"


def test_sms_reads_text_then_body_and_others_body_then_text() -> None:
    assert inbound(Type="sms", Text="t", Body="b").text == "t"
    assert inbound(Type="mms", Text="t", Body="b", Media1="https://e.x/a.jpg").text == "b"
    assert inbound(Type="whatsapp", Text="t", Body="b").text == "b"


def test_media_fields_in_index_order_with_media0() -> None:
    event = inbound(
        Type="mms",
        Media2="https://e.x/2.gif",
        Media0="https://e.x/0.jpg",
        Media10="https://e.x/10.mp4",
        Media1="",
        MediaCount="3",
    )
    assert [m.url for m in event.media] == [
        "https://e.x/0.jpg",
        "https://e.x/2.gif",
        "https://e.x/10.mp4",
    ]
    assert [m.kind for m in event.media] == ["image", "image", "video"]


@pytest.mark.parametrize(
    ("mime_type", "kind"),
    [
        ("image/png", "image"),
        ("image/webp", "sticker"),
        ("audio/ogg", "audio"),
        ("video/mp4", "video"),
        ("application/pdf", "file"),
        ("", "file"),
    ],
)
def test_whatsapp_media_kind_from_mime_type(mime_type: str, kind: str) -> None:
    event = inbound(
        Type="whatsapp", ContentType="media", MimeType=mime_type, Media1="https://e.x/m/1"
    )
    assert event.media == (Media("https://e.x/m/1", kind, mime_type or None),)  # type: ignore[arg-type]


def test_mms_webp_is_an_image() -> None:
    event = inbound(Type="mms", Media1="https://e.x/a.webp")
    assert event.media[0].kind == "image"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [("text", "text"), ("media", "media"), ("button", "button"), ("unknown", "unsupported")],
)
def test_whatsapp_content_types(content_type: str, expected: str) -> None:
    assert inbound(Type="whatsapp", ContentType=content_type).content_type == expected


def test_unlisted_content_type_is_unsupported() -> None:
    assert inbound(Type="whatsapp", ContentType="reaction").content_type == "unsupported"


@pytest.mark.parametrize(
    "fields",
    [
        {"ButtonPayload": "P", "ButtonText": "T"},
        {"Button.Payload": "P", "Button.Text": "T"},
        {"Button[Payload]": "P", "Button[Text]": "T"},
    ],
    ids=["flat", "dotted", "bracketed"],
)
def test_button_reply_spellings(fields: dict[str, str]) -> None:
    event = inbound(Type="whatsapp", ContentType="button", Body="", **fields)
    assert (event.content_type, event.reply_id, event.text) == ("button", "P", "T")


def test_button_reply_without_content_type() -> None:
    event = inbound(Type="whatsapp", ButtonPayload="P", ButtonText="T")
    assert (event.content_type, event.reply_id) == ("button", "P")


def test_list_reply() -> None:
    event = inbound(Type="whatsapp", ContentType="button", ListId="mon-9", ListTitle="9:00")
    assert (event.content_type, event.reply_id, event.text) == ("reply", "mon-9", "9:00")


def test_profile_name_when_present() -> None:
    assert inbound(Type="whatsapp", Body="hi", ProfileName="Ann").profile_name == "Ann"
    assert inbound(Type="whatsapp", Body="hi").profile_name is None


def test_whatsapp_only_fields_are_kept_in_raw() -> None:
    event = inbound(
        Type="whatsapp",
        Body="hi",
        ContextMessageUUID="c-1",
        ConversationID="conv-1",
        ConversationOrigin="service",
        ConversationExpirationTimestamp="1795694400",
    )
    assert event.raw["ContextMessageUUID"] == "c-1"
    assert event.raw["ConversationID"] == "conv-1"


@pytest.mark.parametrize("missing", ["MessageUUID", "From", "To"])
def test_inbound_without_a_required_field(missing: str) -> None:
    params = [(k, v) for k, v in {**BASE, "Type": "whatsapp"}.items() if k != missing]
    with pytest.raises(WebhookPayloadError, match=missing):
        webhooks.parse("inbound", params)


def _request(content_type: str, body: bytes, params: list[tuple[str, str]]) -> WebhookRequest:
    headers = {"content-type": content_type}
    return WebhookRequest(
        "POST", "https://tb.example/webhooks/plivo/inbound", headers, params, body
    )


def test_json_body_is_flattened_to_dotted_fields() -> None:
    body = {
        **BASE,
        "Type": "whatsapp",
        "ContentType": "button",
        "Button": {"Text": "Yes", "Payload": "YES"},
        "Context": {"MessageUUID": "c-1"},
        "Units": 1,
    }
    request = _request("application/json", json.dumps(body).encode(), [])
    event = webhooks.parse("inbound", webhooks.fields_of(request))[0]
    assert isinstance(event, InboundMessage)
    assert (event.reply_id, event.text, event.segments) == ("YES", "Yes", 1)
    assert event.raw["Context.MessageUUID"] == "c-1"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
def test_unreadable_json_body_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        webhooks.fields_of(_request("application/json", body, []))


def test_form_body_fields_are_the_params() -> None:
    params = [*BASE.items(), ("Type", "sms"), ("Text", "hi")]
    request = _request("application/x-www-form-urlencoded", urlencode(params).encode(), params)
    assert webhooks.fields_of(request) == params


def test_an_unknown_whatsapp_content_type_is_kept_and_its_shape_noted_once() -> None:
    fields = {**BASE, "Type": "whatsapp", "ContentType": "reaction", "Emoji": "👍"}

    first = webhooks.parse("inbound", list(fields.items()))[0]
    webhooks.parse("inbound", list(fields.items()))

    assert isinstance(first, InboundMessage)
    assert first.content_type == "unsupported"
    assert first.raw["Emoji"] == "👍"
    assert shapes.unknown_shape_count("plivo", "whatsapp ContentType 'reaction'", fields) == 2
