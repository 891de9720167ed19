"""The dispatcher's reads and writes of message rows, with SQLAlchemy Core (issue 7).

A claim and a record run for every message, one or two messages at a time (a claim takes the
free send slots, which free one at a time). Through the ORM each cost about ten round trips
(the rows, a selectin query for their attachments, a flush, the history insert, the live
events insert) and as much CPU in loading and flushing as the provider call itself. Here:

- `load` reads Core rows into transient `Message` objects (never added to a session, so the
  hooks, `outbound_of` and `MessageOut` read them like any message), with a flag saying
  whether a row has attachments: only those rows' attachments are read (text needs no query).
- `write` writes the dispatch fields of changed messages and their history and live events.
  On PostgreSQL it is one statement (an `UPDATE ... FROM unnest(...)` with the events'
  inserts as CTEs, and the NOTIFY of `realtime/relay.append`); elsewhere an executemany
  UPDATE, one events insert, and the live events through the unit of work.
- `write_unchanged` (PostgreSQL) is the same statement for rows not read first: each row is
  written only if no one has written it since a given transaction (the claim) did.

The rows must be locked by the caller (the claim's `FOR UPDATE SKIP LOCKED`, the record's
`FOR UPDATE`): `write` writes back every dispatch field as the object holds it.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.db.base import new_id, utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import history
from textbridge.messaging.schemas import MessageOut
from textbridge.models import Attachment, Message

MESSAGES: Table = Message.__table__  # type: ignore[assignment]
ATTACHMENTS: Table = Attachment.__table__  # type: ignore[assignment]
_COLUMNS = tuple(column.key for column in MESSAGES.columns)
_ATTACHMENT_COLUMNS = tuple(column.key for column in ATTACHMENTS.columns)
HAS_MEDIA = exists().where(ATTACHMENTS.c.message_id == MESSAGES.c.id).label("has_media")

WRITTEN = (
    "status",
    "attempts",
    "rate_limited",
    "next_attempt_at",
    "lease_expires_at",
    "error_code",
    "error_message",
    "provider_message_id",
    "updated_at",
)
"""The fields the dispatcher changes; `write` writes all of them for each changed row."""

Event = tuple[Message, str]
"""A status change to keep in the history, with its dedup key."""


def messages_query() -> Select[Any]:
    """Every column of `messages`, and whether the row has attachments."""
    return select(MESSAGES, HAS_MEDIA)


async def load(
    session: AsyncSession, query: Select[Any], params: Mapping[str, Any]
) -> list[Message]:
    """The rows of `query` (built on `messages_query`) as transient messages, in order."""
    rows = (await session.execute(query, params)).mappings().all()
    messages = [Message(**{key: row[key] for key in _COLUMNS}) for row in rows]
    with_media = [
        message.id for message, row in zip(messages, rows, strict=True) if row["has_media"]
    ]
    if with_media:
        media = await _attachments(session, with_media)
        for message in messages:
            message.attachments = media.get(message.id, [])
    return messages


async def _attachments(
    session: AsyncSession, message_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Attachment]]:
    rows = await session.execute(
        select(ATTACHMENTS)
        .where(ATTACHMENTS.c.message_id.in_(message_ids))
        .order_by(ATTACHMENTS.c.message_id, ATTACHMENTS.c.position)
    )
    found: dict[uuid.UUID, list[Attachment]] = defaultdict(list)
    for row in rows.mappings():
        found[row["message_id"]].append(
            Attachment(**{key: row[key] for key in _ATTACHMENT_COLUMNS})
        )
    return found


async def write(
    uow: UnitOfWork, changed: Sequence[Message], events: Sequence[Event], source: str = "textbridge"
) -> int | None:
    """Write the `WRITTEN` fields of `changed` (`updated_at` set now) and, for each of
    `events`, a history event (deduplicated by its key, as `history.record` does) and a
    live `message.status` event. On PostgreSQL, returns the writing transaction's id: the
    rows' version (`xmin`) until someone else writes them (see `write_unchanged`)."""
    if not changed:
        return None
    now = _touch(changed)
    if uow.session.get_bind().dialect.name == "postgresql" and uow.durable_events:
        params = _pg_params(changed, [None] * len(changed), events, source, now)
        return int((await uow.session.execute(_WRITE_PG, params)).one().version)
    values: dict[str, Any] = {name: bindparam(f"w_{name}") for name in WRITTEN}
    connection = await uow.session.connection()
    await connection.execute(
        update(MESSAGES).where(MESSAGES.c.id == bindparam("w_id")).values(values),
        [{"w_id": m.id, **{f"w_{name}": getattr(m, name) for name in WRITTEN}} for m in changed],
    )
    if events:
        rows = [history.event_row(message, key, source, now) for message, key in events]
        await uow.session.execute(history.insert_for(uow), rows)
    for message, _ in events:
        uow.emit("message.status", MessageOut.of(message).event_data())
    return None


