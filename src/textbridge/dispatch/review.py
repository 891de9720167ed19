"""A person's review of `unknown` messages: the dispatcher never resends one by itself (the
provider may have it), so someone who checked decides: resend it, or close it.

- Resend: the same message goes back to `accepted` for exactly one more attempt (a retryable
  answer to that attempt fails it rather than starting a new series; a 429 still does not
  count), and the ordinary dispatch takes it from there.
- Close: it settles as `sent` (the person found the provider has it; callbacks may still move
  it on, e.g. to `delivered`) or as `failed` with the code `closed_unsent` (it never left).

Both are refused for a message in any other status (`NotUnknown`, answered 409), and both are
kept in its history as an event from source `review`, naming who did it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final, Literal

from sqlalchemy import and_, or_, select

from textbridge.db.base import new_id, utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import status
from textbridge.messaging.schemas import MessageOut
from textbridge.messaging.search import Cursor
from textbridge.models import Message, MessageEvent

Resolution = Literal["sent", "not_sent"]
CLOSED_UNSENT: Final = "closed_unsent"
REVIEW_LIMIT: Final = 500


class ReviewError(Exception):
    pass


class MessageNotFound(ReviewError):
    pass


class NotUnknown(ReviewError):
    """Only an `unknown` message can be resent or closed."""

    def __init__(self, message: Message) -> None:
        super().__init__(
            f"message {message.id} is {message.status}; only an unknown message can be "
            "resent or closed"
        )
        self.status = message.status


async def unknown_messages(
    uow: UnitOfWork, limit: int = 100, after: datetime | Cursor | None = None
) -> list[Message]:
    """`unknown` messages, oldest first by (`updated_at`, `id`): a page of at most `limit`
    after `after`, the cursor of the previous page (`next_cursor`), or a bare `updated_at`
    (the older form, which skips the messages sharing the last one's time)."""
    query = select(Message).where(Message.status == status.UNKNOWN)
    if isinstance(after, Cursor):
        # The conversation list's cursor: its fields are a time and an id, here a message's.
        at, last_id = after.last_message_at, after.conversation_id
        query = query.where(
            or_(Message.updated_at > at, and_(Message.updated_at == at, Message.id > last_id))
        )
    elif after is not None:
        query = query.where(Message.updated_at > after)
    query = query.order_by(Message.updated_at, Message.id).limit(min(limit, REVIEW_LIMIT))
    return list(await uow.session.scalars(query))


def next_cursor(page: list[Message], limit: int) -> str | None:
    """The cursor of the page after this one (the conversation list's format: a time and an
    id); None when this one is not full (the end)."""
    if len(page) < min(limit, REVIEW_LIMIT):
        return None
    return Cursor(page[-1].updated_at, page[-1].id).encode()


async def resend(uow: UnitOfWork, message_id: uuid.UUID, by: str, max_attempts: int) -> Message:
    message = await _unknown(uow, message_id)
    message.status = status.ACCEPTED
    message.next_attempt_at = utcnow()
    message.lease_expires_at = None
    # One more attempt: the next one is the last that a retryable answer may use up.
    message.attempts = max(message.attempts, message.rate_limited + max_attempts - 1)
    await _record(uow, message, "resend", by, None)
    return message


async def close(
    uow: UnitOfWork, message_id: uuid.UUID, resolution: Resolution, by: str, note: str | None
) -> Message:
    message = await _unknown(uow, message_id)
    message.lease_expires_at = None
    if resolution == "sent":
        message.status = status.SENT
    else:
        message.status = status.FAILED
        message.error_code = CLOSED_UNSENT
        message.error_message = f"closed by {by} as not sent" + (f": {note}" if note else "")
        message.error_message = message.error_message[:500]
    await _record(uow, message, f"close:{resolution}", by, note)
    return message


async def _unknown(uow: UnitOfWork, message_id: uuid.UUID) -> Message:
    message = await uow.session.get(Message, message_id, with_for_update=True)
    if message is None or message.direction != "outbound":
        raise MessageNotFound(f"no outbound message {message_id}")
    if message.status != status.UNKNOWN:
        raise NotUnknown(message)
    return message


async def _record(
    uow: UnitOfWork, message: Message, action: str, by: str, note: str | None
) -> None:
    await uow.session.flush()
    uow.session.add(
        MessageEvent(
            message_id=message.id,
            dedup_key=f"review:{message.id}:{new_id()}",
            source="review",
            status=message.status,
            error_code=message.error_code,
            raw={"action": action, "by": by[:200], "note": (note or "")[:500] or None},
            occurred_at=utcnow(),
        )
    )
    uow.emit("message.status", MessageOut.of(message).event_data())
