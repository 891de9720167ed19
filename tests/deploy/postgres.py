"""An empty PostgreSQL database of the test's own (not migrated: the deployment's own
`db upgrade` does that), dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ..support.ci import skip_or_fail
from ..support.database import POSTGRES_URL, run_sync


async def _execute(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    return run_sync(_execute(url.replace("postgresql://", "postgresql+asyncpg://", 1), sql))


@contextmanager
def empty_postgres_database() -> Iterator[str]:
    """The URL (`postgresql://`, as a deployment writes it) of a new, empty database."""
    try:
        query(POSTGRES_URL, "SELECT 1")
    except Exception as exc:
        skip_or_fail(f"PostgreSQL at {POSTGRES_URL} does not answer ({type(exc).__name__})")
    name = f"textbridge_deploy_{secrets.token_hex(4)}"
    query(POSTGRES_URL, f"CREATE DATABASE {name}")
    try:
        server = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql+asyncpg://", "postgresql://")
        yield f"{server}/{name}"
    finally:
        query(POSTGRES_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
