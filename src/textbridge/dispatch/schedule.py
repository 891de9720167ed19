"""When a message leaves: `send_at`, quiet hours, and the dispatcher's gate for both.

Two statuses wait in front of `accepted`:
- `scheduled`: waiting for the `send_at` its sender asked for;
- `held`: deferred by quiet hours (`quiet_hours`) to the next moment the window allows.
Both keep the time they will leave in `next_attempt_at` (the API's `leaves_at`) and become
`accepted` when it comes; from there a message goes the usual way. Nothing is ever dropped:
a held message always has a time to leave.

Quiet hours are checked twice: when a message is accepted (`departure`) and when the dispatcher
claims it (`quiet_holds`), because a backlog or a retry can push a message
accepted at 20:59 past 21:00. A message carries its own window (`messages.quiet_hours`, e.g.
"08:00-21:00", copied from its campaign); None means quiet hours do not apply to it. API sends
(conversation replies) have none unless the caller asks for them: a person answering a contact
who just wrote is not a broadcast waking someone at night.

Both paths that create messages decide a new message's status and leaving time here:
`messaging.outbound` (one message) with `departure`; the campaign enqueue (many, in one
`INSERT ... SELECT`) with `departure_columns`, by each recipient's zone key stored when it was
staged (`quiet_hours.zone_key`), so the leaving time is computed once per zone, not per row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import ColumnElement, case, literal, select
from sqlalchemy.orm import InstrumentedAttribute

from textbridge.db.base import UTCDateTime
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import history
from textbridge.dispatch.quiet_hours import (
    InvalidWindow,
    Window,
    allowed,
    next_allowed,
    window_of,
    zones_of,
    zones_of_key,
)
from textbridge.messaging import status
from textbridge.models import Contact, Conversation, Message

log = structlog.get_logger(__name__)

# A client's clock, or a retried request, may be a little behind ours: such a send_at means now.
SEND_AT_PAST_TOLERANCE = timedelta(minutes=5)
SEND_AT_HORIZON = timedelta(days=366)
# Due rows moved to `accepted` per dispatcher pass; the next pass takes the rest.
RELEASE_BATCH = 500


class InvalidSendAt(ValueError):
    """A send_at without a UTC offset, too far in the past, or too far ahead."""


def check_send_at(send_at: datetime, now: datetime) -> None:
    """Refuse a send_at that cannot be meant: naive (whose 09:00?), past, or absurdly far."""
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InvalidSendAt(
            "send_at needs a UTC offset, e.g. 2026-12-01T09:00:00+01:00 or 2026-12-01T08:00:00Z"
        )
    if send_at < now - SEND_AT_PAST_TOLERANCE:
        minutes = int(SEND_AT_PAST_TOLERANCE.total_seconds() // 60)
        raise InvalidSendAt(
            f"send_at {send_at.isoformat()} is more than {minutes} minutes in the past"
        )
    if send_at > now + SEND_AT_HORIZON:
        raise InvalidSendAt(
            f"send_at {send_at.isoformat()} is more than {SEND_AT_HORIZON.days} days ahead"
        )


@dataclass(frozen=True, slots=True)
class Departure:
    """A new message's first status (`accepted`, `scheduled` or `held`) and when it leaves."""

    status: str
    leaves_at: datetime


def departure(
    now: datetime,
    to_address: str,
    *,
    send_at: datetime | None = None,
    window: Window | None = None,
    time_zone: str | None = None,
) -> Departure:
    """When a new message to `to_address` leaves, and so its first status. `send_at` must have
    passed `check_send_at`; `window` None means no quiet hours; `time_zone` is the contact's
    override, if known (the claim checks it again in any case)."""
    zones = zones_of(to_address, time_zone) if window is not None else ()
    return _departure(now, send_at, window, zones)


def departure_in(
    now: datetime, key: str, *, send_at: datetime | None = None, window: Window | None = None
) -> Departure:
    """`departure` for a recipient known by its zone key (`quiet_hours.zone_key`, or the
    contact's own zone name)."""
    return _departure(now, send_at, window, zones_of_key(key) if window is not None else ())


