from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, new_id, utcnow

SCOPES = ("send", "read", "admin")
ALL_SCOPES = " ".join(SCOPES)


class ApiKey(Base):
    """An API key, stored only as its SHA-256 hash; `prefix` lets a person recognise it.

    `scopes` is a space-separated subset of `SCOPES`; `admin` guards the journal routes.
    """

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    scopes: Mapped[str] = mapped_column(String(100), default=ALL_SCOPES, server_default=ALL_SCOPES)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes.split()
