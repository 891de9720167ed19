"""The group-commit journal writer on a real database: concurrent rows, duplicates inside
one batch and across batches, and a row that cannot be written."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine
from textbridge.models import WebhookNonce
from textbridge.webhooks.journal import (
    NONCE_WINDOW,
    PENDING,
    JournalWriter,
    NonceReplayed,
    purge_nonces,
)

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


def _nonce(value: str, digest: str) -> dict[str, Any]:
    return {"provider": "plivo", "nonce": value, "digest": digest, "seen_at": utcnow()}


async def test_a_nonce_is_claimed_once_per_request(database: Database, tmp_path: Path) -> None:
    """Same nonce, same digest: a redelivery (stored once); another digest: a replay. Inside
    one batch and across batches alike."""
    engine = create_engine(database.fresh_url(tmp_path))
    writer = JournalWriter(engine)
    try:
        together = await asyncio.gather(
            writer.record(_row("a"), _nonce("n1", "d1")),
            writer.record(_row("a"), _nonce("n1", "d1")),
            writer.record(_row("b"), _nonce("n1", "d2")),
            writer.record(_row("c"), None),
            return_exceptions=True,
        )
        later = await asyncio.gather(
            writer.record(_row("a"), _nonce("n1", "d1")),
            writer.record(_row("d"), _nonce("n1", "d3")),
            writer.record(_row("e"), _nonce("n2", "d1")),
            return_exceptions=True,
        )
    finally:
        await engine.dispose()
    assert together[:2] == [True, False]
    assert isinstance(together[2], NonceReplayed)
    assert together[3] is True
    assert later[0] is False
    assert isinstance(later[1], NonceReplayed)
    assert later[2] is True
    keys = database.rows("SELECT dedup_key FROM webhook_journal ORDER BY dedup_key")
    assert [key for (key,) in keys] == ["a", "c", "e"]
    assert database.scalar("SELECT count(*) FROM webhook_nonces") == 2


async def test_a_nonce_is_burnt_only_with_its_row(database: Database, tmp_path: Path) -> None:
    """A request whose journal row fails to commit leaves its nonce free for the retry."""
    engine = create_engine(database.fresh_url(tmp_path))
    writer = JournalWriter(engine)
    bad = {**_row("bad"), "method": None}  # NOT NULL
    try:
        failed = await asyncio.gather(
            writer.record(bad, _nonce("n1", "d1")), return_exceptions=True
        )
        retried = await writer.record(_row("good"), _nonce("n1", "d1"))
    finally:
        await engine.dispose()
    assert isinstance(failed[0], DBAPIError | StatementError)
    assert retried is True


async def test_nonces_older_than_the_window_are_purged(database: Database, tmp_path: Path) -> None:
    engine = create_engine(database.fresh_url(tmp_path))
    writer = JournalWriter(engine)
    try:
        await writer.record(_row("old"), _nonce("n-old", "d"))
        await writer.record(_row("new"), _nonce("n-new", "d"))
        database.run(
            update(WebhookNonce)
            .where(WebhookNonce.nonce == "n-old")
            .values(seen_at=utcnow() - NONCE_WINDOW - timedelta(minutes=1))
        )
        async with AsyncSession(engine) as session:
            assert await purge_nonces(session) == 1
            await session.commit()
        # Past the window, the old nonce is free again; the journal's dedup key still holds.
        assert await writer.record(_row("old"), _nonce("n-old", "other")) is False
    finally:
        await engine.dispose()
    nonces = database.rows("SELECT nonce FROM webhook_nonces ORDER BY nonce")
    assert [nonce for (nonce,) in nonces] == ["n-new", "n-old"]


@pytest.mark.postgresql_only  # the one-statement write and its snapshot are PostgreSQL's
async def test_a_nonce_committed_while_the_write_waited_is_judged_by_its_digest(
    database: Database, tmp_path: Path
) -> None:
    """Another process's request holds the nonce, uncommitted, when this write starts: the
    write waits for it, and once it commits, the stored digest (which the write's snapshot
    does not show) decides: the same request is a redelivery, another one a replay."""
    engine = create_engine(database.fresh_url(tmp_path))
    writer = JournalWriter(engine)
    try:
        async with engine.connect() as holder:
            await holder.begin()
            await holder.execute(insert(WebhookNonce), [_nonce("n1", "d1"), _nonce("n2", "d2")])
            same = asyncio.create_task(writer.record(_row("a"), _nonce("n1", "d1")))
            other = asyncio.create_task(writer.record(_row("b"), _nonce("n2", "forged")))
            await _until_waiting_on_a_lock(engine)
            assert not same.done()
            assert not other.done()
            await holder.commit()
        assert await same is False
        with pytest.raises(NonceReplayed):
            await other
    finally:
        await engine.dispose()
    assert database.scalar("SELECT count(*) FROM webhook_journal") == 0


async def _until_waiting_on_a_lock(engine: AsyncEngine) -> None:
    """(Polled from a connection of its own: a transaction keeps its first view of
    `pg_stat_activity`.)"""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()"
    )
    async with asyncio.timeout(10), engine.connect() as watcher:
        while not (await watcher.execute(waiting)).scalar_one():
            await watcher.rollback()
            await asyncio.sleep(0.01)
