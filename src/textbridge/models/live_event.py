from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, utcnow


class LiveEvent(Base):
    """A live event, written in the transaction of the change that caused it (PostgreSQL only;
    see `realtime/relay.py`). Its id is the event's id on every stream; rows are purged after
    an hour."""

    __tablename__ = "live_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