def departure_columns(
    key_column: ColumnElement[str] | InstrumentedAttribute[str | None],
    keys: Iterable[str],
    now: datetime,
    *,
    send_at: datetime | None = None,
    window: Window | None = None,
) -> tuple[ColumnElement[str], ColumnElement[datetime]]:
    """For a set-based insert (the campaign enqueue, `INSERT ... SELECT`): each row's first
    status and leaving time as SQL, chosen by its zone key column among `keys` (the distinct
    keys of the rows). A key not among them leaves at once: the claim checks it again."""
    if window is None:
        leaving = _departure(now, send_at, None, ())
        return literal(leaving.status), literal(leaving.leaves_at, UTCDateTime())
    departures = {key: departure_in(now, key, send_at=send_at, window=window) for key in keys}
    if not departures:
        return literal(status.ACCEPTED), literal(now, UTCDateTime())
    statuses = case(
        {key: literal(d.status) for key, d in departures.items()},
        value=key_column,
        else_=literal(status.ACCEPTED),
    )
    times = case(
        {key: literal(d.leaves_at, UTCDateTime()) for key, d in departures.items()},
        value=key_column,
        else_=literal(now, UTCDateTime()),
    )
    return statuses, times


def _departure(
    now: datetime, send_at: datetime | None, window: Window | None, zones: tuple[ZoneInfo, ...]
) -> Departure:
    wanted = max(send_at, now) if send_at is not None else now
    leaves_at = next_allowed(wanted, window, zones) if window is not None else wanted
    if leaves_at > wanted:
        return Departure(status.HELD, leaves_at)
    if leaves_at > now:
        return Departure(status.SCHEDULED, leaves_at)
    return Departure(status.ACCEPTED, now)


async def quiet_holds(
    uow: UnitOfWork, claimed: Sequence[Message], now: datetime
) -> tuple[list[Message], list[Message]]:
    """Which of `claimed` may leave now, and which are inside their quiet hours: those are
    changed to `held` in memory, for the caller to write (with `move_key` as their event's
    key)."""
    windowed = [message for message in claimed if message.quiet_hours]
    if not windowed:
        return list(claimed), []
    overrides = await _time_zone_overrides(uow, {m.conversation_id for m in windowed})
    leaving, held = [], []
    for message in claimed:
        leaves_at = _quiet_until(message, overrides.get(message.conversation_id), now)
        if leaves_at is None:
            leaving.append(message)
        else:
            message.status, message.next_attempt_at = status.HELD, leaves_at
            held.append(message)
    return leaving, held


def _quiet_until(message: Message, time_zone: str | None, now: datetime) -> datetime | None:
    """When the message's window next opens, if it is closed now."""
    if not message.quiet_hours:
        return None
    try:
        window = window_of(message.quiet_hours)
    except InvalidWindow:  # only a hand-edited row: it must not stop the claim of the others
        log.warning("a message's quiet hours are unreadable; ignored", message_id=str(message.id))
        return None
    zones = zones_of(message.to_address, time_zone)
    return None if allowed(now, window, zones) else next_allowed(now, window, zones)


async def _time_zone_overrides(
    uow: UnitOfWork, conversation_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    rows = await uow.session.execute(
        select(Conversation.id, Contact.time_zone)
        .join(Contact, Conversation.contact_id == Contact.id)
        .where(Conversation.id.in_(conversation_ids), Contact.time_zone.is_not(None))
    )
    return {conversation_id: zone for conversation_id, zone in rows if zone}


async def release_due(uow: UnitOfWork, now: datetime) -> None:
    """Move due `scheduled` and `held` rows to `accepted` (at most `RELEASE_BATCH`)."""
    due = list(
        await uow.session.scalars(
            select(Message)
            .where(Message.status.in_(status.DEFERRED), Message.next_attempt_at <= now)
            .order_by(Message.next_attempt_at)
            .limit(RELEASE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for message in due:
        # next_attempt_at stays: it has been due since then, and the claim goes by it.
        message.status = status.ACCEPTED
    await _record_moves(uow, due)


async def _record_moves(uow: UnitOfWork, moved: Sequence[Message]) -> None:
    """Write the status changes of `moved`: one history event each and a live event. An
    event's key names the message's leaving time, since a message may be held, released and
    held again at the same attempt count."""
    await history.record(uow, moved, key=move_key)


def move_key(message: Message) -> str:
    leaving = f"{message.next_attempt_at:%Y%m%dT%H%M%S%f}" if message.next_attempt_at else ""
    return f"{history.event_key(message)}:{leaving}"
