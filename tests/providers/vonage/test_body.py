"""Our request bodies against what the official SDK (vonage-messages 1.8.x) emits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from vonage_messages import models as sdk

from textbridge.providers.base import Location, Media, OutboundMessage, Template
from textbridge.providers.vonage.body import request_body, vonage_number

from .support import CONTACT, OUR_NUMBER, STATUS_URL, message

TO = CONTACT.lstrip("+")
FROM = OUR_NUMBER.lstrip("+")
COMMON: dict[str, Any] = {
    "to": TO,
    "from_": FROM,
    "client_ref": "msg_01JD7X3K9Q",
    "webhook_url": STATUS_URL,
}

COMPONENTS = (
    {
        "type": "body",
        "parameters": [{"type": "text", "parameter_name": "customer_name", "text": "Joe"}],
    },
    {
        "type": "button",
        "sub_type": "quick_reply",
        "index": 0,
        "parameters": [{"type": "payload", "payload": "YES"}],
    },
)
INTERACTIVE = {
    "type": "button",
    "body": {"text": "Which slot suits you?"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "slot-1", "title": "Tomorrow 9:00"}},
            {"type": "reply", "reply": {"id": "slot-2", "title": "Friday 14:00"}},
        ]
    },
}


def sdk_body(model: BaseModel) -> dict[str, Any]:
    """Exactly what `vonage_messages.Messages.send` posts."""
    return model.model_dump(by_alias=True, exclude_none=True)


CASES: list[tuple[str, OutboundMessage, BaseModel]] = [
    (
        "sms_text",
        message("sms"),
        sdk.Sms(**COMMON, text="Your order has shipped."),
    ),
    (
        "whatsapp_text",
        message("whatsapp", text="Hello from WhatsApp"),
        sdk.WhatsappText(**COMMON, text="Hello from WhatsApp"),
    ),
    (
        "whatsapp_image",
        message("whatsapp", text="Your receipt", media=(Media("https://e.x/r.jpg"),)),
        sdk.WhatsappImage(
            **COMMON,
            image=sdk.WhatsappImageResource(url="https://e.x/r.jpg", caption="Your receipt"),
        ),
    ),
    (
        "whatsapp_image_media_caption",
        message("whatsapp", text=None, media=(Media("https://e.x/r.png", caption="Receipt"),)),
        sdk.WhatsappImage(
            **COMMON, image=sdk.WhatsappImageResource(url="https://e.x/r.png", caption="Receipt")
        ),
    ),
    (
        "whatsapp_image_no_caption",
        message("whatsapp", text=None, media=(Media("https://e.x/r.png"),)),
        sdk.WhatsappImage(**COMMON, image=sdk.WhatsappImageResource(url="https://e.x/r.png")),
    ),
    (
        "whatsapp_audio",
        message("whatsapp", text=None, media=(Media("https://e.x/voice.mp3", kind="audio"),)),
        sdk.WhatsappAudio(**COMMON, audio=sdk.WhatsappAudioResource(url="https://e.x/voice.mp3")),
    ),
    (
        "whatsapp_video",
        message("whatsapp", text="Unboxing", media=(Media("https://e.x/v.mp4", kind="video"),)),
        sdk.WhatsappVideo(
            **COMMON, video=sdk.WhatsappVideoResource(url="https://e.x/v.mp4", caption="Unboxing")
        ),
    ),
    (
        "whatsapp_file",
        message(
            "whatsapp",
            text="Invoice for November",
            media=(Media("https://e.x/f/123", kind="file", filename="invoice-11.pdf"),),
        ),
        sdk.WhatsappFile(
            **COMMON,
            file=sdk.WhatsappFileResource(
                url="https://e.x/f/123", caption="Invoice for November", name="invoice-11.pdf"
            ),
        ),
    ),
    (
        "whatsapp_sticker",
        message("whatsapp", text=None, media=(Media("https://e.x/s.webp", kind="sticker"),)),
        sdk.WhatsappSticker(**COMMON, sticker=sdk.WhatsappStickerUrl(url="https://e.x/s.webp")),
    ),
    (
        "whatsapp_template",
        message("whatsapp", template=Template("appt", "en", COMPONENTS)),
        sdk.WhatsappCustom(
            **COMMON,
            custom={
                "type": "template",
                "template": {
                    "name": "appt",
                    "language": {"policy": "deterministic", "code": "en"},
                    "components": [dict(c) for c in COMPONENTS],
                },
            },
        ),
    ),
    (
        "whatsapp_template_no_components",
        message("whatsapp", text=None, template=Template("hello_world", "en_US")),
        sdk.WhatsappCustom(
            **COMMON,
            custom={
                "type": "template",
                "template": {
                    "name": "hello_world",
                    "language": {"policy": "deterministic", "code": "en_US"},
                },
            },
        ),
    ),
    (
        "whatsapp_interactive",
        message("whatsapp", interactive=INTERACTIVE),
        sdk.WhatsappCustom(**COMMON, custom={"type": "interactive", "interactive": INTERACTIVE}),
    ),
    (
        "whatsapp_location",
        message(
            "whatsapp",
            text=None,
            location=Location(37.7793, -122.4193, "City Hall", "1 Dr Carlton B Goodlett Pl"),
        ),
        sdk.WhatsappCustom(
            **COMMON,
            custom={
                "type": "location",
                "location": {
                    "latitude": 37.7793,
                    "longitude": -122.4193,
                    "name": "City Hall",
                    "address": "1 Dr Carlton B Goodlett Pl",
                },
            },
        ),
    ),
    (
        "whatsapp_location_bare",
        message("whatsapp", text=None, location=Location(51.5, -0.12)),
        sdk.WhatsappCustom(
            **COMMON,
            custom={"type": "location", "location": {"latitude": 51.5, "longitude": -0.12}},
        ),
    ),
    (
        "mms_image",
        message("mms", text="New arrivals", media=(Media("https://e.x/a.gif"),)),
        sdk.MmsImage(
            **COMMON, image=sdk.MmsResource(url="https://e.x/a.gif", caption="New arrivals")
        ),
    ),
    (
        "mms_image_no_caption",
        message("mms", text=None, media=(Media("https://e.x/a.jpg"),)),
        sdk.MmsImage(**COMMON, image=sdk.MmsResource(url="https://e.x/a.jpg")),
    ),
]


@pytest.mark.parametrize(("ours", "model"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_body_matches_sdk(ours: OutboundMessage, model: BaseModel) -> None:
    body = request_body(ours)
    assert body == sdk_body(model)
    # And on the wire, where the SDK's str-enums become plain strings.
    assert json.loads(json.dumps(body)) == json.loads(
        model.model_dump_json(by_alias=True, exclude_none=True)
    )


def test_alphanumeric_sender_passes_unchanged() -> None:
    body = request_body(message("sms", from_address="Acme"))
    assert body == sdk_body(sdk.Sms(**{**COMMON, "from_": "Acme"}, text="Your order has shipped."))


def test_no_webhook_url_when_none_given() -> None:
    body = request_body(message("sms", status_callback_url=""))
    assert "webhook_url" not in body
    assert body == sdk_body(
        sdk.Sms(to=TO, from_=FROM, client_ref="msg_01JD7X3K9Q", text="Your order has shipped.")
    )


def test_numbers_lose_only_the_plus() -> None:
    assert vonage_number("+447700900000") == "447700900000"
    assert vonage_number("447700900000") == "447700900000"
    assert vonage_number("US.13491208655302741918") == "US.13491208655302741918"


def test_audio_and_sticker_never_carry_a_caption() -> None:
    audio = request_body(
        message("whatsapp", media=(Media("https://e.x/voice.ogg", kind="audio", caption="x"),))
    )
    assert audio["audio"] == {"url": "https://e.x/voice.ogg"}
    sticker = request_body(
        message("whatsapp", media=(Media("https://e.x/s.webp", kind="sticker"),))
    )
    assert sticker["sticker"] == {"url": "https://e.x/s.webp"}
