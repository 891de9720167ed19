"""Request bodies of the API (responses are in `messaging.schemas`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

Channel = Literal["sms", "mms", "whatsapp"]
ProviderName = Literal["plivo", "vonage"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MediaIn(_Strict):
    url: AnyHttpUrl = Field(description="A public http(s) URL the provider can fetch")
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
    to: str = Field(description="Recipient in E.164, e.g. +14155550199", max_length=32)
    text: str | None = Field(None, max_length=4096, description="Body, or the media caption")
    from_: str | None = Field(
        None, alias="from", description="One of our numbers; the default sender when omitted"
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
