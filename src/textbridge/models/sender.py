from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, new_id, utcnow


class Sender(Base):
    """One of our numbers or sender IDs, on one provider and channel."""

    __tablename__ = "senders"
    __table_args__ = (UniqueConstraint("provider", "channel", "address"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(32))
    messages_per_second: Mapped[float | None] = mapped_column(default=None)
    # Its own reply to a STOP, START or HELP keyword (compliance/): None for the configured
    # default, "" for no reply at all.
    reply_stop: Mapped[str | None] = mapped_column(Text, default=None)
    reply_start: Mapped[str | None] = mapped_column(Text, default=None)
    reply_help: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
