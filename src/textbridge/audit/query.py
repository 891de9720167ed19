"""Reading the audit log: newest first, filtered, a page at a time (`before_id`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.models import AuditEntry

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    """One action (`login.failed`), or a family with a trailing dot (`login.`)."""
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100


async def entries(db: AsyncSession, wanted: AuditFilter) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(wanted.limit, MAX_PAGE))
    if wanted.action:
        if wanted.action.endswith("."):
            query = query.where(AuditEntry.action.startswith(wanted.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == wanted.action)
    if wanted.actor:
        query = query.where(AuditEntry.actor == wanted.actor)
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEntry.at < wanted.until)
    if wanted.before_id is not None:
        query = query.where(AuditEntry.id < wanted.before_id)
    return list(await db.scalars(query))
