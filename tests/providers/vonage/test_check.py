"""`check()`: what Vonage cannot carry is reported before anything is stored or sent."""

from __future__ import annotations

import httpx
import pytest

from textbridge.providers.base import Location, Media, OutboundMessage, Problem, Template
from textbridge.providers.vonage import VonageCredentials, VonageProvider

from .support import API_KEY, API_SECRET, message


@pytest.fixture
async def provider() -> VonageProvider:
    credentials = VonageCredentials(api_key=API_KEY, api_secret=API_SECRET)
    async with httpx.AsyncClient() as client:
        return VonageProvider(client, credentials, signature_secret=None)


def fields(problems: list[Problem]) -> list[str]:
    return [problem.field for problem in problems]


IMAGE = Media("https://cdn.example/a.jpg", mime_type="image/jpeg", size=200_000)
CANADA = "+16135550123"
UK = "+447700900123"

OK: list[tuple[str, OutboundMessage]] = [
    ("sms", message("sms")),
    ("sms-3200", message("sms", text="x" * 3200)),
    ("sms-alphanumeric", message("sms", from_address="Acme")),
    ("mms-image", message("mms", media=(IMAGE,))),
    ("mms-image-no-text", message("mms", text=None, media=(IMAGE,))),
    ("mms-gif-by-extension", message("mms", media=(Media("https://cdn.example/a.GIF"),))),
    ("mms-canada", message("mms", to_address=CANADA, media=(IMAGE,))),
    (
        "mms-image-2mb",
        message("mms", media=(Media("https://cdn.example/a.jpg", size=2_000_000),)),
    ),
    ("whatsapp-text", message("whatsapp", text="y" * 4096)),
    ("whatsapp-image", message("whatsapp", media=(IMAGE,))),
    ("whatsapp-caption-3000", message("whatsapp", text="c" * 3000, media=(IMAGE,))),
    (
        "whatsapp-same-caption-twice",
        message("whatsapp", media=(Media(IMAGE.url, caption=message().text),)),
    ),
    (
        "whatsapp-audio",
        message(
            "whatsapp",
            text=None,
            media=(
                Media(
                    "https://cdn.example/v.ogg", kind="audio", mime_type="audio/ogg; codecs=opus"
                ),
            ),
        ),
    ),
    (
        "whatsapp-audio-m4a-as-mp4",
        message("whatsapp", text=None, media=(Media("https://cdn.example/v.mp4", kind="audio"),)),
    ),
    (
        "whatsapp-video-3gp",
        message(
            "whatsapp",
            media=(Media("https://cdn.example/v.3gp", kind="video", size=16 * 1024 * 1024),),
        ),
    ),
    (
        "whatsapp-video-3gp-alias",
        message(
            "whatsapp", media=(Media("https://cdn.example/v", kind="video", mime_type="video/3gp"),)
        ),
    ),
    (
        "whatsapp-file",
        message(
            "whatsapp",
            media=(
                Media(
                    "https://cdn.example/f?id=1",
                    kind="file",
                    mime_type="application/pdf",
                    filename="f.pdf",
                ),
            ),
        ),
    ),
    (
        "whatsapp-file-no-extension-no-type",
        message("whatsapp", media=(Media("https://cdn.example/download/123", kind="file"),)),
    ),
    (
        "whatsapp-sticker",
        message(
            "whatsapp", text=None, media=(Media("https://cdn.example/s.webp", kind="sticker"),)
        ),
    ),
    ("whatsapp-template", message("whatsapp", text=None, template=Template("appt", "en"))),
    ("whatsapp-template-with-text", message("whatsapp", template=Template("appt", "en"))),
    (
        "whatsapp-interactive",
        message("whatsapp", interactive={"type": "button", "body": {}, "action": {}}),
    ),
    ("whatsapp-location", message("whatsapp", text=None, location=Location(-90, 180))),
    ("whatsapp-international", message("whatsapp", to_address=UK)),
]


@pytest.mark.parametrize("ours", [c[1] for c in OK], ids=[c[0] for c in OK])
def test_carried(provider: VonageProvider, ours: OutboundMessage) -> None:
    assert provider.check(ours) == []


