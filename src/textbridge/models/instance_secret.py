from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base


class InstanceSecret(Base):
    """A secret this installation generated for itself at migration time (e.g. the key of the
    address hash). It lives with the data it protects, so that it survives restarts and moves
    with a backup."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
