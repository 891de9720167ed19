"""A person's data rights: export everything of theirs, or erase it (admins only).

`GET /contacts/{address}/export` streams one JSON document (see `compliance.export`);
`DELETE /contacts/{address}` erases them (see `compliance.erasure`) and answers with counts.
Both are written to the audit log under the address's keyed hash, never the number.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from textbridge.api.deps import AdminDep, RuntimeDep, client_address
from textbridge.api.errors import ApiError
from textbridge.audit.log import key_actor
from textbridge.compliance import erasure, export

router = APIRouter(prefix="/contacts", tags=["contacts"])


class ErasedOut(BaseModel):
    address_hash: str
    """The keyed hash the consent tombstone and the audit entry name the person by."""
    contacts: int
    messages: int
    cancelled: int
    """Messages that had not left yet, now never sent."""
    attachments: int
    events: int
    journal_entries: int
    live_events: int
    webhook_deliveries: int
    campaign_recipients: int
    consent_records: int
    opt_out_recorded: bool
    files_deleted: int
    files_failed: int
    """Stored files that could not be deleted yet; they are retried in the background."""


@router.get(
    "/{address}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def export_contact(
    address: str, request: Request, runtime: RuntimeDep, key: AdminDep
) -> StreamingResponse:
    """Everything of this person as JSON: contact, conversations, every message with its
    media references and status events, consent records, staged campaign texts."""
    try:
        who = await export.begin(
            runtime.sessions, address, actor=key_actor(key), origin=client_address(request)
        )
    except export.NothingToExport:
        raise ApiError(404, "not_found", "nothing is stored for this address", "address") from None
    return StreamingResponse(
        export.stream(runtime.sessions, who),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="contact-export.json"'},
    )


@router.delete("/{address}", response_model=ErasedOut)
async def erase_contact(
    address: str, request: Request, runtime: RuntimeDep, key: AdminDep
) -> ErasedOut:
    """Erase this person: name, texts, media, every copy of the address; keep counts and an
    opt-out (a keyed-hash tombstone). Safe to repeat."""
    report = await erasure.erase(
        runtime.sessions,
        address,
        actor=key_actor(key),
        origin=client_address(request),
        media_dir=runtime.settings.media_dir,
    )
    runtime.bus.forget_recent()  # its ring of recent events may hold the person's texts
    return ErasedOut(address_hash=report.address_hash, **report.counts())
