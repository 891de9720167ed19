"""The migrations build exactly the schema the models describe, and they go down and up."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from textbridge.db import migrate, partitions
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
    options: dict[str, Any] = {"compare_type": True, "include_name": _modelled}
    if connection.dialect.name == "postgresql":
        options["include_object"] = _in_models
    context = MigrationContext.configure(connection, opts=options)
    return list(compare_metadata(context, Base.metadata))


def _modelled(name: str | None, kind: str, _: Any) -> bool:
    """Search's GIN and FTS5 objects are the migration's alone (`messaging.search`)."""
    unmodelled = name in search.UNMODELLED or (name or "").startswith("messages_fts_")
    return not (kind in ("table", "index") and unmodelled)


def _in_models(item: Any, name: str | None, kind: str, reflected: bool, _: Any) -> bool:
    """On PostgreSQL, `messages`' partitions, key table and the unique constraints and foreign
    keys a partitioned table cannot have are the migration's alone (`db.partitions`)."""
    return not partitions.unmodelled(name, kind)


def test_models_match_the_migrated_schema(database: Database) -> None:
    assert _differences(database.url) == []


def test_down_to_nothing_and_up_again(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/roundtrip.db"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    assert _differences(url) == []


SEARCH_REVISION = "9a03c0a39a03"  # the search migration, which made them
FTS_TRIGGERS = ["messages_fts_delete", "messages_fts_insert", "messages_fts_update"]


def _triggers(path: Any) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
            " AND name LIKE 'messages_fts_%' ORDER BY name"
        )
        return [row[0] for row in rows]


def test_the_search_triggers_survive_the_migrations_after_search(tmp_path: Any) -> None:
    """The FTS5 index follows `messages` only through its triggers, which no model describes
    (so the schema comparison cannot see them go): a later migration that rebuilt `messages`
    (SQLite's batch mode copies the table) would drop them silently."""
    path = tmp_path / "triggers.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    assert _triggers(path) == FTS_TRIGGERS
    migrate.downgrade(url, SEARCH_REVISION)
    assert _triggers(path) == FTS_TRIGGERS
    migrate.upgrade(url)
    assert _triggers(path) == FTS_TRIGGERS


def test_upgrade_leaves_a_newer_releases_revision(tmp_path: Any) -> None:
    """A database a newer release migrated (a revision this code does not know) is left as it
    is and its revision returned: during a rolling upgrade a node of this release restarting
    runs `db upgrade` first (tests/deploy/test_rolling_upgrade.py, on PostgreSQL)."""
    path = tmp_path / "newer.db"
    url = f"sqlite+aiosqlite:///{path}"
    assert migrate.upgrade(url) is None
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = 'fffffffffff1'")
    assert migrate.upgrade(url) == "fffffffffff1"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("fffffffffff1",)
        ]
