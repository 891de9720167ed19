"""Request bodies of the API (responses are in `messaging.schemas`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SendMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(description="Recipient in E.164, e.g. +14155550199", max_length=32)
    text: str = Field(min_length=1, max_length=1600)
    from_: str | None = Field(
        None, alias="from", description="One of our numbers; the default sender when omitted"
    )
    channel: Literal["sms"] = "sms"


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=10_000)


class PreviewOut(BaseModel):
    encoding: str
    segments: int
    characters: int
    units: int
    ucs2_characters: list[str]
