"""A contact's own settings: its name (shown in the inbox), and its time zone, which quiet hours
go by.

The zone is otherwise estimated from the number (`dispatch.quiet_hours`); setting it here
overrides the estimate for every message that has not left yet, since the dispatcher looks it
up again when it claims a message.
"""

from __future__ import annotations

import phonenumbers
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from textbridge.api.deps import ReadDep, SendDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.api.schemas import StorableStr
from textbridge.dispatch.quiet_hours import InvalidTimeZone, estimated_zones, time_zone
from textbridge.messaging import address, phone
from textbridge.messaging.schemas import ConversationOut
from textbridge.models import Contact, Conversation

router = APIRouter(prefix="/contacts", tags=["contacts"])


class ContactOut(BaseModel):
    address: str
    address_kind: str
    name: str | None
    country: str | None
    time_zone: str | None
    """The zone set for this contact; None: estimated from the number."""
    estimated_time_zones: list[str]
    """The zones the number may be in; quiet hours must hold in all of them."""

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(
            address=contact.address,
            address_kind=contact.address_kind,
            name=contact.name,
            country=contact.country or _country_of(contact),
            time_zone=contact.time_zone,
            estimated_time_zones=[zone.key for zone in estimated_zones(contact.address)],
        )


class ContactPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StorableStr | None = Field(
        None, max_length=200, description="The contact's name; null or blank to clear it"
    )
    time_zone: str | None = Field(
        None,
        max_length=64,
        description="An IANA zone (Europe/Paris); null to estimate from the number",
    )


@router.get("/{address}", response_model=ContactOut)
async def get_contact(address: str, uow: UowDep, _: ReadDep) -> ContactOut:
    return ContactOut.of(await _contact(uow, address))


@router.get("/{address}/conversations", response_model=list[ConversationOut])
async def contact_conversations(address: str, uow: UowDep, _: ReadDep) -> list[ConversationOut]:
    """Every conversation with this contact (one per sender of ours and channel), newest
    first: the inbox's contact panel lists them, whether or not its list has loaded them."""
    contact = await _contact(uow, address)
    found = await uow.session.scalars(
        select(Conversation)
        .where(Conversation.contact_id == contact.id)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id)
    )
    return [ConversationOut.of(conversation) for conversation in found]


@router.patch("/{address}", response_model=ContactOut)
async def update_contact(address: str, body: ContactPatchIn, uow: UowDep, _: SendDep) -> ContactOut:
    """Set or clear the contact's name or time zone (only the fields given)."""
    contact = await _contact(uow, address)
    given = body.model_fields_set
    if "time_zone" in given:
        _check_zone(body.time_zone)
        contact.time_zone = body.time_zone
    if "name" in given:
        contact.name = (body.name or "").strip() or None
        await _announce_rename(uow, contact)
    await uow.commit()
    return ContactOut.of(contact)


def _check_zone(zone: str | None) -> None:
    if zone is None:
        return
    try:
        time_zone(zone)
    except InvalidTimeZone as exc:
        raise ApiError(422, "invalid_time_zone", str(exc), "time_zone") from None


async def _announce_rename(uow: UowDep, contact: Contact) -> None:
    """Every open inbox shows the new name: each of the contact's conversations is updated."""
    conversations = await uow.session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id)
    )
    for conversation in conversations:
        uow.emit("conversation.updated", ConversationOut.of(conversation).event_data())


def _country_of(contact: Contact) -> str | None:
    """The country of a phone number stored without one (e.g. a contact who wrote first)."""
    if contact.address_kind != address.E164:
        return None
    try:
        return phone.country_of(contact.address)
    except phonenumbers.NumberParseException:
        return None


async def _contact(uow: UowDep, address: str) -> Contact:
    contact = await uow.session.scalar(select(Contact).where(Contact.address == address))
    if contact is None:
        raise ApiError(404, "not_found", f"no contact {address!r}", "address")
    return contact
