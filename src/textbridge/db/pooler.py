"""Refuse a PostgreSQL URL that goes through a pooler in transaction mode.

PgBouncer with `pool_mode = transaction`, and Supavisor's transaction mode (Supabase's pooler
on port 6543), lend a client a server connection for one transaction only. textbridge needs a
session: each process holds LISTEN on one connection for its life (wake-ups, live events, key
revocations), and asyncpg prepares named statements on a connection and uses them in later
transactions. Through such a pooler the notifications go to whichever client holds that server
connection at the time, and statements fail with "prepared statement ... does not exist" at
random, under load. So `serve`, `worker` and `db upgrade` refuse it at start-up, naming the fix:
the direct connection or the pooler's session mode.

Two checks, the first free:

1. **The address.** Supabase documents its pooler host (`*.pooler.supabase.com`) as session
   mode on port 5432 and transaction mode on port 6543.
2. **The behaviour**, for any pooler. Client A reads its server process id
   (`pg_backend_pid()`); then client B, inside a transaction, reads its own, and A reads its
   own again. On a session (a direct connection, or a pooler in session mode) each client has
   one server process for its whole life: B's differs from A's and A's does not change. A
   transaction pooler put A's server back in its pool after A's statement, and hands it to
   the next transaction that asks (PgBouncer reuses the most recently released server first):
   B gets it, or A's next statement gets another. Either proves transaction pooling. The probe
   can miss one (a pool busy with other clients may hand B yet another server), but never
   accuses a session, so it never stops a correct deployment.

`transaction_pooler` returns the reason as one line, or None.
"""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from textbridge.realtime.listener import asyncpg_dsn

SUPABASE_POOLER_SUFFIX = ".pooler.supabase.com"
SUPABASE_TRANSACTION_PORT = 6543
PROBE_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What the probe raises when the database does not answer (it then proves nothing)."""
FIX = (
    "textbridge needs a session (LISTEN/NOTIFY, prepared statements): use the direct "
    "connection (Supabase: db.<project>.supabase.co:5432) or the pooler's session mode "
    "(Supabase: port 5432 on the pooler host; PgBouncer: pool_mode = session) in "
    "TEXTBRIDGE_DATABASE_URL"
)


PROBE_SECONDS = 10.0


async def transaction_pooler(database_url: str) -> str | None:
    """Why `database_url` reaches PostgreSQL through a transaction-mode pooler, or None (also
    for SQLite)."""
    if not database_url.startswith("postgresql"):
        return None
    by_address = supabase_transaction_port(database_url)
    if by_address is not None:
        return by_address
    async with asyncio.timeout(PROBE_SECONDS):
        return await _server_process_shared(asyncpg_dsn(database_url))


def supabase_transaction_port(database_url: str) -> str | None:
    """Why the address alone is Supabase's transaction-mode pooler, or None."""
    url = make_url(database_url)
    host = (url.host or "").lower()
    if host.endswith(SUPABASE_POOLER_SUFFIX) and url.port == SUPABASE_TRANSACTION_PORT:
        return (
            f"TEXTBRIDGE_DATABASE_URL points at Supabase's pooler in transaction mode "
            f"({host}:{SUPABASE_TRANSACTION_PORT}). {FIX}"
        )
    return None


async def _server_process_shared(dsn: str) -> str | None:
    # No statement cache: through a transaction pooler a named statement prepared on one
    # server would be missing on the next, and the probe itself must not fail that way.
    first = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        second = await asyncpg.connect(dsn, statement_cache_size=0)
        try:
            before = await first.fetchval("SELECT pg_backend_pid()")
            async with second.transaction():
                other = await second.fetchval("SELECT pg_backend_pid()")
                after = await first.fetchval("SELECT pg_backend_pid()")
        finally:
            await second.close()
    finally:
        await first.close()
    if before == other or before != after:
        return (
            "TEXTBRIDGE_DATABASE_URL goes through a connection pooler in transaction mode "
            "(two connections were given the same PostgreSQL server process, or one "
            f"connection changed server between statements). {FIX}"
        )
    return None
