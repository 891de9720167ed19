from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from textbridge.db.base import Base, new_id, utcnow

_HAS_CONTENT = "body IS NOT NULL OR payload IS NOT NULL"
_HAS_URL = "url <> ''"
_FILE_TO_DELETE = "download_state = 'erased' AND local_path IS NOT NULL"
_HAS_RAW = "raw IS NOT NULL"
ANALYTICS_COLUMNS = (
    "direction",
    "channel",
    "provider",
    "status",
    "from_address",
    "to_address",
    "error_code",
    "price",
    "delivered_at",
)
_FAILED = "status IN ('rejected', 'failed', 'undelivered')"
_AWAITING_RECEIPT = "status IN ('submitted', 'sent')"
_IS_CAMPAIGNS = "campaign_id IS NOT NULL"
_IS_INBOUND = "direction = 'inbound'"


class Message(Base):
    """One message, in or out. An outbound row is also its own dispatch job (see dispatch/)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        UniqueConstraint("idempotency_key"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        Index("ix_messages_status_next_attempt", "status", "next_attempt_at"),
        # The claim order (dispatch/priority.py): individual sends, then campaigns, each by due time
        Index("ix_messages_status_priority_next_attempt", "status", "priority", "next_attempt_at"),
        # The dispatcher's order check: is an older message of this (from, to) pair unsettled?
        Index(
            "ix_messages_unsettled_pair",
            "from_address",
            "to_address",
            "priority",
            "created_at",
            postgresql_where=text("status IN ('accepted', 'sending')"),
            sqlite_where=text("status IN ('accepted', 'sending')"),
        ),
        # The campaign funnel (analytics/query.py) reads its messages from this index alone; and
        # every query of a campaign's messages (campaigns/bulk.py, consent) goes by its leading
        # (campaign_id, status): `campaign_id = :id` implies the condition
        Index(
            "ix_messages_campaign_funnel",
            "campaign_id",
            "status",
            "conversation_id",
            "created_at",
            "error_code",
            "provider_message_id",
            postgresql_where=text(_IS_CAMPAIGNS),
            sqlite_where=text(_IS_CAMPAIGNS),
        ),
        # The inbound report counts people writing in from this index alone (analytics/query.py)
        Index(
            "ix_messages_inbound",
            "created_at",
            "channel",
            "provider",
            "to_address",
            "from_address",
            postgresql_where=text(_IS_INBOUND),
            sqlite_where=text(_IS_INBOUND),
        ),
        # Every analytics query over a date range reads only this index (analytics/query.py)
        Index("ix_messages_analytics", "created_at", *ANALYTICS_COLUMNS),
        # The conversation list's `failed` filter (messaging/search.py)
        Index(
            "ix_messages_failed_conversation",
            "conversation_id",
            postgresql_where=text(_FAILED),
            sqlite_where=text(_FAILED),
        ),
        # The no-receipt alert (alerts.py): sent, no report yet, by when it last moved
        Index(
            "ix_messages_awaiting_receipt",
            "updated_at",
            postgresql_where=text(_AWAITING_RECEIPT),
            sqlite_where=text(_AWAITING_RECEIPT),
        ),
        # What message retention still has to purge (compliance/retention.py)
        Index(
            "ix_messages_content_created",
            "created_at",
            postgresql_where=text(_HAS_CONTENT),
            sqlite_where=text(_HAS_CONTENT),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # A contact's address may be a WhatsApp business-scoped user id (up to 135 characters).
    from_address: Mapped[str] = mapped_column(String(140))
    to_address: Mapped[str] = mapped_column(String(140))
    body: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str] = mapped_column(String(20), default="text", server_default="text")
    # The non-text parts (template, interactive, location, reply id), as the API gave them.
    payload: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(32), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    encoding: Mapped[str | None] = mapped_column(String(8), default=None)
    segments: Mapped[int | None] = mapped_column(default=None)
    price: Mapped[str | None] = mapped_column(String(20), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    # Of `attempts`, how many the provider answered 429 (they do not use up an attempt).
    rate_limited: Mapped[int] = mapped_column(default=0, server_default="0")
    # Lower leaves first (dispatch/priority.py): individual sends pass campaign traffic.
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # The time the sender asked for (None: at once); when it really leaves is next_attempt_at.
    send_at: Mapped[datetime | None] = mapped_column(default=None)
    # The local hours it may reach the recipient ("08:00-21:00"); None: any hour. See dispatch/.
    quiet_hours: Mapped[str | None] = mapped_column(String(11), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), default=None)
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("campaigns.id"), default=None)
    # When a provider first reported it delivered (or read): the time to delivered starts at
    # `created_at` (analytics).
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    attachments: Mapped[list[Attachment]] = relationship(
        lazy="selectin", order_by="Attachment.position", cascade="all, delete-orphan"
    )


class Attachment(Base):
    """A media item of a message, in or out; `local_path` once downloaded (optional)."""

    __tablename__ = "attachments"
    __table_args__ = (
        # Retention's and erasure's queues (compliance/): content to purge, files to delete
        Index(
            "ix_attachments_content_created",
            "created_at",
            postgresql_where=text(_HAS_URL),
            sqlite_where=text(_HAS_URL),
        ),
        Index(
            "ix_attachments_erased_files",
            "id",
            postgresql_where=text(_FILE_TO_DELETE),
            sqlite_where=text(_FILE_TO_DELETE),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(10))
    mime_type: Mapped[str | None] = mapped_column(String(100), default=None)
    size: Mapped[int | None] = mapped_column(default=None)
    caption: Mapped[str | None] = mapped_column(String(3000), default=None)
    filename: Mapped[str | None] = mapped_column(String(255), default=None)
    local_path: Mapped[str | None] = mapped_column(String(500), default=None)
    # None until the media fetcher has looked at it; then "stored" or "failed".
    download_state: Mapped[str | None] = mapped_column(String(10), default=None)
    download_error: Mapped[str | None] = mapped_column(String(500), default=None)
    # Tries so far. While unsettled, not looked at before `download_next_at`: a lease while a
    # download runs, a backoff after a transient failure (the media fetcher's queue).
    download_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    download_next_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageEvent(Base):
    """One status event as received (or as our dispatcher recorded it), kept forever."""

    __tablename__ = "message_events"
    __table_args__ = (
        Index(
            "ix_message_events_raw_received",
            "received_at",
            postgresql_where=text(_HAS_RAW),
            sqlite_where=text(_HAS_RAW),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    provider_status: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(20))
    applied: Mapped[bool] = mapped_column(default=True)
    error_code: Mapped[str | None] = mapped_column(String(32), default=None)
    raw: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def by(self) -> str | None:
        """Who made a change by hand (a review's resend or close), kept in `raw`."""
        if self.source != "review" or not isinstance(self.raw, dict):
            return None
        who = self.raw.get("by")
        return who if isinstance(who, str) else None
