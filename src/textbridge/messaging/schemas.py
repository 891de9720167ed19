"""What the API returns and the live events carry: one shape for both."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, computed_field

from textbridge.messaging import address, status
from textbridge.models import Conversation, Message, MessageEvent
from textbridge.whatsapp.window import window_expires_at

_WAITING = frozenset({status.ACCEPTED, *status.DEFERRED})

MESSAGE_COLUMNS: Final = (
    "id", "conversation_id", "direction", "channel", "provider", "provider_message_id",
    "from_address", "to_address", "body", "content_type", "payload", "status", "error_code",
    "error_message", "encoding", "segments", "price", "attempts", "send_at", "next_attempt_at",
    "quiet_hours", "created_at", "updated_at",
)  # fmt: skip
"""The `messages` columns a `MessageOut` is made of."""
MEDIA_COLUMNS: Final = (
    "id", "url", "kind", "mime_type", "size", "caption", "filename", "download_state",
    "download_error",
)  # fmt: skip
"""The `attachments` columns a `MediaOut` is made of."""


class StatusEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    provider_status: str | None
    source: str
    applied: bool
    error_code: str | None
    occurred_at: datetime | None
    received_at: datetime
    by: str | None = None
    """Who made a change by hand (a review's resend or close)."""


class MediaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    kind: str
    mime_type: str | None
    size: int | None
    caption: str | None
    filename: str | None
    download_state: str | None
    """None (not downloaded), "stored" (see `local_url`) or "failed" (see `download_error`)."""
    download_error: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def local_url(self) -> str | None:
        return f"/api/v1/media/{self.id}" if self.download_state == "stored" else None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    direction: str
    channel: str
    provider: str
    provider_message_id: str | None
    from_: str = Field(serialization_alias="from")
    to: str
    text: str | None
    content_type: str
    media: list[MediaOut]
    template: dict[str, Any] | None
    interactive: dict[str, Any] | None
    location: dict[str, Any] | None
    reply_id: str | None
    status: str
    error_code: str | None
    error_message: str | None
    encoding: str | None
    segments: int | None
    price: str | None
    attempts: int
    send_at: datetime | None
    """The time asked for when it was sent (None: at once)."""
    leaves_at: datetime | None
    """When it is to be handed to the provider, while it waits (`scheduled`, `held`,
    `accepted`); None once it has left."""
    quiet_hours: str | None
    """The recipient's local hours it may leave in (e.g. 08:00-21:00); None: any hour."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        row = {name: getattr(message, name) for name in MESSAGE_COLUMNS}
        return cls.of_row(row, [MediaOut.model_validate(item) for item in message.attachments])

    @classmethod
    def of_row(cls, row: Mapping[str, Any], media: list[MediaOut]) -> MessageOut:
        """From the `messages` columns `MESSAGE_COLUMNS` names (the thread reads no ORM)."""
        payload = row["payload"] or {}
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            direction=row["direction"],
            channel=row["channel"],
            provider=row["provider"],
            provider_message_id=row["provider_message_id"],
            from_=row["from_address"],
            to=row["to_address"],
            text=row["body"],
            content_type=row["content_type"],
            media=media,
            template=payload.get("template"),
            interactive=payload.get("interactive"),
            location=payload.get("location"),
            reply_id=payload.get("reply_id"),
            status=row["status"],
            error_code=row["error_code"],
            error_message=row["error_message"],
            encoding=row["encoding"],
            segments=row["segments"],
            price=row["price"],
            attempts=row["attempts"],
            send_at=row["send_at"],
            leaves_at=row["next_attempt_at"] if row["status"] in _WAITING else None,
            quiet_hours=row["quiet_hours"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def event_data(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)

    def event_json(self) -> str:
        """`event_data` as JSON text: the API's answer too."""
        return self.model_dump_json(by_alias=True)


class MessageDetailOut(MessageOut):
    history: list[StatusEventOut]

    @classmethod
    def with_history(cls, message: Message, events: list[MessageEvent]) -> MessageDetailOut:
        base = MessageOut.of(message).model_dump()
        history = [StatusEventOut.model_validate(event) for event in events]
        return cls(**base, history=history)


class ConversationOut(BaseModel):
    id: uuid.UUID
    channel: str
    contact_address: str
    contact_address_kind: str
    """`e164`, `short_code`, `alphanumeric` or `whatsapp_bsuid` (see `messaging.address`)."""
    contact_phone: str | None
    """The contact's E.164 number; None when the address is of another kind."""
    contact_name: str | None
    replyable: bool
    """False when no message can be sent to this contact here; `not_replyable_reason` says why."""
    not_replyable_reason: str | None
    sender_address: str
    provider: str
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    window_expires_at: datetime | None
    """WhatsApp only: until when free-form messages may be sent (24 h after the last inbound)."""
    last_message_preview: str | None
    unread_count: int

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        contact, sender = conversation.contact, conversation.sender
        return cls.of_row(
            {
                "id": conversation.id,
                "channel": conversation.channel,
                "contact_address": contact.address,
                "contact_address_kind": contact.address_kind,
                "contact_name": contact.name,
                "sender_address": sender.address,
                "provider": sender.provider,
                "last_message_at": conversation.last_message_at,
                "last_inbound_at": conversation.last_inbound_at,
                "last_message_preview": conversation.last_message_preview,
                "unread_count": conversation.unread_count,
            }
        )

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> ConversationOut:
        """From the columns `messaging.search.LIST_COLUMNS` names (the list reads no ORM)."""
        kind, contact_address = row["contact_address_kind"], row["contact_address"]
        recipient = address.Address(kind, contact_address)
        reason = address.refusal(recipient, row["channel"], row["provider"])
        last_inbound_at = row["last_inbound_at"]
        return cls(
            id=row["id"],
            channel=row["channel"],
            contact_address=contact_address,
            contact_address_kind=kind,
            contact_phone=contact_address if kind == address.E164 else None,
            replyable=reason is None,
            not_replyable_reason=reason,
            contact_name=row["contact_name"],
            sender_address=row["sender_address"],
            provider=row["provider"],
            last_message_at=row["last_message_at"],
            last_inbound_at=last_inbound_at,
            window_expires_at=(
                window_expires_at(last_inbound_at) if row["channel"] == "whatsapp" else None
            ),
            last_message_preview=row["last_message_preview"],
            unread_count=row["unread_count"],
        )

    def event_data(self) -> dict[str, object]:
        return self.model_dump(mode="json")

    def event_json(self) -> str:
        """`event_data` as JSON text."""
        return self.model_dump_json()
