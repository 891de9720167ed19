"""`messages` in monthly partitions on PostgreSQL (migration a104c4a4a104): the months ahead.

The migration makes the partitioned table, a default partition and the SQL function
`textbridge_ensure_message_partitions(start, end)`; `ensure_months_ahead` calls it for this
month and the next `MONTHS_AHEAD`, so a month's partition exists before its first message
(one with no month would land in `messages_default`, never fail). The journal purger's pass
calls it (hourly, and once at start-up); a month that exists costs one catalog look-up.

What the models do not describe on PostgreSQL (the schema comparison leaves them out): the
partitions, the key table, the key look-up indexes, and the unique constraints and foreign
keys the partitioned table cannot have (see the migration and docs/DESIGN-NOTES.md).
"""

from __future__ import annotations

import re

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

MONTHS_AHEAD = 3
# A new month's partition is attached under this lock timeout: rather than queue every
# writer behind it, give up and try again at the next pass.
LOCK_TIMEOUT = "2s"
_ENSURE = text(
    "SELECT textbridge_ensure_message_partitions(now(), now() + make_interval(months => :ahead))"
)
_MADE = text(
    "SELECT to_regprocedure('textbridge_ensure_message_partitions(timestamptz, timestamptz)')"
)

# Every process's purger makes the months ahead: one at a time (two making the same month
# would collide in the catalog), the others skip the pass rather than wait.
PARTITIONS_LOCK_KEY = 0x7478_7061_7274_6E73
"""An arbitrary 64-bit advisory lock key no other lock of ours uses (db/locks.py)."""
_ALONE = text("SELECT pg_try_advisory_xact_lock(:key)")

PARTITION_NAME = re.compile(r"^messages_(y\d{4}m\d{2}|default)$")
UNMODELLED_TABLES = frozenset({"message_keys"})
UNMODELLED_INDEXES = frozenset(
    {"ix_messages_idempotency_key", "ix_messages_provider_provider_message_id"}
)
UNMODELLED_CONSTRAINTS = frozenset(
    {
        "uq_messages_idempotency_key",
        "uq_messages_provider_provider_message_id",
        "fk_message_events_message_id_messages",
        "fk_attachments_message_id_messages",
    }
)


def unmodelled(name: str | None, kind: str) -> bool:
    """Whether a PostgreSQL schema object is the partitioning's, not the models'."""
    name = name or ""
    if kind == "table":
        return name in UNMODELLED_TABLES or PARTITION_NAME.match(name) is not None
    if kind == "index":
        return name in UNMODELLED_INDEXES
    return kind in ("unique_constraint", "foreign_key_constraint") and (
        name in UNMODELLED_CONSTRAINTS
    )


async def ensure_months_ahead(session: AsyncSession) -> int:
    """Make this month's and the next `MONTHS_AHEAD` months' partitions (PostgreSQL, once
    migrated); how many were made. Commits."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    if await session.scalar(_MADE) is None:
        return 0  # not migrated that far (an older schema)
    if not await session.scalar(_ALONE, {"key": PARTITIONS_LOCK_KEY}):
        await session.rollback()
        return 0  # another process is making them now
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    made = int(await session.scalar(_ENSURE, {"ahead": MONTHS_AHEAD}) or 0)
    await session.commit()
    if made:
        log.info("message partitions made", months=made)
    return made
