"""Status changes the dispatcher makes to many messages at once, kept in their history.

`service.set_status` costs several round trips per message (a flush, a look-up of the event's
dedup key, a savepoint); here a whole group costs one flush and one `INSERT ... ON CONFLICT DO
NOTHING` for all its events, with the same dedup keys, so the history reads the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from textbridge.db.base import new_id, utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.messaging.schemas import MessageOut
from textbridge.models import Message, MessageEvent

_TABLE: Table = MessageEvent.__table__  # type: ignore[assignment]


def _insert(dialect_name: str) -> Insert:
    if dialect_name == "postgresql":
        return postgresql.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])
    return sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])


_INSERTS = {name: _insert(name) for name in ("postgresql", "sqlite")}


def change(message: Message, new_status: str, **changes: Any) -> None:
    """Set the status and fields of `message` in memory; `record` writes the group."""
    message.status = new_status
    for name, value in changes.items():
        setattr(message, name, value)


def event_key(message: Message) -> str:
    """The key of `service.record_internal`: a repeat of the same change is a no-op."""
    return f"textbridge:{message.id}:{message.status}:{message.attempts}"


async def record(
    uow: UnitOfWork,
    messages: Sequence[Message],
    source: str = "textbridge",
    key: Callable[[Message], str] = event_key,
) -> None:
    """Flush the changes made to `messages` and add one history event each (deduplicated by
    `key`), and queue their live events."""
    if not messages:
        return
    await uow.session.flush()
    now = utcnow()
    rows = [event_row(message, key(message), source, now) for message in messages]
    await uow.session.execute(insert_for(uow), rows)
    for message in messages:
        uow.emit("message.status", MessageOut.of(message).event_data())


def event_row(message: Message, key: str, source: str, now: datetime) -> dict[str, Any]:
    """The history row of `message`'s current status."""
    return {
        "id": new_id(),
        "message_id": message.id,
        "dedup_key": key,
        "source": source,
        "status": message.status,
        "applied": True,
        "error_code": message.error_code,
        "occurred_at": now,
        "received_at": now,
    }


def insert_for(uow: UnitOfWork) -> Insert:
    """The events insert (`ON CONFLICT DO NOTHING` on the dedup key) for the session's database."""
    return _INSERTS[uow.session.get_bind().dialect.name]
