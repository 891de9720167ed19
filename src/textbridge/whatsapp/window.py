"""The customer-care window: a contact's message opens 24 hours in which free-form messages
may be sent; outside it only an approved template may be (Meta's rule, domain.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


def window_expires_at(last_inbound_at: datetime | None) -> datetime | None:
    return None if last_inbound_at is None else last_inbound_at + WINDOW


def is_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    expires = window_expires_at(last_inbound_at)
    return expires is not None and now < expires
