"""The webhook journal for admins: list entries, read one with its body, replay parked ones.

Every route needs an API key with the `admin` scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict

from textbridge.api.deps import AdminDep, RuntimeDep, UowDep, client_address, require_admin
from textbridge.api.errors import ApiError
from textbridge.audit import log
from textbridge.db.uow import UnitOfWork
from textbridge.models import WebhookJournalEntry
from textbridge.webhooks import journal

router = APIRouter(prefix="/journal", tags=["journal"], dependencies=[Depends(require_admin)])

State = Literal["pending", "applied", "refused", "invalid", "orphaned", "dead", "unverified"]
ReplayableState = Literal["dead", "invalid", "orphaned", "unverified"]
# The id column is a BIGINT: a larger number is refused here, not by the driver (a 500).
MAX_ID = 2**63 - 1
EntryId = Annotated[int, Path(ge=1, le=MAX_ID)]


class JournalEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    kind: str
    state: str
    attempts: int
    error: str | None
    apply_after: datetime | None
    received_at: datetime
    processed_at: datetime | None


class JournalEntryDetail(JournalEntryOut):
    """One entry as received: method, URL, headers (credentials redacted) and raw body."""

    method: str
    url: str
    headers: dict[str, Any]
    body: str


class ReplayedOut(BaseModel):
    replayed: int


@router.get("", response_model=list[JournalEntryOut])
async def list_entries(
    uow: UowDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[JournalEntryOut]:
    """The newest entries first; page on with `before_id` (the last id you saw)."""
    entries = await journal.list_entries(uow.session, state, limit, before_id)
    return [JournalEntryOut.model_validate(entry) for entry in entries]


@router.get("/{entry_id}", response_model=JournalEntryDetail)
async def get_entry(entry_id: EntryId, uow: UowDep) -> JournalEntryDetail:
    entry = await uow.session.get(WebhookJournalEntry, entry_id)
    if entry is None:
        raise ApiError(404, "not_found", f"no journal entry {entry_id}")
    return JournalEntryDetail.model_validate(entry)


@router.post("/replay", response_model=ReplayedOut)
async def replay_state(
    state: ReplayableState, uow: UowDep, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> ReplayedOut:
    """Make every entry in `state` pending again, attempts reset; the applier re-applies them."""
    count = await journal.replay_state(uow.session, state)
    await _audit(uow, caller.actor, request, f"journal:state={state}", count)
    await uow.commit()
    runtime.applier.wake()
    return ReplayedOut(replayed=count)


@router.post("/{entry_id}/replay", response_model=JournalEntryOut)
async def replay_entry(
    entry_id: EntryId, uow: UowDep, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> JournalEntryOut:
    """Make one parked entry (dead, invalid, orphaned or unverified) pending again."""
    try:
        entry = await journal.replay_entry(uow.session, entry_id)
    except journal.NotReplayable as exc:
        raise ApiError(409, "not_replayable", str(exc)) from None
    if entry is None:
        raise ApiError(404, "not_found", f"no journal entry {entry_id}")
    await _audit(uow, caller.actor, request, f"journal:{entry_id}", 1)
    await uow.commit()
    runtime.applier.wake()
    return JournalEntryOut.model_validate(entry)


async def _audit(uow: UnitOfWork, actor: str, request: Request, target: str, count: int) -> None:
    origin = client_address(request)
    await log.record(
        uow.session,
        actor=actor,
        action="journal.replayed",
        target=target,
        origin=origin,
        detail={"replayed": count},
    )
