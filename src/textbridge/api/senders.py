"""Our numbers: which provider and channel each one carries (the inbox's sender picker)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from textbridge.api.deps import ReadDep, RuntimeDep, UowDep
from textbridge.models import Sender

router = APIRouter(prefix="/senders", tags=["senders"])


class SenderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: str
    channel: str
    address: str


@router.get("", response_model=list[SenderOut])
async def list_senders(uow: UowDep, runtime: RuntimeDep, _: ReadDep) -> list[SenderOut]:
    """Senders of the configured providers, in the order the API picks a default."""
    query = (
        select(Sender)
        .where(Sender.provider.in_(tuple(runtime.providers)))
        .order_by(Sender.created_at, Sender.provider, Sender.address)
    )
    return [SenderOut.model_validate(sender) for sender in await uow.session.scalars(query)]
