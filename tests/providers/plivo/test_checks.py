"""Every rule of `PlivoProvider.check`: what Plivo cannot carry, named by request field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from textbridge.providers.base import Location, Media, OutboundMessage, Problem, Template
from textbridge.providers.plivo import PlivoProvider
from textbridge.providers.plivo import vocabulary as v
from textbridge.providers.plivo.checks import check

JPEG = Media("https://cdn.example/a.jpg", "image", "image/jpeg", size=100_000)
BUTTONS = {
    "type": "button",
    "body": {"text": "Reschedule?"},
    "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
}
LIST = {
    "type": "list",
    "body": {"text": "Pick a slot"},
    "action": {
        "button": "Slots",
        "sections": [{"title": "Mon", "rows": [{"id": "m", "title": "9"}]}],
    },
}
CTA = {
    "type": "cta_url",
    "body": {"text": "Track"},
    "action": {"name": "cta_url", "parameters": {"display_text": "Go", "url": "https://e.x"}},
}
HQ = Location(37.7749, -122.4194, "Acme HQ", "1 Market St")
TEMPLATE = Template("order_update", "en_US", ({"type": "body", "parameters": []},))


def message(channel: str, text: str | None = "hello", **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id="m-1",
        channel=channel,  # type: ignore[arg-type]
        from_address="+14155550100",
        to_address="+14155550199",
        text=text,
        status_callback_url="https://textbridge.example/webhooks/plivo/status",
        **fields,
    )


def fields(problems: list[Problem]) -> list[str]:
    assert all(problem.message for problem in problems)
    return [problem.field for problem in problems]


def media(count: int, **overrides: Any) -> tuple[Media, ...]:
    base = {"url": "https://cdn.example/a.jpg", "kind": "image", "mime_type": "image/jpeg"}
    return tuple(Media(**{**base, **overrides}) for _ in range(count))


VALID = {
    "sms": message("sms", "Your order is ready"),
    "sms-gsm-at-limit": message("sms", "a" * v.SMS_MAX_GSM_CHARACTERS),
    "sms-ucs2-at-limit": message("sms", "ж" * v.SMS_MAX_UCS2_CHARACTERS),
    "mms": message("mms", "Two photos", media=media(2, size=1_000_000)),
    "mms-ten-media-no-text": message("mms", None, media=media(v.MMS_MAX_MEDIA)),
    "mms-sizes-unknown": message(
        "mms", None, media=(Media("https://cdn.example/clip.mp4", "video"),)
    ),
    "whatsapp-text": message("whatsapp", "x" * v.WHATSAPP_MAX_TEXT),
    "whatsapp-image-caption": message("whatsapp", "Your parcel", media=(JPEG,)),
    "whatsapp-caption-on-media": message(
        "whatsapp", None, media=(Media(JPEG.url, "image", caption="Your parcel"),)
    ),
    "whatsapp-same-caption-twice": message(
        "whatsapp", "Same", media=(Media(JPEG.url, "image", caption="Same"),)
    ),
    "whatsapp-audio": message(
        "whatsapp", None, media=(Media("https://e.x/v.ogg", "audio", "audio/ogg", size=16 * v.MB),)
    ),
    "whatsapp-document": message(
        "whatsapp", "Invoice", media=(Media("https://e.x/i.pdf", "file", "application/pdf"),)
    ),
    "whatsapp-sticker": message(
        "whatsapp", None, media=(Media("https://e.x/s.webp", "sticker", "image/webp"),)
    ),
    "whatsapp-template": message("whatsapp", None, template=TEMPLATE),
    "whatsapp-template-with-preview-text": message("whatsapp", "Order shipped", template=TEMPLATE),
    "whatsapp-buttons": message("whatsapp", None, interactive=BUTTONS),
    "whatsapp-list": message("whatsapp", None, interactive=LIST),
    "whatsapp-buttons-in-plivo-shape": message(
        "whatsapp",
        None,
        interactive={
            "type": "button",
            "body": {"text": "Reschedule?"},
            "action": {"buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]},
        },
    ),
    "whatsapp-cta-url": message("whatsapp", None, interactive=CTA),
    "whatsapp-location": message("whatsapp", None, location=HQ),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_what_plivo_carries_has_no_problem(name: str) -> None:
    assert check(VALID[name]) == []


INVALID: dict[str, tuple[OutboundMessage, list[str]]] = {
    # SMS
    "sms-template": (message("sms", template=TEMPLATE), ["template"]),
    "sms-interactive": (message("sms", interactive=BUTTONS), ["interactive"]),
    "sms-location": (message("sms", location=HQ), ["location"]),
    "sms-media": (message("sms", media=(JPEG,)), ["media"]),
    "sms-no-text": (message("sms", None), ["text"]),
    "sms-empty-text": (message("sms", ""), ["text"]),
    "sms-gsm-too-long": (message("sms", "a" * (v.SMS_MAX_GSM_CHARACTERS + 1)), ["text"]),
    "sms-ucs2-too-long": (message("sms", "ж" * (v.SMS_MAX_UCS2_CHARACTERS + 1)), ["text"]),
    # MMS
    "mms-template": (message("mms", media=(JPEG,), template=TEMPLATE), ["template"]),
    "mms-interactive": (message("mms", media=(JPEG,), interactive=BUTTONS), ["interactive"]),
    "mms-location": (message("mms", media=(JPEG,), location=HQ), ["location"]),
    "mms-no-media": (message("mms", "text only"), ["media"]),
    "mms-too-many-media": (message("mms", media=media(v.MMS_MAX_MEDIA + 1)), ["media"]),
    "mms-relative-url": (message("mms", media=media(1, url="/a.jpg")), ["media[0].url"]),
    "mms-ftp-url": (message("mms", media=media(1, url="ftp://e.x/a.jpg")), ["media[0].url"]),
    "mms-sticker": (
        message("mms", media=media(1, kind="sticker", mime_type=None)),
        ["media[0].kind"],
    ),
    "mms-file": (message("mms", media=media(1, kind="file", mime_type=None)), ["media[0].kind"]),
    "mms-webp": (message("mms", media=media(1, mime_type="image/webp")), ["media[0].mime_type"]),
    "mms-pdf": (
        message("mms", media=media(1, mime_type="application/pdf")),
        ["media[0].mime_type"],
    ),
    "mms-media-over-2mb": (
        message("mms", media=media(1, size=v.MMS_MAX_MEDIA_BYTES + 1)),
        ["media[0].size"],
    ),
    "mms-caption": (message("mms", media=media(1, caption="hi")), ["media[0].caption"]),
    "mms-total-5mb": (message("mms", "x", media=media(3, size=5 * v.MB // 3 + 1)), ["media"]),
    "mms-text-too-long": (
        message("mms", "a" * (v.SMS_MAX_GSM_CHARACTERS + 1), media=(JPEG,)),
        ["text"],
    ),
    # WhatsApp: content
    "whatsapp-nothing": (message("whatsapp", None), ["text"]),
    "whatsapp-empty-text": (message("whatsapp", ""), ["text"]),
    "whatsapp-text-too-long": (message("whatsapp", "x" * (v.WHATSAPP_MAX_TEXT + 1)), ["text"]),
    "whatsapp-template-and-location": (
        message("whatsapp", None, template=TEMPLATE, location=HQ),
        ["location"],
    ),
    "whatsapp-interactive-and-media": (
        message("whatsapp", None, interactive=BUTTONS, media=(JPEG,)),
        ["media"],
    ),
    # WhatsApp: media
    "whatsapp-two-media": (message("whatsapp", None, media=media(2)), ["media"]),
    "whatsapp-bad-url": (
        message("whatsapp", None, media=media(1, url="e.x/a.jpg")),
        ["media[0].url"],
    ),
    "whatsapp-gif-image": (
        message("whatsapp", None, media=media(1, mime_type="image/gif")),
        ["media[0].mime_type"],
    ),
    "whatsapp-image-as-video": (
        message("whatsapp", None, media=media(1, kind="video", mime_type="image/jpeg")),
        ["media[0].mime_type"],
    ),
    "whatsapp-zip-document": (
        message("whatsapp", None, media=media(1, kind="file", mime_type="application/zip")),
        ["media[0].mime_type"],
    ),
    "whatsapp-image-over-5mb": (
        message("whatsapp", None, media=media(1, size=5 * v.MB + 1)),
        ["media[0].size"],
    ),
    "whatsapp-video-over-16mb": (
        message(
            "whatsapp",
            None,
            media=media(1, kind="video", mime_type="video/mp4", size=16 * v.MB + 1),
        ),
        ["media[0].size"],
    ),
    "whatsapp-document-over-100mb": (
        message("whatsapp", None, media=media(1, kind="file", mime_type=None, size=100 * v.MB + 1)),
        ["media[0].size"],
    ),
    "whatsapp-sticker-over-500kb": (
        message("whatsapp", None, media=media(1, kind="sticker", mime_type=None, size=500_001)),
        ["media[0].size"],
    ),
    "whatsapp-two-captions": (
        message("whatsapp", "one", media=media(1, caption="two")),
        ["media[0].caption"],
    ),
    "whatsapp-audio-caption-in-text": (
        message("whatsapp", "listen", media=media(1, kind="audio", mime_type="audio/ogg")),
        ["text"],
    ),
    "whatsapp-sticker-caption-on-media": (
        message("whatsapp", None, media=media(1, kind="sticker", mime_type=None, caption="hi")),
        ["media[0].caption"],
    ),
    "whatsapp-caption-too-long": (
        message("whatsapp", "c" * (v.WHATSAPP_MAX_CAPTION + 1), media=(JPEG,)),
        ["text"],
    ),
    # WhatsApp: template
    "whatsapp-template-no-name": (
        message("whatsapp", None, template=Template("", "en_US")),
        ["template.name"],
    ),
    "whatsapp-template-no-language": (
        message("whatsapp", None, template=Template("order_update", "")),
        ["template.language"],
    ),
    "whatsapp-template-component-without-type": (
        message("whatsapp", None, template=Template("t", "en", ({"parameters": []},))),
        ["template.components[0]"],
    ),
    "whatsapp-template-unknown-component": (
        message("whatsapp", None, template=Template("t", "en", ({"type": "sidebar"},))),
        ["template.components[0]"],
    ),
    "whatsapp-template-button-without-index": (
        message(
            "whatsapp",
            None,
            template=Template("t", "en", ({"type": "button", "sub_type": "quick_reply"},)),
        ),
        ["template.components[0]"],
    ),
    # WhatsApp: interactive
    "whatsapp-button-without-id": (
        message(
            "whatsapp",
            None,
            interactive={
                **BUTTONS,
                "action": {"buttons": [{"type": "reply", "reply": {"title": "Y"}}]},
            },
        ),
        ["interactive.action.buttons[0]"],
    ),
    "whatsapp-cta-url-without-url": (
        message(
            "whatsapp",
            None,
            interactive={
                **CTA,
                "action": {"name": "cta_url", "parameters": {"display_text": "Go"}},
            },
        ),
        ["interactive.action.buttons[0]"],
    ),
    "whatsapp-two-cta-buttons": (
        message(
            "whatsapp",
            None,
            interactive={
                **CTA,
                "action": {"buttons": [{"title": "A", "cta_url": "https://e.x/a"}] * 2},
            },
        ),
        ["interactive.action"],
    ),
    "whatsapp-list-eleven-rows": (
        message(
            "whatsapp",
            None,
            interactive={
                **LIST,
                "action": {
                    "button": "Slots",
                    "sections": [{"rows": [{"id": str(i), "title": str(i)} for i in range(11)]}],
                },
            },
        ),
        ["interactive.action"],
    ),
    "whatsapp-list-row-without-title": (
        message(
            "whatsapp",
            None,
            interactive={**LIST, "action": {"button": "S", "sections": [{"rows": [{"id": "1"}]}]}},
        ),
        ["interactive.action"],
    ),
    "whatsapp-interactive-unknown-type": (
        message("whatsapp", None, interactive={**BUTTONS, "type": "carousel"}),
        ["interactive.type"],
    ),
    "whatsapp-interactive-no-body": (
        message("whatsapp", None, interactive={**BUTTONS, "body": {}}),
        ["interactive.body"],
    ),
    "whatsapp-interactive-no-action": (
        message("whatsapp", None, interactive={"type": "button", "body": {"text": "?"}}),
        ["interactive.action"],
    ),
    "whatsapp-four-buttons": (
        message(
            "whatsapp",
            None,
            interactive={
                **BUTTONS,
                "action": {"buttons": [{"id": str(i), "title": str(i)} for i in range(4)]},
            },
        ),
        ["interactive.action"],
    ),
    "whatsapp-no-buttons": (
        message("whatsapp", None, interactive={**BUTTONS, "action": {"buttons": []}}),
        ["interactive.action"],
    ),
    "whatsapp-list-without-sections": (
        message("whatsapp", None, interactive={**LIST, "action": {"button": "Slots"}}),
        ["interactive.action"],
    ),
    # WhatsApp: location
    "whatsapp-latitude-out-of-range": (
        message("whatsapp", None, location=Location(91, 0, "n", "a")),
        ["location.latitude"],
    ),
    "whatsapp-longitude-out-of-range": (
        message("whatsapp", None, location=Location(0, -181, "n", "a")),
        ["location.longitude"],
    ),
    "whatsapp-location-without-name-and-address": (
        message("whatsapp", None, location=Location(1.5, 2.5)),
        ["location.name", "location.address"],
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_what_plivo_cannot_carry_is_named_by_field(name: str) -> None:
    outbound, expected = INVALID[name]
    assert fields(check(outbound)) == expected


def test_problems_add_up() -> None:
    outbound = message("sms", None, media=(JPEG,), template=TEMPLATE, location=HQ)
    assert fields(check(outbound)) == ["template", "location", "media", "text"]


async def test_provider_declares_its_channels_and_checks() -> None:
    provider = PlivoProvider(
        "MAXXXXXXXXXXXXXXXXXX", ["token"], "http://plivo.test", httpx.AsyncClient()
    )
    try:
        assert provider.channels == frozenset({"sms", "mms", "whatsapp"})
        assert provider.check(VALID["whatsapp-template"]) == []
        assert fields(provider.check(message("sms", None))) == ["text"]
    finally:
        await provider.aclose()
