"""The webhook journal: every request as received, deduplicated by a unique key."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import Insert

from textbridge.db.base import utcnow
from textbridge.models import WebhookJournalEntry

PENDING = "pending"
APPLIED = "applied"
REFUSED = "refused"
INVALID = "invalid"
ORPHANED = "orphaned"

# A refused request is anyone's: keep enough to recognise it, not what it carried.
REFUSED_EXCERPT_BYTES = 1024
REDACTED_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})
_TABLE: Table = WebhookJournalEntry.__table__  # type: ignore[assignment]


def webhook_params(
    method: str, content_type: str, body: bytes | str, query: str
) -> list[tuple[str, str]]:
    """A webhook's parameters: the form body of a form POST, else the query string. Ingest
    reads a request with it, and the applier reads the same request back from the journal."""
    if method != "POST" or not content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(query, keep_blank_values=True)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return parse_qsl(text, keep_blank_values=True)


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: "[redacted]" if name.lower() in REDACTED_HEADERS else value
        for name, value in headers.items()
    }


def stored_text(raw: bytes) -> str:
    """A body as the journal keeps it: UTF-8, with undecodable bytes and NUL (which
    PostgreSQL refuses in text) replaced by U+FFFD."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def refused_excerpt(url: str, headers: Mapping[str, str], raw_body: bytes) -> dict[str, Any]:
    """The columns a refused request keeps: the start of its URL, of each header (already
    redacted) and of its body, and the SHA-256 of the whole body (to match it against a
    provider's or an attacker's copy)."""
    return {
        "url": url[:REFUSED_EXCERPT_BYTES],
        "headers": {name: value[:REFUSED_EXCERPT_BYTES] for name, value in headers.items()},
        "body": stored_text(raw_body[:REFUSED_EXCERPT_BYTES]),
        "body_sha256": hashlib.sha256(raw_body).hexdigest(),
    }


def _insert(dialect_name: str) -> Insert:
    if dialect_name == "postgresql":
        return postgresql.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])
    return sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])


# Built once: the statements are constant (rows are bound parameters), so SQLAlchemy's
# compiled cache and the driver's prepared statements are reused across requests.
_INSERTS = {name: _insert(name) for name in ("postgresql", "sqlite")}
_INSERTS_RETURNING_KEY = {
    name: statement.returning(_TABLE.c.dedup_key) for name, statement in _INSERTS.items()
}


async def record(connection: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert one journal row; False when its dedup key is already there (a redelivery)."""
    result = await connection.execute(_INSERTS[_dialect(connection)], row)
    return bool(result.rowcount)


async def record_many(connection: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert keyed journal rows (all with the same columns) in one multi-row INSERT ...
    ON CONFLICT DO NOTHING; returns the dedup keys that were stored (new)."""
    statement = _INSERTS_RETURNING_KEY[_dialect(connection)]
    result = await connection.execute(statement, list(rows))
    return {key for key in result.scalars() if key is not None}


def _dialect(connection: AsyncConnection) -> str:
    return "postgresql" if connection.dialect.name == "postgresql" else "sqlite"


_Waiting = tuple[dict[str, Any], asyncio.Future[bool]]


class JournalWriter:
    """Group commit for keyed journal rows (the hot path of every accepted webhook).

    Each request hands its row to `record` and waits. One task at a time takes every row
    waiting and writes them in one transaction (`record_many`); every request is answered
    once that transaction has committed, so a 200 still means "durably journaled". While
    it commits, new rows queue up for the next batch: no timer, no added latency when idle.
    The task keeps one connection while there is work (its prepared statements stay warm)
    and returns it to the pool when nothing waits. A duplicate key inside one batch is stored
    once, and only its first request is told it was new. If a batch fails, its rows are
    written again one by one, so that only a request whose own row fails gets the error.
    """

    MAX_BATCH = 500

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, row: dict[str, Any]) -> bool:
        """Journal a row with a dedup key; False when the key was already there."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if self._task is None:
            self._task = asyncio.create_task(self._write_waiting(), name="journal-writer")
        return await future

    def _take(self) -> list[_Waiting]:
        batch = self._waiting[: self.MAX_BATCH]
        del self._waiting[: self.MAX_BATCH]
        return batch

    async def _write_waiting(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch = self._take()
                try:
                    async with self._engine.connect() as connection:
                        while batch:
                            async with connection.begin():
                                stored = await record_many(connection, [r for r, _ in batch])
                            _settle_batch(batch, stored)
                            batch = self._take()
                except Exception:
                    # Each row alone, on a fresh (pre-pinged) connection: only a request whose
                    # own row fails gets the error.
                    await self._write_one_by_one(batch)
                    batch = []
        finally:
            self._task = None
            # Only when cancelled mid-batch: no request may wait forever.
            for _, future in batch + self._waiting:
                if not future.done():
                    future.set_exception(RuntimeError("journal writer stopped"))
            self._waiting.clear()

    async def _write_one_by_one(self, batch: list[_Waiting]) -> None:
        for row, future in batch:
            try:
                async with self._engine.begin() as connection:
                    new = await record(connection, row)
            except Exception as exc:
                _settle(future, exc)
            else:
                _settle(future, new)


def _settle_batch(batch: list[_Waiting], stored: set[str]) -> None:
    for row, future in batch:
        key = row["dedup_key"]
        _settle(future, key in stored)
        stored.discard(key)  # a second request with this key in the batch is a duplicate


def _settle(future: asyncio.Future[bool], outcome: bool | Exception) -> None:
    if future.done():  # the request went away (cancelled); its row is written all the same
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


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
