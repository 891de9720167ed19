from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from textbridge.db.base import Base, new_id, utcnow


class Campaign(Base):
    """One bulk send: a content (text with `{name}` placeholders, or a WhatsApp template) to
    many recipients, through one sender. Its messages are ordinary outbound messages
    (`messages.campaign_id`), sent by the same dispatcher as every other."""

    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    # draft, running, paused, completed, cancelled (see campaigns.service)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    channel: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("senders.id"))
    from_address: Mapped[str] = mapped_column(String(140))
    text: Mapped[str | None] = mapped_column(Text, default=None)
    # {"name", "language", "parameters"}: parameters shared by every recipient
    template: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    recipients: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    # Recipients left out when staged: they had opted out (compliance/consent.py).
    opted_out: Mapped[int] = mapped_column(default=0, server_default="0")
    # The first rows refused, as {"row", "value", "reason"}; `invalid` counts them all.
    invalid_rows: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    segments: Mapped[int] = mapped_column(default=0)
    # Micro-units of `currency`, summed from the price table; `unpriced` recipients had no price.
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    unpriced: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # When its messages may leave at the earliest, and the recipients' local hours they may
    # leave in ("08:00-21:00"; None: any hour). Copied onto each message at start.
    send_at: Mapped[datetime | None] = mapped_column(default=None)
    quiet_hours: Mapped[str | None] = mapped_column(String(11), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CampaignRecipient(Base):
    """A recipient staged for a campaign, already validated, rendered and priced; its message
    is created from this row when the campaign starts (one INSERT ... SELECT). The primary key
    collapses duplicates: one row per normalized address."""

    __tablename__ = "campaign_recipients"
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    to_address: Mapped[str] = mapped_column(String(140), primary_key=True)
    row: Mapped[int] = mapped_column()
    message_id: Mapped[uuid.UUID] = mapped_column()
    # The id the recipient's conversation gets if it has none with the campaign's sender when
    # the campaign starts (conversations are created at start, so that a draft never shows in
    # the inbox); an existing one is used instead. Hence no foreign key.
    conversation_id: Mapped[uuid.UUID] = mapped_column()
    body: Mapped[str | None] = mapped_column(Text, default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    encoding: Mapped[str | None] = mapped_column(String(8), default=None)
    segments: Mapped[int] = mapped_column(default=1)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    price_micros: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The number's estimated zones (`quiet_hours.zone_key`), for deciding at start when its
    # message may leave; a contact's own `time_zone` wins over it.
    time_zones: Mapped[str | None] = mapped_column(Text, default=None)
