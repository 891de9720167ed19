from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, utcnow


class AuditEntry(Base):
    """One security-relevant action: who, what, when, from where. Append-only: the database
    refuses every UPDATE and DELETE of this table (triggers, see its migration).

    Never a person's phone number in plain: a target that names a person carries the keyed
    hash of `compliance.identity`."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))  # key:<prefix> | user:<name> | cli:<user>
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. key.created
    target: Mapped[str | None] = mapped_column(String(300), default=None)
    origin: Mapped[str | None] = mapped_column(String(100), default=None)  # client IP or "cli"
    detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
