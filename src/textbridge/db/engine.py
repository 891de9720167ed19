"""Engine and session factory. One engine per process; one session per unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def create_engine(database_url: str) -> AsyncEngine:
    # hide_parameters: an error's text must not carry the values (message texts, numbers).
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_async_engine(
        database_url, pool_size=20, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets the inbox read while the dispatcher and webhooks write; foreign keys are off by
    # default in SQLite and we rely on them.
    cursor: Any = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Deleted or overwritten content is zeroed, not left in the page's free space: an erased
    # person's texts must not survive in the file (compliance/erasure.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
    # We issue BEGIN ourselves (below); the driver's own implicit BEGIN would break SAVEPOINT.
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(connection: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for another writer: SQLite
    # answers "database is locked" at once instead of honouring busy_timeout. Taking the write
    # lock at BEGIN makes every transaction queue behind the current writer instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