async def write_unchanged(
    uow: UnitOfWork, changed: Sequence[tuple[Message, int]], source: str = "textbridge"
) -> set[uuid.UUID]:
    """PostgreSQL: `write` each message (with its history and live event) whose row is still
    the version given with it, a transaction id that `write` returned: no one has written
    the row since (a status callback, an erasure, lease recovery). Such a row is what the
    message held then, so nothing needs reading or locking first: in autocommit, one round
    trip. Returns the ids written; the caller reads and writes the others as usual."""
    if not changed:
        return set()
    # In id order, as the ordinary record locks them: the plan (a nested loop over the arrays)
    # then locks in that order too. Another plan could deadlock with a concurrent writer;
    # PostgreSQL would then fail one of them, and the caller records each message alone.
    ordered = sorted(changed, key=lambda pair: pair[0].id)
    messages = [message for message, _ in ordered]
    now = _touch(messages)
    events = [(message, history.event_key(message)) for message in messages]
    params = _pg_params(messages, [version for _, version in ordered], events, source, now)
    written = (await uow.session.execute(_WRITE_UNCHANGED_PG, params)).one().ids
    return set(written or ())


def _touch(changed: Sequence[Message]) -> datetime:
    now = utcnow()
    for message in changed:
        message.updated_at = now
    return now


def _pg_params(
    changed: Sequence[Message],
    versions: Sequence[int | None],
    events: Sequence[Event],
    source: str,
    now: datetime,
) -> dict[str, Any]:
    params: dict[str, Any] = {"ids": [m.id for m in changed], "versions": list(versions)}
    for name in WRITTEN:
        params[name] = [getattr(m, name) for m in changed]
    live = [
        {"type": "message.status", "data": MessageOut.of(m).event_data(), "message": str(m.id)}
        for m, _ in events
    ]
    params.update(
        event_ids=[new_id() for _ in events],
        event_messages=[message.id for message, _ in events],
        event_keys=[key for _, key in events],
        event_statuses=[message.status for message, _ in events],
        event_errors=[message.error_code for message, _ in events],
        source=source,
        now=now,
        live=json.dumps(live),
    )
    return params


# Data-modifying CTEs run once and to completion whether or not the main query reads them.
# The events are written for the rows the UPDATE wrote (`written`, an aggregate: every row
# is locked before the first live event takes its id), so the live events are the last thing
# written, after every row lock is held (see `realtime/relay.py`: events of one row are
# numbered in commit order).
_WRITE_PG_TEMPLATE = """
    WITH changed AS (
        UPDATE messages AS m SET
            status = c.status, attempts = c.attempts, rate_limited = c.rate_limited,
            next_attempt_at = c.next_attempt_at, lease_expires_at = c.lease_expires_at,
            error_code = c.error_code, error_message = c.error_message,
            provider_message_id = c.provider_message_id, updated_at = c.updated_at
        FROM unnest(
            CAST(:ids AS uuid[]), CAST(:status AS varchar[]), CAST(:attempts AS integer[]),
            CAST(:rate_limited AS integer[]), CAST(:next_attempt_at AS timestamptz[]),
            CAST(:lease_expires_at AS timestamptz[]), CAST(:error_code AS varchar[]),
            CAST(:error_message AS varchar[]), CAST(:provider_message_id AS varchar[]),
            CAST(:updated_at AS timestamptz[]), CAST(:versions AS bigint[])
        ) AS c(id, status, attempts, rate_limited, next_attempt_at, lease_expires_at,
               error_code, error_message, provider_message_id, updated_at, version)
        WHERE m.id = c.id {only_unchanged}
        RETURNING m.id
    ), written AS (
        SELECT array_agg(id) AS ids FROM changed
    ), history AS (
        INSERT INTO message_events
            (id, message_id, dedup_key, source, status, applied, error_code, occurred_at,
             received_at)
        SELECT e.id, e.message_id, e.dedup_key, CAST(:source AS varchar), e.status, true,
               e.error_code, CAST(:now AS timestamptz), CAST(:now AS timestamptz)
        FROM unnest(
            CAST(:event_ids AS uuid[]), CAST(:event_messages AS uuid[]),
            CAST(:event_keys AS varchar[]), CAST(:event_statuses AS varchar[]),
            CAST(:event_errors AS varchar[])
        ) AS e(id, message_id, dedup_key, status, error_code), written
        WHERE e.message_id = ANY (written.ids)
        ON CONFLICT (dedup_key) DO NOTHING
    ), live AS (
        INSERT INTO live_events (type, data, created_at)
        SELECT event ->> 'type', event -> 'data', now()
        FROM jsonb_array_elements(CAST(:live AS jsonb)) WITH ORDINALITY AS e(event, n), written
        WHERE CAST(event ->> 'message' AS uuid) = ANY (written.ids)
        ORDER BY n
    )
    SELECT CAST(CAST(pg_current_xact_id() AS xid) AS text) AS version, written.ids
    FROM written
    """
_WRITE_PG = text(_WRITE_PG_TEMPLATE.format(only_unchanged=""))
# `xmin` is the transaction that wrote the row's current version: a row lock does not change
# it, nor does freezing (PostgreSQL 9.4 and later keep the id); a row moved to another
# partition is written anew. A waiting UPDATE checks the condition again on the version it
# waited for. `attempts` (which a new claim raises) guards against an id used again: a 32-bit
# xid repeats only after four billion transactions, or after a failover that lost the claim's
# commit.
_WRITE_UNCHANGED_PG = text(
    _WRITE_PG_TEMPLATE.format(
        only_unchanged="AND m.xmin = CAST(CAST(c.version AS text) AS xid) "
        "AND m.attempts = c.attempts"
    )
)
