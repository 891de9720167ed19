from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, utcnow


class WebhookNonce(Base):
    """A signature nonce already seen, so that a captured webhook cannot be replayed.

    Written in the same transaction as the journal row it came with (a request whose row was
    not committed never burns its nonce); `digest` (SHA-256 of method, URL and body) tells a
    redelivery of the same request from a replay with other content. Purged after the window.
    """

    __tablename__ = "webhook_nonces"
    __table_args__ = (Index("ix_webhook_nonces_seen_at", "seen_at"),)

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
