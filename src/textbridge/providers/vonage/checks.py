"""What Vonage cannot carry, found before anything is stored or sent (`Provider.check`).

`Problem.field` names the field of our send API (`text`, `media[0].mime_type`, `to`, ...).
The limits are data in `vocabulary`; each check below is one rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from urllib.parse import urlparse

import phonenumbers

from textbridge.providers.base import Channel, Media, OutboundMessage, Problem
from textbridge.providers.vonage import vocabulary as v
from textbridge.providers.vonage.body import caption_for

Check = Callable[[OutboundMessage], Iterator[Problem]]

_WHATSAPP_ONLY = ("template", "interactive", "location")


def problems(message: OutboundMessage, channels: frozenset[Channel]) -> list[Problem]:
    if message.channel not in channels:
        return [Problem("channel", f"Vonage does not send {message.channel!r} messages")]
    found = list(_client_ref(message))
    for check in CHANNEL_CHECKS[message.channel]:
        found.extend(check(message))
    return found


def _client_ref(message: OutboundMessage) -> Iterator[Problem]:
    if len(message.message_id) > v.MAX_CLIENT_REF:
        yield Problem("message_id", f"longer than Vonage's {v.MAX_CLIENT_REF}-character client_ref")


def _whatsapp_only_content(message: OutboundMessage) -> Iterator[Problem]:
    for name in _WHATSAPP_ONLY:
        if getattr(message, name) is not None:
            yield Problem(name, f"a {name} can only be sent on WhatsApp")


def _text_length(message: OutboundMessage, limit: int) -> Iterator[Problem]:
    if message.text is not None and len(message.text) > limit:
        yield Problem("text", f"{len(message.text)} characters; Vonage takes at most {limit}")


# --- SMS -------------------------------------------------------------------------------------


def _sms_text(message: OutboundMessage) -> Iterator[Problem]:
    if not message.text:
        yield Problem("text", "an SMS needs text")
    yield from _text_length(message, v.SMS_MAX_TEXT)


def _sms_media(message: OutboundMessage) -> Iterator[Problem]:
    if message.media:
        yield Problem("media", "SMS carries no media: send it as MMS (US/Canada) or WhatsApp")


# --- media, shared by MMS and WhatsApp -------------------------------------------------------


def _media_count(message: OutboundMessage) -> Iterator[Problem]:
    limit = v.MAX_MEDIA_ITEMS[message.channel]
    if len(message.media) > limit:
        yield Problem("media", f"Vonage {message.channel} carries at most {limit} media item")


def _media_items(message: OutboundMessage) -> Iterator[Problem]:
    for index, media in enumerate(message.media[: v.MAX_MEDIA_ITEMS[message.channel]]):
        yield from _media_item(message.channel, media, f"media[{index}]")


def _media_item(channel: Channel, media: Media, field: str) -> Iterator[Problem]:
    rule = v.MEDIA_RULES[channel].get(media.kind)
    if rule is None:
        kinds = ", ".join(v.MEDIA_RULES[channel]) or "none"
        yield Problem(f"{field}.kind", f"{channel} on Vonage takes media kinds: {kinds}")
        return
    yield from _media_url(media, field)
    yield from _media_type(media, rule, field)
    if media.size is not None and rule.max_bytes is not None and media.size > rule.max_bytes:
        yield Problem(
            f"{field}.size",
            f"{media.size} bytes; a {channel} {media.kind} is at most "
            f"{rule.max_bytes} bytes ({rule.doc})",
        )


def _media_url(media: Media, field: str) -> Iterator[Problem]:
    parsed = urlparse(media.url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        yield Problem(f"{field}.url", "must be a public http(s) URL")
    low, high = v.AUDIO_URL_LENGTH
    if media.kind == "audio" and not low <= len(media.url) <= high:
        yield Problem(f"{field}.url", f"an audio URL is {low}-{high} characters long")


def _mime_candidates(media: Media) -> frozenset[str]:
    if media.mime_type:
        mime = media.mime_type.split(";", 1)[0].strip().lower()
        return frozenset({v.MIME_ALIASES.get(mime, mime)})
    suffix = PurePosixPath(urlparse(media.url).path).suffix.lower()
    return v.EXTENSION_MIME_TYPES.get(suffix, frozenset())


def _media_type(media: Media, rule: v.MediaRule, field: str) -> Iterator[Problem]:
    candidates = _mime_candidates(media)
    if candidates and not candidates & rule.mime_types:
        allowed = ", ".join(sorted(rule.mime_types))
        shown = media.mime_type or " or ".join(sorted(candidates)) + " (from the URL)"
        yield Problem(
            f"{field}.mime_type",
            f"{shown} is not supported for {media.kind}; use one of {allowed} ({rule.doc})",
        )


def _caption(message: OutboundMessage) -> Iterator[Problem]:
    if not message.media:
        return
    media = message.media[0]
    if media.caption and message.text and media.caption != message.text:
        yield Problem("text", "give the caption once: as text or as the media caption")
    caption = caption_for(message)
    if caption is None:
        return
    rule = v.MEDIA_RULES[message.channel].get(media.kind)
    if rule is not None and not rule.caption:
        yield Problem("text", f"a {media.kind} cannot carry a caption or text on Vonage")
    elif len(caption) > v.MAX_CAPTION:
        yield Problem("text", f"a caption is at most {v.MAX_CAPTION} characters")


# --- MMS -------------------------------------------------------------------------------------


def _mms_needs_image(message: OutboundMessage) -> Iterator[Problem]:
    if not message.media:
        yield Problem("media", "Vonage MMS here sends one image: text alone goes as SMS")


def _mms_region(message: OutboundMessage) -> Iterator[Problem]:
    try:
        number = phonenumbers.parse(message.to_address, None)
    except phonenumbers.NumberParseException:
        yield Problem("to", "not an E.164 number")
        return
    if phonenumbers.region_code_for_number(number) not in v.MMS_REGIONS:
        yield Problem("to", "Vonage sends MMS only to US and Canadian numbers")


# --- WhatsApp --------------------------------------------------------------------------------


def _whatsapp_lead(message: OutboundMessage) -> Iterator[Problem]:
    leads = [name for name in _WHATSAPP_ONLY if getattr(message, name) is not None]
    if len(leads) > 1:
        yield Problem(leads[1], f"send one of {', '.join(leads)} per message")
    if leads and message.media:
        yield Problem("media", f"media cannot accompany a {leads[0]} (use a template header)")
    if not leads and not message.media and not message.text:
        yield Problem("text", "a WhatsApp message needs text, media, a template or a location")


def _whatsapp_text(message: OutboundMessage) -> Iterator[Problem]:
    if message.content_type == "text":
        yield from _text_length(message, v.WHATSAPP_MAX_TEXT)


def _template(message: OutboundMessage) -> Iterator[Problem]:
    template = message.template
    if template is None:
        return
    if not template.name.strip():
        yield Problem("template.name", "a template needs its name")
    if not template.language.strip():
        yield Problem("template.language", "a template needs its language code")


def _interactive(message: OutboundMessage) -> Iterator[Problem]:
    interactive = message.interactive
    if interactive is not None and not isinstance(interactive.get("type"), str):
        yield Problem("interactive.type", "Meta's interactive object needs a type")


def _location(message: OutboundMessage) -> Iterator[Problem]:
    location = message.location
    if location is not None:
        yield from location.coordinate_problems()


CHANNEL_CHECKS: dict[Channel, tuple[Check, ...]] = {
    "sms": (_whatsapp_only_content, _sms_media, _sms_text),
    "mms": (
        _whatsapp_only_content,
        _mms_needs_image,
        _media_count,
        _media_items,
        _caption,
        _mms_region,
    ),
    "whatsapp": (
        _whatsapp_lead,
        _whatsapp_text,
        _media_count,
        _media_items,
        _caption,
        _template,
        _interactive,
        _location,
    ),
}
