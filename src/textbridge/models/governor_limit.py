from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base


class GovernorLimit(Base):
    """One rate-limit key of the dispatch governor (a sender, a provider account, a WhatsApp
    recipient pair), shared by every process on PostgreSQL (see `dispatch/governor_store.py`).
    Times are seconds since the epoch on PostgreSQL's clock. SQLite keeps none: there, one
    process holds the state in memory."""

    __tablename__ = "governor_limits"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    tat: Mapped[float] = mapped_column(default=0.0, server_default="0")
    backlog: Mapped[float] = mapped_column(default=0.0, server_default="0")
    factor: Mapped[float] = mapped_column(default=1.0, server_default="1")
    factor_at: Mapped[float] = mapped_column(default=0.0, server_default="0")
    blocked_until: Mapped[float] = mapped_column(default=0.0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
