"""The webhook journal: every request as received, deduplicated by a unique key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from textbridge.db.base import utcnow
from textbridge.models import WebhookJournalEntry

PENDING = "pending"
APPLIED = "applied"
REFUSED = "refused"
INVALID = "invalid"
ORPHANED = "orphaned"

REDACTED_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})
_TABLE: Table = WebhookJournalEntry.__table__  # type: ignore[assignment]


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: "[redacted]" if name.lower() in REDACTED_HEADERS else value
        for name, value in headers.items()
    }


async def record(connection: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert one journal row; False when its dedup key is already there (a redelivery)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_TABLE).values(row).on_conflict_do_nothing(
        index_elements=["dedup_key"]
    )
    result = await connection.execute(statement)
    return bool(result.rowcount)


async def due_entries(session: AsyncSession, limit: int) -> list[WebhookJournalEntry]:
    now = utcnow()
    query = (
        select(WebhookJournalEntry)
        .where(
            WebhookJournalEntry.state == PENDING,
            (WebhookJournalEntry.apply_after.is_(None)) | (WebhookJournalEntry.apply_after <= now),
        )
        .order_by(WebhookJournalEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(query))


async def next_due_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(WebhookJournalEntry.apply_after)
        .where(WebhookJournalEntry.state == PENDING)
        .order_by(WebhookJournalEntry.apply_after)
        .limit(1)
    )


def mark(entry: WebhookJournalEntry, state: str, error: str | None = None) -> None:
    entry.state = state
    entry.error = error[:500] if error else None
    entry.processed_at = utcnow()


def postpone(entry: WebhookJournalEntry, delay: timedelta, error: str) -> None:
    entry.attempts += 1
    entry.apply_after = utcnow() + delay
    entry.error = error[:500]


async def reset_for_retry(session: AsyncSession) -> None:
    """Used by operators and tests: make every postponed entry due now."""
    await session.execute(
        update(WebhookJournalEntry)
        .where(WebhookJournalEntry.state == PENDING)
        .values(apply_after=None)
    )
