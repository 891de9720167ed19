"""Telling a transaction that lost a lock conflict (and may simply be run again) from a real
error."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# PostgreSQL's SQLSTATEs for "deadlock detected" and "could not serialize access".
_RETRYABLE = frozenset({"40P01", "40001"})


def is_deadlock(error: DBAPIError) -> bool:
    """Whether the database rolled the transaction back to break a deadlock (or a
    serialization conflict): the same transaction, run again, may well succeed."""
    return lost_a_lock_conflict(error.orig)


def lost_a_lock_conflict(error: object) -> bool:
    """`is_deadlock` for a bare driver error (asyncpg's carry their `sqlstate`)."""
    return getattr(error, "sqlstate", None) in _RETRYABLE
