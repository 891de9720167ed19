from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, utcnow

ALL_SENDERS = "*"
"""The scope of a record that covers every sender of ours (STOPALL, an import, a carrier block)."""


class ConsentRecord(Base):
    """One entry of the consent ledger: an opt-in or an opt-out of one address, in one scope.

    The ledger is the only truth about consent: a person's current state is derived from their
    latest records, never stored apart. Rows are only ever added; erasure (GDPR) is the one
    change allowed, and it clears `address` and `evidence` while `address_hash` (a keyed hash,
    see `compliance.identity`) keeps an opt-out holding for a number we no longer know."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True
    )
    address: Mapped[str | None] = mapped_column(String(140), default=None, index=True)
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(10))  # opt_in | opt_out
    scope: Mapped[str] = mapped_column(String(140), default=ALL_SENDERS)  # a sender address or "*"
    channel: Mapped[str | None] = mapped_column(String(20), default=None)
    source: Mapped[str] = mapped_column(String(20))  # keyword | api | import | inbox | provider
    kind: Mapped[str] = mapped_column(String(10), default="express")  # express | implied
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    actor: Mapped[str | None] = mapped_column(String(200), default=None)
    # Indexed for the opt-outs per day (analytics)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
