"""The migrations build exactly the schema the models describe, and they go down and up."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from textbridge.db import migrate
from textbridge.db.base import Base
from textbridge.messaging import search

from ..support.database import Database, run_sync


def _differences(url: str) -> list[Any]:
    async def compare() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_compare)
        finally:
            await engine.dispose()

    return run_sync(compare())


def _compare(connection: Connection) -> list[Any]:
    options = {"compare_type": True, "include_name": _modelled}
    context = MigrationContext.configure(connection, opts=options)
    return list(compare_metadata(context, Base.metadata))


def _modelled(name: str | None, kind: str, _: Any) -> bool:
    """Search's GIN and FTS5 objects are the migration's alone (`messaging.search`)."""
    unmodelled = name in search.UNMODELLED or (name or "").startswith("messages_fts_")
    return not (kind in ("table", "index") and unmodelled)


def test_models_match_the_migrated_schema(database: Database) -> None:
    assert _differences(database.url) == []


def test_down_to_nothing_and_up_again(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/roundtrip.db"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    assert _differences(url) == []
