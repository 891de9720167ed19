"""Login throttling, counted from the audit log: shared by every process on the database,
with no table or state of its own.

A failed login is recorded as `login.failed` (actor `anonymous`, target `user:<name>`,
origin the client address). Before a password is even checked, the failures of the last
`WINDOW` are counted for that name and for that address: at `MAX_FAILURES` of either, the
attempt is refused (429) until the oldest of them leaves the window. So the tenth failed
attempt in a minute is never checked, and guessing goes at nine a minute per name and per
address at most."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.auth.principal import user_actor
from textbridge.db.base import utcnow
from textbridge.models import AuditEntry

WINDOW = timedelta(minutes=1)
MAX_FAILURES = 9
FAILED = "login.failed"


async def retry_after(db: AsyncSession, username: str, origin: str | None) -> int | None:
    """Seconds until this name and address may try again, or None when they may now."""
    since = utcnow() - WINDOW
    for subject in _subjects(username, origin):
        query = select(func.count(), func.min(AuditEntry.at)).where(
            AuditEntry.action == FAILED, AuditEntry.at > since, subject
        )
        count, oldest = (await db.execute(query)).one()
        if count >= MAX_FAILURES and oldest is not None:
            wait = (oldest + WINDOW - utcnow()).total_seconds()
            return max(1, math.ceil(wait))
    return None


def _subjects(username: str, origin: str | None) -> list[ColumnElement[bool]]:
    subjects = [AuditEntry.target == user_actor(username)]
    if origin:
        subjects.append(AuditEntry.origin == origin)
    return subjects
