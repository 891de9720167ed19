from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, utcnow


class WebhookJournalEntry(Base):
    """Every webhook request as received. Unique `dedup_key` makes a redelivery a no-op.

    `state` is `pending` until the events in it are applied, then `applied`; `refused` for a
    request that failed verification (it has no dedup key and is never applied); `orphaned` for a
    status about a message we never found; `dead` when applying failed on every try; see
    `webhooks.journal` for all of them.

    A refused request keeps only an excerpt of its URL and body (anyone can send one, of any
    size) and `body_sha256`, the SHA-256 of the whole raw body.
    """

    __tablename__ = "webhook_journal"
    __table_args__ = (
        Index("ix_webhook_journal_state_apply_after", "state", "apply_after"),
        # Retention deletes by state and age.
        Index("ix_webhook_journal_state_received_at", "state", "received_at"),
    )

    # SQLite only autoincrements a plain INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    method: Mapped[str] = mapped_column(String(8))
    # A Plivo GET callback carries its parameters, a whole text included, in the query.
    url: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(default=0)
    apply_after: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
