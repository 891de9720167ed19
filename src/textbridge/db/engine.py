"""Engine and session factory. One engine per process (on PostgreSQL the dispatcher has its own,
with generic plans: `runtime.build_runtime`); one session per unit of work."""

from __future__ import annotations

import functools
import time
from typing import Any

from sqlalchemy import Connection, event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"
"""A pool's setup for statements that look rows up by key or walk an index in order: one plan
for every value. PostgreSQL's default plans each of the first five runs of a prepared
statement, then keeps planning each run as long as its custom plans look cheaper than the
generic one; on the partitioned `messages` table a plan costs 3 to 5 ms, and a custom plan made
with stale statistics (a campaign just enqueued) can be a bad one (DESIGN-NOTES)."""


def create_engine(
    database_url: str, pool_size: int = 30, setup: str | None = None, name: str | None = None
) -> AsyncEngine:
    """`pool_size`: the PostgreSQL connections kept (TEXTBRIDGE_DATABASE_POOL_SIZE); SQLite
    ignores it. `setup`: PostgreSQL, SQL run once on each new connection (not in the startup
    packet, which PgBouncer refuses for most parameters). `name`: PostgreSQL, the
    connections' `application_name` (how an operator finds them in `pg_stat_activity`)."""
    # hide_parameters: an error's text must not carry the values (message texts, numbers).
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    # Connections kept, no overflow: with overflow connections (opened for a burst, closed at
    # check-in) 32 concurrent API clients made PostgreSQL start a backend every few requests.
    connect_args = {"server_settings": {"application_name": name}} if name else {}
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=0,
        hide_parameters=True,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "checkin", _note_checkin)
    event.listen(engine.sync_engine, "checkout", _check_alive)
    if setup is not None:
        event.listen(engine.sync_engine, "connect", functools.partial(_set_up, setup))
    return engine


def _set_up(setup: str, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    await_(dbapi_connection.driver_connection.execute(setup))


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled connection idle for longer is pinged (one round trip) before use."""


def _note_checkin(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _check_alive(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: object) -> None:
    """Instead of `pool_pre_ping`: SQLAlchemy's ping on asyncpg is three round trips (BEGIN, a
    query, ROLLBACK) on every checkout, a third of a small claim's. A connection the server
    closed (a restart) is closed on our side as soon as the loop has read the end of its
    socket: that check is free. One idle for a while is pinged with a single query. Raising
    `DisconnectionError` makes the pool replace the connection (PoolEvents.checkout)."""
    driver = dbapi_connection.driver_connection
    if driver.is_closed():
        raise exc.DisconnectionError("the connection was closed")
    if time.monotonic() - record.info.get("checked_in_at", 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        await_(driver.fetchrow(";"))
    except Exception as error:
        raise exc.DisconnectionError("the connection failed its ping") from error


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
