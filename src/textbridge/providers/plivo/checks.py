"""What Plivo cannot carry: `check(message)` lists every problem before anything is sent.

The limits are data in `vocabulary.py`, each with its source. A problem names the field of the
request at fault (`text`, `media`, `media[0].url`, `template.name`, `interactive.type`, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from textbridge.messaging.encoding import analyze
from textbridge.providers.base import Channel, JSONObject, Media, OutboundMessage, Problem
from textbridge.providers.plivo import vocabulary as v
from textbridge.providers.plivo import whatsapp

Rule = Callable[[OutboundMessage], Iterator[Problem]]
WHATSAPP_ONLY = ("template", "interactive", "location")


def check(message: OutboundMessage) -> list[Problem]:
    return [problem for rule in RULES[message.channel] for problem in rule(message)]


# --- every channel ---------------------------------------------------------------------------
def _media_urls(message: OutboundMessage) -> Iterator[Problem]:
    for index, media in enumerate(message.media):
        parts = urlsplit(media.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            yield Problem(f"media[{index}].url", "must be an absolute http or https URL")


# --- SMS and MMS -----------------------------------------------------------------------------
def _whatsapp_only(message: OutboundMessage) -> Iterator[Problem]:
    for name in WHATSAPP_ONLY:
        if getattr(message, name) is not None:
            yield Problem(name, f"only WhatsApp carries a {name}, not {message.channel}")


def _sms_text(message: OutboundMessage) -> Iterator[Problem]:
    if not message.text:
        yield Problem("text", "an SMS needs text")
    yield from _text_length(message.text)


def _text_length(text: str | None) -> Iterator[Problem]:
    if not text:
        return
    info = analyze(text)
    limit = v.TEXT_LIMITS[info.encoding]
    if info.characters > limit:
        yield Problem(
            "text", f"{info.characters} {info.encoding} characters; Plivo's limit is {limit}"
        )


def _sms_media(message: OutboundMessage) -> Iterator[Problem]:
    if message.media:
        yield Problem("media", "an SMS cannot carry media: send it as MMS")


def _mms_media(message: OutboundMessage) -> Iterator[Problem]:
    count = len(message.media)
    if count == 0:
        yield Problem("media", "an MMS needs at least one media: send text alone as SMS")
    if count > v.MMS_MAX_MEDIA:
        yield Problem("media", f"{count} media; an MMS carries at most {v.MMS_MAX_MEDIA}")
    for index, media in enumerate(message.media):
        yield from _mms_item(index, media)
    yield from _mms_total(message)


def _mms_item(index: int, media: Media) -> Iterator[Problem]:
    field = f"media[{index}]"
    if media.kind not in v.MMS_MEDIA_KINDS:
        yield Problem(f"{field}.kind", f"an MMS cannot carry a {media.kind}")
    if media.mime_type is not None and media.mime_type.lower() not in v.MMS_MEDIA_TYPES:
        yield Problem(f"{field}.mime_type", f"{media.mime_type} is not an MMS media type")
    if media.size is not None and media.size > v.MMS_MAX_MEDIA_BYTES:
        yield Problem(f"{field}.size", f"over Plivo's {v.MMS_MAX_MEDIA_BYTES} bytes per media")
    if media.caption:
        yield Problem(f"{field}.caption", "an MMS has no caption: put it in text")


def _mms_total(message: OutboundMessage) -> Iterator[Problem]:
    total = sum(media.size or 0 for media in message.media)
    total += len((message.text or "").encode())
    if total >= v.MMS_MAX_TOTAL_BYTES:
        yield Problem("media", f"{total} bytes in all; an MMS must stay under 5 MB")


def _mms_text(message: OutboundMessage) -> Iterator[Problem]:
    yield from _text_length(message.text)


# --- WhatsApp --------------------------------------------------------------------------------
def _one_lead(message: OutboundMessage) -> Iterator[Problem]:
    leads = [name for name in WHATSAPP_ONLY if getattr(message, name) is not None]
    leads += ["media"] if message.media else []
    for name in leads[1:]:
        yield Problem(name, f"a WhatsApp message carries one of {', '.join(leads)}, not several")


def _whatsapp_text(message: OutboundMessage) -> Iterator[Problem]:
    if message.content_type == "text" and not message.text:
        yield Problem("text", "a WhatsApp message needs text, media, a template, ...")
    if message.text and len(message.text) > v.WHATSAPP_MAX_TEXT:
        yield Problem("text", f"{len(message.text)} characters; the limit is {v.WHATSAPP_MAX_TEXT}")


def _whatsapp_media(message: OutboundMessage) -> Iterator[Problem]:
    if len(message.media) > v.WHATSAPP_MAX_MEDIA:
        yield Problem("media", "a WhatsApp message carries one media")
    for index, media in enumerate(message.media):
        yield from _whatsapp_item(index, media)
    if message.media:
        yield from _caption(message, message.media[0])


def _whatsapp_item(index: int, media: Media) -> Iterator[Problem]:
    field, rule = f"media[{index}]", v.WHATSAPP_MEDIA[media.kind]
    if media.mime_type is not None and media.mime_type.lower() not in rule.types:
        allowed = ", ".join(sorted(rule.types))
        yield Problem(f"{field}.mime_type", f"a WhatsApp {media.kind} is one of {allowed}")
    if media.size is not None and media.size > rule.max_bytes:
        yield Problem(f"{field}.size", f"a WhatsApp {media.kind} is at most {rule.max_bytes} bytes")


def _caption(message: OutboundMessage, media: Media) -> Iterator[Problem]:
    if message.text and media.caption and message.text != media.caption:
        yield Problem("media[0].caption", "give the caption once, in text or in the media")
    caption, field = (message.text, "text") if message.text else (media.caption, "media[0].caption")
    if caption and not v.WHATSAPP_MEDIA[media.kind].caption:
        yield Problem(field, f"WhatsApp shows no caption on {media.kind}")
    elif caption and len(caption) > v.WHATSAPP_MAX_CAPTION:
        yield Problem(field, f"a caption holds at most {v.WHATSAPP_MAX_CAPTION} characters")


def _template(message: OutboundMessage) -> Iterator[Problem]:
    template = message.template
    if template is None:
        return
    if not template.name:
        yield Problem("template.name", "a template needs its name")
    if not template.language:
        yield Problem("template.language", "a template needs its language, e.g. en_US")
    for index, component in enumerate(template.components):
        yield from _component(f"template.components[{index}]", component)


def _component(field: str, component: object) -> Iterator[Problem]:
    if not isinstance(component, dict) or component.get("type") not in v.TEMPLATE_COMPONENT_TYPES:
        allowed = ", ".join(sorted(v.TEMPLATE_COMPONENT_TYPES))
        yield Problem(field, f"a component's type is one of {allowed}")
        return
    button = component["type"] == "button"
    if button and (not component.get("sub_type") or component.get("index") is None):
        yield Problem(field, "a button component needs its sub_type and index")


def _interactive(message: OutboundMessage) -> Iterator[Problem]:
    if message.interactive is None:
        return
    # Checked in Plivo's shape, so that Meta's and Plivo's spellings meet the same rules.
    interactive = whatsapp.interactive_object(message.interactive)
    kind = interactive.get("type")
    if kind not in v.WHATSAPP_INTERACTIVE_TYPES:
        allowed = ", ".join(sorted(v.WHATSAPP_INTERACTIVE_TYPES))
        yield Problem("interactive.type", f"{kind!r} is not one of {allowed}")
    body = interactive.get("body")
    if not isinstance(body, dict) or not body.get("text"):
        yield Problem("interactive.body", "an interactive message needs body text")
    action = interactive.get("action")
    if not isinstance(action, dict):
        yield Problem("interactive.action", "an interactive message needs an action")
    elif kind == "list":
        yield from _list_action(action)
    elif kind in ("button", "cta_url"):
        yield from _button_action(action, kind)


def _button_action(action: JSONObject, kind: str) -> Iterator[Problem]:
    buttons = action.get("buttons") or []
    most = v.WHATSAPP_MAX_REPLY_BUTTONS if kind == "button" else v.WHATSAPP_MAX_CTA_BUTTONS
    if not 1 <= len(buttons) <= most:
        yield Problem("interactive.action", f"a {kind} message has 1 to {most} buttons")
    key, what = ("id", "an id") if kind == "button" else ("cta_url", "a URL")
    for index, button in enumerate(buttons):
        if not isinstance(button, dict) or not button.get("title") or not button.get(key):
            yield Problem(f"interactive.action.buttons[{index}]", f"needs a title and {what}")


def _list_action(action: JSONObject) -> Iterator[Problem]:
    sections = action.get("sections") or []
    rows = [row for s in sections if isinstance(s, dict) for row in s.get("rows") or []]
    if not 1 <= len(rows) <= v.WHATSAPP_MAX_LIST_ROWS:
        limit = v.WHATSAPP_MAX_LIST_ROWS
        yield Problem("interactive.action", f"a list has 1 to {limit} rows in its sections")
    if any(not isinstance(row, dict) or not row.get("id") or not row.get("title") for row in rows):
        yield Problem("interactive.action", "every row of a list needs an id and a title")


def _location(message: OutboundMessage) -> Iterator[Problem]:
    location = message.location
    if location is None:
        return
    yield from location.coordinate_problems()
    for name in v.LOCATION_REQUIRED:
        if not getattr(location, name):
            yield Problem(f"location.{name}", f"Plivo needs the {name} of a location")


RULES: dict[Channel, tuple[Rule, ...]] = {
    "sms": (_whatsapp_only, _sms_media, _sms_text),
    "mms": (_whatsapp_only, _media_urls, _mms_media, _mms_text),
    "whatsapp": (
        _one_lead,
        _whatsapp_text,
        _media_urls,
        _whatsapp_media,
        _template,
        _interactive,
        _location,
    ),
}
