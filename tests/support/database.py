"""The real databases the suite runs on: a migrated SQLite file, and PostgreSQL when it answers.

Both are built by running the Alembic migrations, never `create_all`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import create_async_engine

from textbridge.db import migrate

from .ci import skip_or_fail

POSTGRES_URL = os.environ.get(
    "TEXTBRIDGE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TABLES = (
    "message_counts",
    "message_totals",
    "delivery_time_counts",
    "message_block_counts",
    "delivery_time_block_counts",
    "attachments",
    "campaign_recipients",
    "campaigns",
    "message_templates",
    "message_events",
    "messages",
    "message_keys",
    "conversations",
    "contacts",
    "senders",
    "webhook_journal",
    "webhook_nonces",
    "webhook_subscriptions",
    "webhook_deliveries",
    "web_sessions",
    "users",
    "api_keys",
    "governor_limits",
    "live_events",
    "consent_records",
    "audit_log",
)
"""Emptied between tests on PostgreSQL (TRUNCATE fires no row triggers, so the append-only
audit log empties too; `message_keys` is PostgreSQL's alone, see `db/partitions.py`). Never
`instance_secrets`: it holds the key of the address hash."""
T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even while a test's loop is running."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _execute(
    url: str, sql: str | Executable, params: dict[str, Any] | None = None
) -> list[Any]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    statement = text(sql) if isinstance(sql, str) else sql
    try:
        async with engine.connect() as connection:
            result = await connection.execute(statement, params or {})
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


class Database:
    """One backend for the session; `fresh_url()` gives an empty, migrated database per test."""

    def __init__(self, backend: str, url: str, template: Path | None = None) -> None:
        self.backend = backend
        self.url = url
        self._template = template
        self._counter = 0

    def fresh_url(self, folder: Path) -> str:
        if self._template is not None:
            self._counter += 1
            copy = folder / f"textbridge-{self._counter}.db"
            shutil.copy(self._template, copy)
            self.url = f"sqlite+aiosqlite:///{copy}"
        else:
            run_sync(_execute(self.url, f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        return self.url

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return run_sync(_execute(self.url, sql, params))

    def run(self, statement: Executable) -> list[Any]:
        """A SQLAlchemy Core statement, so that column types convert values as the app does."""
        return run_sync(_execute(self.url, statement))

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.rows(sql, **params)
        return rows[0][0] if rows else None


def sqlite_database(folder: Path) -> Database:
    template = folder / "template.db"
    url = f"sqlite+aiosqlite:///{template}"
    migrate.upgrade(url)
    return Database("sqlite", url, template)


def postgres_database() -> tuple[Database, str] | str:
    """A new database on the local PostgreSQL, or the reason it cannot be had."""
    try:
        run_sync(_execute(POSTGRES_URL, "SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} does not answer ({type(exc).__name__}: {exc})"
    name = f"textbridge_test_{secrets.token_hex(4)}"
    run_sync(_execute(POSTGRES_URL, f"CREATE DATABASE {name}"))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    return Database("postgresql", url), name


def drop_postgres_database(name: str) -> None:
    run_sync(_execute(POSTGRES_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@contextlib.contextmanager
def own_postgres_database() -> Iterator[Database]:
    """A fresh, migrated PostgreSQL database of its own, dropped afterwards (skipped where no
    PostgreSQL answers, failed in CI)."""
    outcome = postgres_database()
    if isinstance(outcome, str):
        skip_or_fail(outcome)
    database, name = outcome
    try:
        yield database
    finally:
        drop_postgres_database(name)
