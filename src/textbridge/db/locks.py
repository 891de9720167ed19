"""The one advisory lock: erasures against the campaign writes that read consent first.

A campaign chunk (staging) and a start read the consent ledger, then write rows naming many
people, in one transaction; an erasure committing between the read and the write would leave
those rows with an erased person's number. Locking each recipient's contact would cost a row
lock per recipient (100 000 for a large campaign); instead each such transaction holds this
lock shared (they never wait for each other) and an erasure holds it exclusively, first: one
waits for the other, and whoever comes second reads the ledger after the first committed.
Transaction-scoped: released at commit or rollback. PostgreSQL only (on SQLite every
transaction already holds the database's write lock)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ERASURE_LOCK_KEY = 0x7478_6572_6173_6531
"""An arbitrary 64-bit key no other advisory lock of ours uses."""
_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)")
_TRY_SHARED = text("SELECT pg_try_advisory_xact_lock_shared(:key)")
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:key)")


async def keep_erasures_out(session: AsyncSession) -> None:
    """For a campaign write: wait for an erasure under way, and keep new ones waiting until
    this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_SHARED, {"key": ERASURE_LOCK_KEY})


async def try_keep_erasures_out(session: AsyncSession) -> bool:
    """`keep_erasures_out` without waiting: False when an erasure holds the lock or waits for
    it (PostgreSQL queues a shared request behind a waiting exclusive one). For a helper of a
    transaction that holds the lock already: waiting there could wait for that transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(await session.scalar(_TRY_SHARED, {"key": ERASURE_LOCK_KEY}))


async def erase_alone(session: AsyncSession) -> None:
    """For an erasure: wait for the campaign writes under way, and keep new ones waiting."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_EXCLUSIVE, {"key": ERASURE_LOCK_KEY})
