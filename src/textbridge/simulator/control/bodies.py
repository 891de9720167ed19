"""The request bodies of inbound injection (``control.inbound``), checked as the provider would.

Vonage WhatsApp media follow the Messages v1 inbound schemas (providers.md section 5, and the
OpenAPI ``inbound-message`` webhook): ``image``, ``video`` and ``file`` take ``url``, ``name``
and a ``caption``; ``audio`` takes ``url`` and ``name``; a ``sticker`` only ``url``. A
``location`` is ``{lat, long, name?, address?, url?}``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Base64Bytes, Field, model_validator

from textbridge.simulator.control.api import ControlBody
from textbridge.simulator.plivo.vocabulary import MMS_MAX_MEDIA, MessageType

VonageMediaKind = Literal["image", "audio", "video", "file", "sticker"]

_URL = r"^https?://\S+$"
HOSTED_MEDIA_MAX_BYTES = 5_000_000
_MIME = r"^[\w.+-]+/[\w.+-]+$"
_VONAGE_CONTENT = ("text", "image", "media", "attachments", "location", "button", "reply")
_MMS_MAX_ATTACHMENTS = 10
_UNCAPTIONED: frozenset[str] = frozenset({"audio", "sticker"})
_UNNAMED: frozenset[str] = frozenset({"sticker"})


class MediaIn(ControlBody):
    """A medium at ``url``; without one, the simulator hosts ``data`` (base64; a placeholder
    when absent) on its own Plivo media host, as Plivo does for real inbound media."""

    url: str | None = Field(default=None, pattern=_URL)
    mime_type: str = Field(pattern=_MIME)
    data: Base64Bytes | None = Field(default=None, max_length=HOSTED_MEDIA_MAX_BYTES)


class ButtonIn(ControlBody):
    payload: str = Field(min_length=1)
    text: str


class LocationIn(ControlBody):
    lat: float = Field(ge=-90, le=90)
    long: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, min_length=1)
    address: str | None = Field(default=None, min_length=1)

    def label(self) -> str:
        """``name, address`` (what the adapters keep as the message text)."""
        return ", ".join(part for part in (self.name, self.address) if part)


class PlivoInboundIn(ControlBody):
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    type: MessageType = "sms"
    text: str | None = None
    media: list[MediaIn] = Field(default_factory=list, max_length=MMS_MAX_MEDIA)
    button: ButtonIn | None = None
    location: LocationIn | None = None
    context_message_uuid: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _content(self) -> Self:
        if self.type != "whatsapp" and self.context_message_uuid is not None:
            raise ValueError("only a whatsapp message carries a context")
        if self.type != "whatsapp" and self.location is not None:
            raise ValueError("only a whatsapp message carries a location")
        if self.type == "sms" and (self.text is None or self.media or self.button):
            raise ValueError("an sms needs text, and takes no media or button")
        if self.type == "mms" and (self.button or not (self.text or self.media)):
            raise ValueError("an mms needs text or media, and takes no button")
        if self.type == "whatsapp":
            _check_whatsapp(self)
        return self

    @property
    def content_type(self) -> str:
        """Plivo's WhatsApp ``ContentType`` for this message."""
        if self.button is not None:
            return "button"
        if self.location is not None:
            return "location"
        return "media" if self.media else "text"


def _check_whatsapp(body: PlivoInboundIn) -> None:
    parts = [bool(body.media), body.button is not None, body.location is not None]
    if len(body.media) > 1 or sum(parts) > 1:
        raise ValueError("a whatsapp message carries one media, a button reply or a location")
    if body.location is not None and body.text:
        raise ValueError("a location carries no text")
    if not (body.text or any(parts)):
        raise ValueError("a whatsapp message needs text, media, a button or a location")


class ImageIn(ControlBody):
    url: str = Field(pattern=_URL)
    caption: str | None = Field(default=None, min_length=1, max_length=3000)


class VonageMediaIn(ControlBody):
    url: str = Field(pattern=_URL)
    kind: VonageMediaKind
    caption: str | None = Field(default=None, min_length=1, max_length=3000)
    name: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        if self.caption is not None and self.kind in _UNCAPTIONED:
            raise ValueError(f"a {self.kind} takes no caption")
        if self.name is not None and self.kind in _UNNAMED:
            raise ValueError(f"a {self.kind} takes no name")
        return self

    def content(self) -> dict[str, object]:
        """``{kind: {url, caption?, name?}}``: Vonage's field for this message type."""
        return {self.kind: self.model_dump(exclude={"kind"}, exclude_none=True)}


class VonageLocationIn(LocationIn):
    url: str | None = Field(default=None, pattern=_URL)


class ReplyIn(ControlBody):
    id: str = Field(min_length=1)
    title: str


class VonageInboundIn(ControlBody):
    channel: Literal["sms", "mms", "whatsapp"]
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    text: str | None = None
    image: ImageIn | None = None
    media: VonageMediaIn | None = None
    location: VonageLocationIn | None = None
    button: ButtonIn | None = None
    reply: ReplyIn | None = None
    attachments: list[VonageMediaIn] | None = Field(
        default=None, min_length=1, max_length=_MMS_MAX_ATTACHMENTS
    )
    profile_name: str | None = None

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        given = [name for name in _VONAGE_CONTENT if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_VONAGE_CONTENT)}")
        if self.channel == "sms" and given != ["text"]:
            raise ValueError("an sms carries text only")
        if (self.channel == "mms") != (given == ["attachments"]):
            raise ValueError("an mms carries attachments, and only an mms does")
        if any(item.kind == "sticker" for item in self.attachments or ()):
            raise ValueError("an mms carries no sticker")
        return self

    def media_part(self) -> VonageMediaIn | None:
        """``media``, or ``image`` (its older spelling) as an image medium; for an MMS, its
        first attachment (the one its ``message_type`` names)."""
        if self.attachments:
            return self.attachments[0]
        if self.image is None:
            return self.media
        return VonageMediaIn(url=self.image.url, kind="image", caption=self.image.caption)

    @property
    def content_type(self) -> str:
        """Vonage's ``message_type``: the medium's kind, or the content field's name."""
        media = self.media_part()
        if media is not None:
            return media.kind
        return next(name for name in _VONAGE_CONTENT if getattr(self, name) is not None)

    def content(self) -> dict[str, object]:
        """The payload field of this message's type."""
        if self.text is not None:
            return {"text": self.text}
        media = self.media_part()
        if media is not None and self.attachments:
            # Vonage's MMS page: the first attachment is of the message type, further ones of
            # any type; we send all of them in `content[]` as the adapter reads it.
            listed = [
                {"type": a.kind, **a.model_dump(exclude={"kind"}, exclude_none=True)}
                for a in self.attachments
            ]
            return {**media.content(), "content": listed}
        if media is not None:
            return media.content()
        part = self.location or self.button or self.reply
        assert part is not None
        return {self.content_type: part.model_dump(exclude_none=True)}

    def stored_text(self) -> str:
        """The text the simulator records: the text, caption, place, or choice made."""
        media = self.media_part()
        if media is not None:
            return media.caption or ""
        if self.location is not None:
            return self.location.label()
        if self.button is not None:
            return self.button.text
        if self.reply is not None:
            return self.reply.title
        return self.text or ""
