"""Request bodies of the API (responses are in `messaging.schemas`)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from textbridge.messaging import address
from textbridge.messaging.text import excerpt, problem

Channel = Literal["sms", "mms", "whatsapp"]
ProviderName = Literal["plivo", "vonage"]

# Longest URL the attachments table keeps (`Attachment.url`).
MAX_URL_LENGTH = 2000
_V = TypeVar("_V")


def storable(value: _V) -> _V:
    """Refuse, naming where, what no database keeps, inside dicts and lists too (JSON columns):
    NUL (PostgreSQL refuses it in text and JSONB), a lone surrogate (not UTF-8), NaN and
    infinities (not JSON: PostgreSQL refuses them). See `messaging.text`."""
    found = _unstorable(value, "")
    if found is not None:
        path, text, reason = found
        where = f"{path.lstrip('.')} " if path else ""
        raise PydanticCustomError(
            "unstorable_text",
            "{where}{reason}: {quoted}",
            {"where": where, "reason": reason, "quoted": excerpt(text)},
        )
    return value


def _unstorable(value: Any, path: str) -> tuple[str, str, str] | None:
    """The first value in `value` that cannot be stored: (its path, its text, why)."""
    if isinstance(value, str):
        reason = problem(value)
        return None if reason is None else (path, value, reason)
    if isinstance(value, float) and not math.isfinite(value):
        return (path, str(value), "is not a finite number, which JSON cannot carry")
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable(str(key), f"{path}.{key!r}") or _unstorable(item, f"{path}.{key}")
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _short_enough(url: AnyHttpUrl) -> AnyHttpUrl:
    # Checked on the normalized form: that is what is stored, and it can be longer.
    if len(str(url)) > MAX_URL_LENGTH:
        raise ValueError(f"a URL of at most {MAX_URL_LENGTH} characters")
    return url


StorableStr = Annotated[str, AfterValidator(storable)]
StorableJson = Annotated[dict[str, Any], AfterValidator(storable)]
MediaUrl = Annotated[AnyHttpUrl, AfterValidator(_short_enough), AfterValidator(storable)]
ParameterName = Annotated[str, Field(max_length=64), AfterValidator(storable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MediaIn(_Strict):
    url: MediaUrl = Field(description="A public http(s) URL the provider can fetch")
    caption: StorableStr | None = Field(None, max_length=3000, description="WhatsApp only")
    filename: StorableStr | None = Field(None, max_length=255, description="Shown for documents")
    mime_type: StorableStr | None = Field(
        None, max_length=100, description="Guessed from the URL when omitted"
    )


class TemplateIn(_Strict):
    name: StorableStr = Field(min_length=1, max_length=512)
    language: StorableStr = Field("en_US", min_length=2, max_length=20)
    parameters: dict[ParameterName, StorableStr] | list[StorableStr] | None = Field(
        None,
        description='Named (`{"customer_name": "Ann"}`) or positional (`["Ann"]`; or '
        '`{"1": "Ann"}`); a media header takes `header`, a URL button `button_<index>`.',
    )


class LocationIn(_Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: StorableStr | None = Field(None, max_length=1000)
    address: StorableStr | None = Field(None, max_length=1000)


class InteractiveIn(BaseModel):
    """Meta's interactive object: `button` (up to 3 reply buttons) or `list` (sections of
    rows); passed to the provider as given after these checks."""

    model_config = ConfigDict(extra="allow")

    type: Literal["button", "list", "cta_url"]
    body: StorableJson
    action: StorableJson
    header: StorableJson | None = None
    footer: StorableJson | None = None

    @model_validator(mode="after")
    def _extra_is_storable(self) -> InteractiveIn:
        storable(self.model_extra or {})
        return self

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not str(value.get("text", "")).strip():
            raise ValueError("body.text is required")
        return value


class SendMessageIn(_Strict):
    to: StorableStr = Field(
        description="Recipient in E.164, e.g. +14155550199 (or a WhatsApp business-scoped user "
        "id, through Vonage)",
        max_length=address.MAX_LENGTH,
    )
    text: StorableStr | None = Field(
        None, max_length=4096, description="Body, or the media caption"
    )
    from_: StorableStr | None = Field(
        None,
        alias="from",
        max_length=32,
        description="One of our numbers; the default sender when omitted",
    )
    channel: Channel = "sms"
    provider: ProviderName | None = Field(None, description="Defaults to the sender's provider")
    media: list[MediaIn] | None = Field(None, description="One item, or a list (MMS)")
    template: TemplateIn | None = None
    interactive: InteractiveIn | None = None
    location: LocationIn | None = None
    send_at: datetime | None = Field(
        None,
        description="When to send it: ISO 8601 with a UTC offset, at most 366 days ahead; "
        "at once when omitted",
    )
    quiet_hours: bool | Annotated[str, Field(max_length=11)] | None = Field(
        None,
        description="Send only within these local hours of the recipient: true for "
        "TEXTBRIDGE_QUIET_HOURS, or HH:MM-HH:MM; any hour when omitted or false",
    )

    def quiet_hours_window(self, default: str) -> str | None:
        if self.quiet_hours is True:
            return default
        return self.quiet_hours or None

    @field_validator("media", mode="before")
    @classmethod
    def _one_item_is_a_list(cls, value: object) -> object:
        # Not a union of an item and a list: a refused item's error then names its field
        # (`media.0.url`), not each branch of the union.
        return [value] if isinstance(value, dict) else value

    def media_list(self) -> list[MediaIn]:
        return self.media or []


class PreviewIn(_Strict):
    text: str = Field(max_length=10_000)
    to: str | None = Field(
        None, max_length=32, description="E.164: prices the message for this number's country"
    )
    channel: Literal["sms", "whatsapp"] = "sms"
    provider: Literal["plivo", "vonage"] | None = Field(
        None, description="whose price; none: the cheaper of the two"
    )


class PreviewOut(BaseModel):
    encoding: str
    segments: int
    characters: int
    units: int
    ucs2_characters: list[str]
    replaceable_characters: list[str]
    """Of `ucs2_characters`, those with a GSM-7 look-alike (curly quotes, dashes, ...)."""
    lookalike_text: str | None
    """The text with those replaced, when that changes it; None otherwise."""
    lookalike_segments: int | None
    """The segments the look-alike text would take (it may still be UCS-2)."""
    country: str | None
    """The region of `to` (ISO 3166 alpha-2), when given and valid."""
    provider: str | None
    """The provider `cost` is the price of."""
    unit_price: str | None
    """The price of one segment (SMS) or one message (WhatsApp); None when not in the table."""
    cost: str | None
    """`unit_price` times the segments (SMS) or once (WhatsApp)."""
    currency: str
