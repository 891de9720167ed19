from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, new_id, utcnow


class User(Base):
    """A person who signs in to the inbox. `password_hash` is argon2id (`auth.passwords`);
    `role` is `admin` (everything) or `agent` (the inbox: read and send), from `auth.roles`.
    A disabled user (`disabled_at`) cannot sign in and has no sessions."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
