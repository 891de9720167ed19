"""Validation of a send-message request, with the checks Plivo makes before answering 202.

WhatsApp content shapes are checked in ``plivo.whatsapp``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlparse

from textbridge.messaging.encoding import analyze
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.plivo.vocabulary import (
    CALLBACK_METHODS,
    MAX_ALPHANUMERIC_SENDER,
    MAX_NUMBER_DIGITS,
    MESSAGE_TYPES,
    MIN_NUMBER_DIGITS,
    MMS_MAX_MEDIA,
    SMS_TEXT_LIMITS,
    WHATSAPP_TEXT_LIMIT,
    CallbackMethod,
    MessageType,
)
from textbridge.simulator.plivo.whatsapp import STRUCTURED, WhatsappContent, whatsapp_content
from textbridge.simulator.state import number_key
from textbridge.simulator.templates import TemplateRef

_DIGITS = re.compile(rf"[0-9]{{{MIN_NUMBER_DIGITS},{MAX_NUMBER_DIGITS}}}")
_SENDER_ID = re.compile(rf"[A-Za-z0-9]{{1,{MAX_ALPHANUMERIC_SENDER}}}")


@dataclass(frozen=True)
class SendRequest:
    """A valid send request, normalized (numbers stripped, type and method defaulted)."""

    src: str
    destinations: tuple[str, ...]
    message_type: MessageType
    text: str
    units: int
    media_urls: tuple[str, ...]
    callback_url: str | None
    callback_method: CallbackMethod
    whatsapp: WhatsappContent | None = None

    @property
    def template(self) -> TemplateRef | None:
        return self.whatsapp.template if self.whatsapp else None


def parse_send_request(params: Mapping[str, object]) -> SendRequest:
    """Check ``params`` (a JSON or form body) like Plivo; raise a 400 ``PlivoApiError``."""
    message_type = _message_type(params)
    src = _source(params, message_type)
    destinations = _destinations(params)
    text = _optional_str(params, "text")
    media_urls = _media_urls(params, message_type)
    whatsapp = _content(params, message_type, text, media_urls)
    callback_url, callback_method = _callback(params)
    return SendRequest(
        src=src,
        destinations=destinations,
        message_type=message_type,
        text=text or "",
        units=_units(message_type, text or ""),
        media_urls=media_urls,
        callback_url=callback_url,
        callback_method=callback_method,
        whatsapp=whatsapp,
    )


def _invalid(message: str) -> PlivoApiError:
    return PlivoApiError(400, message)


def _optional_str(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(f"{name} parameter must be a string")


def _required_str(params: Mapping[str, object], name: str) -> str:
    value = _optional_str(params, name)
    if not value:
        raise _invalid(f"{name} parameter not present")
    return value


def _message_type(params: Mapping[str, object]) -> MessageType:
    value = params.get("type", "sms")
    if value not in MESSAGE_TYPES:
        raise _invalid(f"type parameter is invalid: must be one of {', '.join(MESSAGE_TYPES)}")
    return value


def _source(params: Mapping[str, object], message_type: MessageType) -> str:
    if params.get("powerpack_uuid") and not params.get("src"):
        raise _invalid("powerpack_uuid is not supported by the simulator: give src instead")
    src = number_key(_required_str(params, "src"))
    if _DIGITS.fullmatch(src):
        return src
    if message_type == "sms" and _SENDER_ID.fullmatch(src):
        return src
    raise _invalid(
        "src parameter is invalid: must be a phone number (digits), or for sms an "
        f"alphanumeric sender ID of at most {MAX_ALPHANUMERIC_SENDER} characters"
    )


def _destinations(params: Mapping[str, object]) -> tuple[str, ...]:
    numbers = tuple(number_key(part) for part in _required_str(params, "dst").split("<"))
    for number in numbers:
        if not _DIGITS.fullmatch(number):
            raise _invalid(f"dst parameter is invalid: {number!r} is not a phone number")
    return numbers


def _media_urls(params: Mapping[str, object], message_type: MessageType) -> tuple[str, ...]:
    urls = _url_list(params.get("media_urls"))
    if urls and message_type == "sms":
        raise _invalid("media_urls parameter is only allowed for mms and whatsapp messages")
    if len(urls) > MMS_MAX_MEDIA:
        raise _invalid(f"media_urls parameter is invalid: at most {MMS_MAX_MEDIA} URLs")
    for url in urls:
        if not _is_http_url(url):
            raise _invalid(f"media_urls parameter is invalid: {url!r} is not an http(s) URL")
    return urls


def _url_list(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # form bodies: comma-separated, as Plivo documents
        return tuple(url.strip() for url in value.split(",") if url.strip())
    if isinstance(value, list) and all(isinstance(url, str) for url in value):
        return tuple(cast(list[str], value))
    raise _invalid("media_urls parameter must be a list of URLs")


def _content(
    params: Mapping[str, object],
    message_type: MessageType,
    text: str | None,
    media_urls: tuple[str, ...],
) -> WhatsappContent | None:
    if message_type == "whatsapp":
        return whatsapp_content(params, text, media_urls)
    for key in STRUCTURED:
        if params.get(key) is not None:
            raise _invalid(f"{key} parameter is only allowed when type is whatsapp")
    if not text and message_type == "sms":
        raise _invalid("text parameter not present")
    if not text and not media_urls:
        raise _invalid(f"a {message_type} message needs text or media_urls")
    return None


def _units(message_type: MessageType, text: str) -> int:
    """Billable units; raises when the text is over Plivo's length limit."""
    if message_type == "whatsapp":
        if len(text) > WHATSAPP_TEXT_LIMIT:
            raise _invalid(f"text is too long: the WhatsApp limit is {WHATSAPP_TEXT_LIMIT}")
        return 1
    info = analyze(text)
    limit = SMS_TEXT_LIMITS[info.encoding]
    if info.characters > limit:
        raise _invalid(
            f"text is too long: {info.characters} characters in {info.encoding}, "
            f"the limit is {limit}"
        )
    return 1 if message_type == "mms" else info.segments


def _callback(params: Mapping[str, object]) -> tuple[str | None, CallbackMethod]:
    url = _optional_str(params, "url") or None
    method = (_optional_str(params, "method") or "POST").upper()
    if method not in CALLBACK_METHODS:
        raise _invalid("method parameter is invalid: must be GET or POST")
    if url is not None and not _is_http_url(url):
        raise _invalid("url parameter is invalid: must be an http or https URL")
    return url, method


def _is_http_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)
