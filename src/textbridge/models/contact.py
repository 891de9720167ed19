from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, new_id, utcnow


class Contact(Base):
    """Whoever writes to us or is written to: known by one address of a kind (see
    `messaging.address`): an E.164 number, a short code, an alphanumeric sender ID or a WhatsApp
    business-scoped user id."""

    __tablename__ = "contacts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    address: Mapped[str] = mapped_column(String(140), unique=True)
    address_kind: Mapped[str] = mapped_column(String(20), default="e164", server_default="e164")
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
