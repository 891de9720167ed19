"""`?ssl=...` in TEXTBRIDGE_DATABASE_URL (how a managed PostgreSQL's TLS is asked for) works on
both of textbridge's connection paths: the SQLAlchemy engine and the plain asyncpg connections
(the LISTEN connection, the send path's pool, the pooler probe). The local server has no TLS,
so `ssl=disable` is what can connect here; `ssl=require` must then be refused by both paths
for the same reason (no TLS), not for a malformed parameter."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from textbridge.db.engine import create_engine
from textbridge.realtime.listener import asyncpg_dsn

from ..support.database import POSTGRES_URL
from .postgres import empty_postgres_database


def _with(url: str, query: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1) + f"?{query}"


async def _both_paths(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            through_engine = (await connection.execute(text("SELECT 1"))).scalar_one()
    finally:
        await engine.dispose()
    direct = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return through_engine, await direct.fetchval("SELECT 1")
    finally:
        await direct.close()


def test_the_dsn_says_sslmode_where_the_url_says_ssl() -> None:
    dsn = asyncpg_dsn("postgresql+asyncpg://u:p@db.example.com:5432/x?ssl=verify-full")
    assert dsn == "postgresql://u:p@db.example.com:5432/x?sslmode=verify-full"


def test_ssl_in_the_url_reaches_both_connection_paths() -> None:
    assert POSTGRES_URL.startswith("postgresql+asyncpg://")
    with empty_postgres_database() as url:
        assert asyncio.run(_both_paths(_with(url, "ssl=disable"))) == (1, 1)
        for path in ("engine", "asyncpg"):
            with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
                asyncio.run(_one_path(_with(url, "ssl=require"), path))


async def _one_path(url: str, path: str) -> None:
    if path == "asyncpg":
        await (await asyncpg.connect(asyncpg_dsn(url))).close()
        return
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
