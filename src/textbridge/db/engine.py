"""Engine and session factory. One engine per process; one session per unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
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
    # Thirty connections, kept: with overflow connections (opened for a burst, closed at
    # check-in) 32 concurrent API clients made PostgreSQL start a backend every few requests.
    engine = create_async_engine(
        database_url, pool_size=30, max_overflow=0, pool_pre_ping=False, hide_parameters=True
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, _proxy: Any
) -> None:
    # Instead of pool_pre_ping, which costs three round trips per checkout with asyncpg (BEGIN,
    # an empty query, ROLLBACK): a connection the server closed (a restart, an idle timeout,
    # pg_terminate_backend) was seen closing by the event loop, so asyncpg knows it without
    # asking. DisconnectionError makes the pool drop it and check out another (SQLAlchemy's
    # documented pessimistic checkout). A connection that died silently fails its first
    # statement instead: SQLAlchemy then invalidates the whole pool, and `db.retry` runs the
    # work again once where nothing was written yet (see DESIGN-NOTES, "API send: ...").
    driver_connection: Any = getattr(dbapi_connection, "_connection", None)
    if driver_connection is not None and driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection")


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets the inbox read while the dispatcher and webhooks write; foreign keys are off by
    # default in SQLite and we rely on them.
    cursor: Any = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
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
