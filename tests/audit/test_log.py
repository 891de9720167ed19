"""The audit log takes new entries and refuses every change to old ones, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from textbridge.audit import log
from textbridge.models import AuditEntry

from ..support.database import Database


@pytest.fixture
async def db(database: Database, tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(database.fresh_url(tmp_path))
    try:
        async with async_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def test_an_entry_is_kept_with_who_what_when_and_where(db: AsyncSession) -> None:
    await log.record(
        db, actor="cli:ops", action="key.created", target="key:tb_abcde", origin=log.CLI_ORIGIN
    )
    await db.commit()
    entry = await db.scalar(select(AuditEntry))
    assert entry is not None
    assert (entry.actor, entry.action, entry.target, entry.origin) == (
        "cli:ops",
        "key.created",
        "key:tb_abcde",
        "cli",
    )
    assert entry.at is not None


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_database_refuses_to_change_an_entry(db: AsyncSession, change: str) -> None:
    await log.record(db, actor="cli:ops", action="key.revoked")
    await db.commit()
    statement = (
        update(AuditEntry).values(action="nothing.happened")
        if change == "update"
        else delete(AuditEntry)
    )
    with pytest.raises(Exception, match="append-only"):
        await db.execute(statement)
    await db.rollback()
    assert await db.scalar(select(AuditEntry.action)) == "key.revoked"
