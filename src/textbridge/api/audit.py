"""The audit log for admins: newest first, filtered by action, actor and time, in pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

from textbridge.api.conversations import _in_utc_range
from textbridge.api.deps import AdminDep, UowDep
from textbridge.api.schemas import storable
from textbridge.audit.query import MAX_PAGE, AuditFilter, entries

router = APIRouter(prefix="/audit", tags=["audit"])

Moment = Annotated[
    AwareDatetime | None,
    AfterValidator(_in_utc_range),
    Query(description="An ISO 8601 time with its offset, e.g. 2026-11-30T08:00:00Z"),
]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    origin: str | None
    detail: dict[str, Any] | None


@router.get("", response_model=list[AuditEntryOut])
async def list_audit(
    uow: UowDep,
    _: AdminDep,
    action: Annotated[
        str | None,
        Query(max_length=64, description="`key.revoked`, or a family: `login.`"),
        AfterValidator(storable),
    ] = None,
    actor: Annotated[
        str | None,
        Query(max_length=200, description="`key:<prefix>`, `user:<name>`, `cli:<user>`"),
        AfterValidator(storable),
    ] = None,
    since: Moment = None,
    until: Moment = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="The next page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[AuditEntryOut]:
    """Newest first; for the next page, pass the last entry's `id` as `before_id`."""
    wanted = AuditFilter(action, actor, since, until, before_id, limit)
    found = await entries(uow.session, wanted)
    return [AuditEntryOut.model_validate(entry) for entry in found]
