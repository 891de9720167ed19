"""The group-commit journal writer on a real database: concurrent rows, duplicates inside
one batch and across batches, and a row that cannot be written."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, StatementError

from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine
from textbridge.webhooks.journal import PENDING, JournalWriter

from ..support.database import Database


def _row(key: str) -> dict[str, Any]:
    return {
        "provider": "plivo",
        "kind": "status",
        "dedup_key": key,
        "method": "POST",
        "url": "https://x/webhooks/plivo/status",
        "headers": {},
        "body": "",
        "attempts": 0,
        "received_at": utcnow(),
        "state": PENDING,
    }


async def test_concurrent_rows_and_duplicates(database: Database, tmp_path: Path) -> None:
    engine = create_engine(database.fresh_url(tmp_path))
    writer = JournalWriter(engine)
    keys = [f"k{i % 40}" for i in range(200)]  # 40 distinct keys, each 5 times, interleaved
    try:
        outcomes = await asyncio.gather(*(writer.record(_row(key)) for key in keys))
        again = await writer.record(_row("k0"))
    finally:
        await engine.dispose()
    assert sum(outcomes) == 40
    assert {key for key, new in zip(keys, outcomes, strict=True) if new} == {
        f"k{i}" for i in range(40)
    }
    assert again is False
    assert database.scalar("SELECT count(*) FROM webhook_journal") == 40


async def test_a_bad_row_fails_alone(database: Database, tmp_path: Path) -> None:
    engine = create_engine(database.fresh_url(tmp_path))
    writer = JournalWriter(engine)
    bad = {**_row("bad"), "method": None}  # NOT NULL
    try:
        results = await asyncio.gather(
            writer.record(_row("a")),
            writer.record(bad),
            writer.record(_row("b")),
            return_exceptions=True,
        )
    finally:
        await engine.dispose()
    assert results[0] is True
    assert results[2] is True
    assert isinstance(results[1], DBAPIError | StatementError)
    assert database.scalar("SELECT count(*) FROM webhook_journal") == 2
