"""Request bodies of the API (responses are in `messaging.schemas`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints, field_validator
from pydantic_core import PydanticCustomError

from textbridge.messaging import address
from textbridge.messaging.text import excerpt, problem

Channel = Literal["sms", "mms", "whatsapp"]
ProviderName = Literal["plivo", "vonage"]


class StorableText(BaseModel):
    """Refuses, with a 422 naming the field, text a database cannot store (see
    `messaging.text`): checked on the raw input, so nested objects and lists are covered."""

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
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


def storable_str(value: str) -> str:
    """For single parameters (path and query): the same refusal as `StorableText`."""
    reason = problem(value)
    if reason is not None:
        raise PydanticCustomError(
            "unstorable_text", "{reason}: {quoted}", {"reason": reason, "quoted": excerpt(value)}
        )
    return value


def _unstorable(value: Any, path: str) -> tuple[str, str, str] | None:
    """The first string in `value` that cannot be stored: (its path, the string, why)."""
    if isinstance(value, str):
        reason = problem(value)
        return None if reason is None else (path, value, reason)
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


class _Strict(StorableText):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MediaIn(_Strict):
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)] = Field(
        description="A public http(s) URL the provider can fetch, at most 2000 characters"
    )
    caption: str | None = Field(None, max_length=3000, description="WhatsApp only")
    filename: str | None = Field(None, max_length=255, description="Shown for documents")
    mime_type: str | None = Field(
        None, max_length=100, description="Guessed from the URL when omitted"
    )


class TemplateIn(_Strict):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field("en_US", min_length=2, max_length=20)
    parameters: dict[str, str] | list[str] | None = Field(
        None,
        description='Named (`{"customer_name": "Ann"}`) or positional (`["Ann"]`; or '
        '`{"1": "Ann"}`); a media header takes `header`, a URL button `button_<index>`.',
    )


class LocationIn(_Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(None, max_length=1000)
    address: str | None = Field(None, max_length=1000)


class InteractiveIn(BaseModel):
    """Meta's interactive object: `button` (up to 3 reply buttons) or `list` (sections of
    rows); passed to the provider as given after these checks."""

    model_config = ConfigDict(extra="allow")

    type: Literal["button", "list", "cta_url"]
    body: dict[str, Any]
    action: dict[str, Any]
    header: dict[str, Any] | None = None
    footer: dict[str, Any] | None = None

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not str(value.get("text", "")).strip():
            raise ValueError("body.text is required")
        return value


class SendMessageIn(_Strict):
    to: str = Field(
        description="Recipient in E.164, e.g. +14155550199 (or a WhatsApp business-scoped user "
        "id, through Vonage)",
        max_length=address.MAX_LENGTH,
    )
    text: str | None = Field(None, max_length=4096, description="Body, or the media caption")
    from_: str | None = Field(
        None,
        alias="from",
        max_length=32,
        description="One of our numbers; the default sender when omitted",
    )
    channel: Channel = "sms"
    provider: ProviderName | None = Field(None, description="Defaults to the sender's provider")
    media: list[MediaIn] | MediaIn | None = Field(None, description="One item, or a list (MMS)")
    template: TemplateIn | None = None
    interactive: InteractiveIn | None = None
    location: LocationIn | None = None

    def media_list(self) -> list[MediaIn]:
        if self.media is None:
            return []
        return self.media if isinstance(self.media, list) else [self.media]


class PreviewIn(_Strict):
    text: str = Field(max_length=10_000)


class PreviewOut(BaseModel):
    encoding: str
    segments: int
    characters: int
    units: int
    ucs2_characters: list[str]
