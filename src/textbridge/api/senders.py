"""Our numbers: which provider and channel each one carries (the inbox's sender picker),
each one's own replies to the STOP, START and HELP keywords (compliance/keywords.py), and
each one's own send rate (the rate governor, dispatch/governor.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from textbridge.api.deps import AdminDep, ReadDep, RuntimeDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.api.schemas import StorableStr
from textbridge.compliance import keywords
from textbridge.models import Sender

router = APIRouter(prefix="/senders", tags=["senders"])

Reply = Field(None, max_length=1600)
MAX_MESSAGES_PER_SECOND = 1000.0
"""The highest rate one sender can be given: a WhatsApp number's top tier (1,000 messages/s,
reference/domain.md), the fastest per-number figure any provider publishes; a bigger number is
a typo, and would let the governor flood the provider."""


class SenderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: str
    channel: str
    address: str
    reply_stop: str | None
    reply_start: str | None
    reply_help: str | None
    """The sender's own keyword replies: null for the configured default, "" for none."""
    messages_per_second: float | None
    """The sender's own send rate (SMS: segments per second); null: TEXTBRIDGE_RATE_SENDERS
    for its address, else its kind's default (TEXTBRIDGE_RATE_LONG_CODE, ...)."""
    replies: dict[str, str]
    """The reply each keyword family gets from this sender, as it stands (English)."""

    @classmethod
    def of(cls, sender: Sender) -> SenderOut:
        policy = keywords.active()
        own = {family: getattr(sender, f"reply_{family}") for family in keywords.FAMILIES}
        return cls(
            id=sender.id,
            provider=sender.provider,
            channel=sender.channel,
            address=sender.address,
            reply_stop=own["stop"],
            reply_start=own["start"],
            reply_help=own["help"],
            messages_per_second=sender.messages_per_second,
            replies={
                family: text if text is not None else policy.default_replies[family]
                for family, text in own.items()
            },
        )


class SenderPatchIn(BaseModel):
    """Only the fields sent change; null restores the configured default, "" sends no reply
    (e.g. where the provider or carrier confirms STOP itself). `messages_per_second` is the
    rate the governor holds this sender to, in every process within a second or two (no
    restart); it wins over TEXTBRIDGE_RATE_SENDERS and the kind's default."""

    model_config = ConfigDict(extra="forbid")

    reply_stop: StorableStr | None = Reply
    reply_start: StorableStr | None = Reply
    reply_help: StorableStr | None = Reply
    messages_per_second: float | None = Field(None, gt=0, le=MAX_MESSAGES_PER_SECOND, strict=True)


@router.get("", response_model=list[SenderOut])
async def list_senders(uow: UowDep, runtime: RuntimeDep, _: ReadDep) -> list[SenderOut]:
    """Senders of the configured providers, in the order the API picks a default."""
    query = (
        select(Sender)
        .where(Sender.provider.in_(tuple(runtime.providers)))
        .order_by(Sender.created_at, Sender.provider, Sender.address)
    )
    return [SenderOut.of(sender) for sender in await uow.session.scalars(query)]


@router.get("/{sender_id}", response_model=SenderOut)
async def get_sender(sender_id: uuid.UUID, uow: UowDep, _: ReadDep) -> SenderOut:
    return SenderOut.of(await _sender(uow, sender_id))


@router.patch("/{sender_id}", response_model=SenderOut)
async def update_sender(
    sender_id: uuid.UUID, body: SenderPatchIn, uow: UowDep, runtime: RuntimeDep, _: AdminDep
) -> SenderOut:
    """Set the sender's own keyword replies and send rate."""
    sender = await _sender(uow, sender_id)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        setattr(sender, name, value)
    await uow.commit()
    if "messages_per_second" in changes:
        runtime.sender_rates_changed()  # after the commit: the governors read the new rate
    return SenderOut.of(sender)


async def _sender(uow: UowDep, sender_id: uuid.UUID) -> Sender:
    sender = await uow.session.get(Sender, sender_id)
    if sender is None:
        raise ApiError(404, "not_found", f"no sender {sender_id}", "sender_id")
    return sender