REFUSED: list[tuple[str, OutboundMessage, list[str]]] = [
    ("sms-too-long", message("sms", text="x" * 3201), ["text"]),
    ("sms-empty", message("sms", text=""), ["text"]),
    ("sms-none", message("sms", text=None), ["text"]),
    ("sms-media", message("sms", media=(IMAGE,)), ["media"]),
    ("sms-template", message("sms", template=Template("t", "en")), ["template"]),
    ("sms-interactive", message("sms", interactive={"type": "button"}), ["interactive"]),
    ("sms-location", message("sms", location=Location(1, 2)), ["location"]),
    ("mms-no-media", message("mms"), ["media"]),
    ("mms-two-images", message("mms", media=(IMAGE, IMAGE)), ["media"]),
    (
        "mms-image-over-2mb",
        message("mms", media=(Media("https://cdn.example/a.jpg", size=2_000_001),)),
        ["media[0].size"],
    ),
    (
        "mms-video",
        message("mms", media=(Media("https://cdn.example/v.mp4", kind="video"),)),
        ["media[0].kind"],
    ),
    (
        "mms-webp",
        message("mms", media=(Media("https://cdn.example/a.webp"),)),
        ["media[0].mime_type"],
    ),
    ("mms-uk", message("mms", to_address=UK, media=(IMAGE,)), ["to"]),
    ("mms-bad-number", message("mms", to_address="not-a-number", media=(IMAGE,)), ["to"]),
    ("mms-caption-too-long", message("mms", text="c" * 3001, media=(IMAGE,)), ["text"]),
    ("mms-template", message("mms", media=(IMAGE,), template=Template("t", "en")), ["template"]),
    ("whatsapp-too-long", message("whatsapp", text="y" * 4097), ["text"]),
    ("whatsapp-empty", message("whatsapp", text=""), ["text"]),
    ("whatsapp-two-media", message("whatsapp", media=(IMAGE, IMAGE)), ["media"]),
    ("whatsapp-caption-too-long", message("whatsapp", text="c" * 3001, media=(IMAGE,)), ["text"]),
    (
        "whatsapp-audio-with-text",
        message("whatsapp", media=(Media("https://cdn.example/v.mp3", kind="audio"),)),
        ["text"],
    ),
    (
        "whatsapp-audio-with-caption",
        message(
            "whatsapp",
            text=None,
            media=(Media("https://cdn.example/v.mp3", kind="audio", caption="hi"),),
        ),
        ["text"],
    ),
    (
        "whatsapp-sticker-with-text",
        message("whatsapp", media=(Media("https://cdn.example/s.webp", kind="sticker"),)),
        ["text"],
    ),
    (
        "whatsapp-gif",
        message("whatsapp", media=(Media("https://cdn.example/a.gif"),)),
        ["media[0].mime_type"],
    ),
    (
        "whatsapp-image-type",
        message("whatsapp", media=(Media("https://cdn.example/a", mime_type="image/heic"),)),
        ["media[0].mime_type"],
    ),
    (
        "whatsapp-audio-wav",
        message("whatsapp", text=None, media=(Media("https://cdn.example/a.wav", kind="audio"),)),
        ["media[0].mime_type"],
    ),
    (
        "whatsapp-video-mov",
        message("whatsapp", media=(Media("https://cdn.example/a.mov", kind="video"),)),
        ["media[0].mime_type"],
    ),
    (
        "whatsapp-file-zip",
        message("whatsapp", media=(Media("https://cdn.example/a.zip", kind="file"),)),
        ["media[0].mime_type"],
    ),
    (
        "whatsapp-image-too-big",
        message("whatsapp", media=(Media("https://cdn.example/a.png", size=5 * 1024 * 1024 + 1),)),
        ["media[0].size"],
    ),
    (
        "whatsapp-video-too-big",
        message(
            "whatsapp", media=(Media("https://cdn.example/a.mp4", kind="video", size=17_000_000),)
        ),
        ["media[0].size"],
    ),
    (
        "whatsapp-file-too-big",
        message(
            "whatsapp",
            media=(Media("https://cdn.example/a.pdf", kind="file", size=101 * 1024 * 1024),),
        ),
        ["media[0].size"],
    ),
    (
        "whatsapp-sticker-too-big",
        message(
            "whatsapp",
            text=None,
            media=(Media("https://cdn.example/s.webp", kind="sticker", size=600_000),),
        ),
        ["media[0].size"],
    ),
    (
        "whatsapp-not-http",
        message("whatsapp", media=(Media("ftp://cdn.example/a.png"),)),
        ["media[0].url"],
    ),
    (
        "whatsapp-audio-url-too-long",
        message("whatsapp", text=None, media=(Media("https://e.x/" + "a" * 2000, kind="audio"),)),
        ["media[0].url"],
    ),
    (
        "whatsapp-two-captions",
        message("whatsapp", text="one", media=(Media(IMAGE.url, caption="two"),)),
        ["text"],
    ),
    (
        "whatsapp-template-with-media",
        message("whatsapp", template=Template("t", "en"), media=(IMAGE,)),
        ["media"],
    ),
    (
        "whatsapp-template-and-location",
        message("whatsapp", template=Template("t", "en"), location=Location(1, 2)),
        ["location"],
    ),
    (
        "whatsapp-template-unnamed",
        message("whatsapp", template=Template(" ", "en")),
        ["template.name"],
    ),
    (
        "whatsapp-template-no-language",
        message("whatsapp", template=Template("t", "")),
        ["template.language"],
    ),
    (
        "whatsapp-interactive-no-type",
        message("whatsapp", interactive={"body": {}}),
        ["interactive.type"],
    ),
    (
        "whatsapp-location-out-of-range",
        message("whatsapp", location=Location(91, -181)),
        ["location.latitude", "location.longitude"],
    ),
    ("client-ref-too-long", message("sms", message_id="m" * 101), ["message_id"]),
]


@pytest.mark.parametrize(
    ("ours", "expected"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused(provider: VonageProvider, ours: OutboundMessage, expected: list[str]) -> None:
    problems = provider.check(ours)
    assert fields(problems) == expected
    assert all(problem.message for problem in problems)


def test_media_problems_cite_the_rules(provider: VonageProvider) -> None:
    (problem,) = provider.check(message("whatsapp", media=(Media("https://cdn.example/a.gif"),)))
    assert "image/jpeg, image/png" in problem.message
    assert "developers.facebook.com" in problem.message


def test_unknown_channel(provider: VonageProvider) -> None:
    assert fields(provider.check(message("rcs"))) == ["channel"]
