"""A contact's consent: the current state per scope and the ledger behind it; recording an
opt-in or opt-out by hand (source `api`, or `inbox` from the inbox's session). Every change
made here is in the audit log (`consent.changed`, the address as its keyed hash)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from textbridge.api.deps import ReadDep, SendDep, UowDep, client_address
from textbridge.api.errors import ApiError
from textbridge.api.schemas import StorableJson, StorableStr
from textbridge.compliance import consent
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.models import ConsentRecord
from textbridge.models.consent_record import ALL_SENDERS

router = APIRouter(prefix="/contacts", tags=["consent"])


class ConsentRecordOut(BaseModel):
    id: int
    action: str
    scope: str
    channel: str | None
    source: str
    kind: str
    expires_at: datetime | None
    evidence: dict[str, Any] | None
    actor: str | None
    recorded_at: datetime

    @classmethod
    def of(cls, row: ConsentRecord) -> ConsentRecordOut:
        return cls(
            id=row.id,
            action=row.action,
            scope=row.scope,
            channel=row.channel,
            source=row.source,
            kind=row.kind,
            expires_at=row.expires_at,
            evidence=row.evidence,
            actor=row.actor,
            recorded_at=row.recorded_at,
        )


class ConsentOut(BaseModel):
    address: str
    states: dict[str, str]
    """The current state per scope (`*`: all our senders): opted_in, opted_out or none."""
    history: list[ConsentRecordOut]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["opt_in", "opt_out"]
    scope: StorableStr = Field(ALL_SENDERS, min_length=1, max_length=140)
    kind: Literal["express", "implied"] = "express"
    expires_at: AwareDatetime | None = Field(
        None, description="implied consent: when it lapses (default: CASL's two years)"
    )
    channel: Literal["sms", "whatsapp"] | None = None
    evidence: StorableJson | None = Field(
        None, description="what proves it: a form, a document, a request id"
    )


@router.get("/{address}/consent", response_model=ConsentOut)
async def get_consent(address: str, uow: UowDep, _: ReadDep) -> ConsentOut:
    contact = _address(address)
    return await _view(uow, contact)


@router.post("/{address}/consent", response_model=ConsentOut, status_code=201)
async def record_consent(
    address: str, body: ConsentIn, request: Request, uow: UowDep, caller: SendDep
) -> ConsentOut:
    """Record an opt-in or opt-out; answers the new state and history."""
    contact = _address(address)
    source = "inbox" if getattr(request.state, "web_session", None) else "api"
    actor = caller.actor
    change = consent.Change(
        address=contact,
        action=body.action,
        source=source,
        scope=body.scope,
        channel=body.channel,
        kind=body.kind,
        expires_at=body.expires_at,
        evidence={**(body.evidence or {}), "request_id": _request_id(request)},
        actor=actor,
    )
    try:
        await consent.record(uow.session, change)
    except consent.ConsentError as exc:
        raise ApiError(422, "invalid_consent", str(exc), exc.field) from None
    await consent.audit(uow.session, change, actor, client_address(request))
    view = await _view(uow, contact)
    await uow.commit()
    return view


async def _view(uow: UnitOfWork, contact: str) -> ConsentOut:
    records = await consent.ledger_of(uow.session, contact)
    return ConsentOut(
        address=contact,
        states=consent.states_of(records, utcnow()),
        history=[ConsentRecordOut.of(row) for row in records],
    )


def _request_id(request: Request) -> str:
    """The caller's `X-Request-Id` when it sent one (to tie the record to its own logs)."""
    given = request.headers.get("x-request-id", "").strip()
    return given[:100] if given.isprintable() and given else str(uuid.uuid4())


def _address(raw: str) -> str:
    try:
        return consent.contact_address(raw)
    except consent.ConsentError as exc:
        raise ApiError(422, "invalid_address", str(exc), "address") from None
