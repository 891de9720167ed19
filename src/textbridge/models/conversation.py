from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from textbridge.db.base import Base, new_id, utcnow
from textbridge.models.contact import Contact
from textbridge.models.sender import Sender


class Conversation(Base):
    """One thread: a contact, one of our senders, one channel."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("contact_id", "sender_id", "channel"),
        # The list's keyset order (messaging/search.py): newest first, the id breaks ties
        Index("ix_conversations_last_message_at_id", "last_message_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("senders.id"))
    channel: Mapped[str] = mapped_column(String(20))
    last_message_at: Mapped[datetime | None] = mapped_column(default=None)
    last_inbound_at: Mapped[datetime | None] = mapped_column(default=None)
    last_message_preview: Mapped[str | None] = mapped_column(String(200), default=None)
    unread_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(lazy="joined", innerjoin=True)
    sender: Mapped[Sender] = relationship(lazy="joined", innerjoin=True)
