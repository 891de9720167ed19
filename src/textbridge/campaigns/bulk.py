"""All SQL of campaigns, in sets: never one statement (let alone one transaction) per
recipient.

- Staging a chunk of recipients: the contacts that do not exist yet are created with one
  `INSERT ... ON CONFLICT DO NOTHING` (ids made by the database on PostgreSQL, nothing read
  back); the staged rows go in with PostgreSQL's `COPY` (asyncpg's `copy_records_to_table` on
  the session's own connection, inside its transaction) or, on SQLite, one `executemany`
  (sqlite3 runs it in C).
- Starting: each recipient's conversation is created, or touched if it exists (a draft's
  conversations do not exist, so a draft does not show in the inbox, and a new conversation is
  written once, not created at staging and updated at start), and every staged row becomes a
  message: on PostgreSQL one statement (`_written_together`: the conversations' upsert as a
  CTE whose `RETURNING` the messages' `INSERT ... SELECT` joins), written by two connections
  at once for a large campaign (`_in_parts`); on SQLite the upsert and the `INSERT ... SELECT`.
  No `accepted` history event per message: the campaign's `started_at` records that moment
  for all of them (one more row per message was about a third of the start's time); their
  history starts when they are claimed. The database copies the rows; Python never holds them.

`enqueue` is the one place messages are created from staged rows: scheduling (`send_at`,
quiet hours) extends it there.
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import (
    CursorResult,
    Insert,
    Select,
    Table,
    Uuid,
    and_,
    bindparam,
    func,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.campaigns.prepare import Ready
from textbridge.db import locks
from textbridge.db.base import UTCDateTime, new_ids
from textbridge.dispatch import priority, schedule
from textbridge.dispatch.quiet_hours import window_of
from textbridge.messaging import status
from textbridge.messaging.content import SENDER_CHANNEL
from textbridge.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    Conversation,
    Message,
)

STAGED_COLUMNS = (
    "campaign_id",
    "to_address",
    "row",
    "message_id",
    "conversation_id",
    "body",
    "payload",
    "encoding",
    "segments",
    "country",
    "price_micros",
    "time_zones",
)
CANCELLED = status.CANCELLED
MESSAGES = cast(Table, Message.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
CONTACTS = cast(Table, Contact.__table__)
STAGED = cast(Table, CampaignRecipient.__table__)
PREVIEW_LENGTH = 120
log = structlog.get_logger(__name__)


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or INSERT ... SELECT touched (a CursorResult's count)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _dialect_insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL and SQLite alike)."""
    return postgresql.insert(table) if _is_postgres(session) else sqlite.insert(table)


def _insert_ignoring(session: AsyncSession, table: Table, keys: list[str]) -> Insert:
    return _dialect_insert(session, table).on_conflict_do_nothing(index_elements=keys)


async def lock(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign | None:
    """The campaign, locked: chunks of one campaign are staged one at a time, and a start,
    pause or cancel waits for the one before it (on SQLite every transaction already holds the
    write lock). `FOR NO KEY UPDATE`, not `FOR UPDATE`: rows that refer to the campaign can
    still be written meanwhile by other transactions (their foreign key check takes
    `FOR KEY SHARE`), as the parts of a large start are (`_in_parts`)."""
    return await session.get(Campaign, campaign_id, with_for_update={"key_share": True})


async def already_staged(
    session: AsyncSession, campaign_id: uuid.UUID, addresses: Sequence[str]
) -> set[str]:
    if not addresses:
        return set()
    if _is_postgres(session):
        found = await session.scalars(_PG_STAGED, {"campaign": campaign_id, "addresses": addresses})
        return set(found)
    query = select(CampaignRecipient.to_address).where(
        CampaignRecipient.campaign_id == campaign_id,
        CampaignRecipient.to_address.in_(addresses),
    )
    return set(await session.scalars(query))


# On PostgreSQL a chunk travels as a few arrays (`unnest`, `= ANY`): one statement of fixed
# shape whatever the chunk's size, instead of thousands of bound values to render and plan.
_PG_STAGED = text(
    "SELECT to_address FROM campaign_recipients"
    " WHERE campaign_id = :campaign AND to_address = ANY(CAST(:addresses AS text[]))"
)
# In address order: two transactions creating some of the same contacts take their locks in
# the same order, so one waits for the other instead of deadlocking.
_PG_CONTACTS = text(
    "INSERT INTO contacts (id, address, address_kind, country, created_at)"
    " SELECT gen_random_uuid(), address, 'e164', country, :now"
    " FROM unnest(CAST(:addresses AS text[]), CAST(:countries AS text[])) AS t(address, country)"
    " ORDER BY address"
    " ON CONFLICT (address) DO NOTHING"
)


async def create_contacts(session: AsyncSession, ready: Sequence[Ready], now: datetime) -> None:
    """Create the contacts of these addresses that do not exist yet. Nothing is read back:
    the start finds each recipient's contact by its address."""
    if not ready:
        return
    if _is_postgres(session):
        values = {
            "addresses": [r.to for r in ready],
            "countries": [r.country for r in ready],
            "now": now,
        }
        await session.execute(_PG_CONTACTS, values)
        return
    ids = new_ids(len(ready))
    rows = [
        {
            "id": ids[i],
            "address": r.to,
            "address_kind": "e164",
            "country": r.country,
            "created_at": now,
        }
        for i, r in enumerate(ready)
    ]
    await session.execute(_insert_ignoring(session, CONTACTS, ["address"]), rows)


async def stage(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    """Insert staged recipients, each a tuple in `STAGED_COLUMNS` order (payload as a dict)."""
    if not rows:
        return
    if _is_postgres(session):
        await _copy(session, rows)
        return
    records = [dict(zip(STAGED_COLUMNS, row, strict=True)) for row in rows]
    await session.execute(STAGED.insert(), records)


async def _copy(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg's Connection, in the session's transaction
    payload = STAGED_COLUMNS.index("payload")
    # SQLAlchemy's JSONB codec on this connection takes the JSON text, not the object. An SMS
    # campaign has no payload: its rows go as they are.
    records = (
        [
            (
                *row[:payload],
                None if row[payload] is None else json.dumps(row[payload]),
                *row[payload + 1 :],
            )
            for row in rows
        ]
        if any(row[payload] is not None for row in rows)
        else rows
    )
    await driver.copy_records_to_table(
        CampaignRecipient.__tablename__, records=records, columns=STAGED_COLUMNS
    )


async def enqueue(
    session: AsyncSession,
    campaign: Campaign,
    now: datetime,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> int:
    """Create the campaign's messages from its staged recipients and touch their
    conversations. Each message is `accepted` and due now, or `scheduled` for the campaign's
    `send_at`, or `held` until its recipient's quiet hours end (`schedule.departure_columns`,
    by zone key: the contact's own time zone, else the number's). Returns how many messages
    were created. On PostgreSQL one statement writes both (`_written_together`); a large
    campaign's are written by two more connections from `sessions` at once (`_in_parts`)."""
    large = campaign.recipients >= ANALYZED_FROM
    if large:
        await _room_to_sort(session)
    apart = sessions if large and _is_postgres(session) else None
    analyzed = (STAGED, CONTACTS) if large else (STAGED,)
    if apart is not None and not await _refreshed_apart(apart, analyzed):
        apart = None  # the parts would plan without the statistics
    if apart is None:
        await _refresh_statistics(session, *analyzed)
    window = window_of(campaign.quiet_hours) if campaign.quiet_hours else None
    keys = await _zone_keys(session, campaign.id) if window is not None else []
    statuses, times = schedule.departure_columns(
        _ZONE_KEY, keys, now, send_at=campaign.send_at, window=window
    )
    if not _is_postgres(session):
        await session.execute(_conversations_from_staged(sqlite.insert, campaign, now, None))
        rows = _message_rows(campaign, now, statuses, times, CONVERSATIONS.c.id)
        rows = rows.select_from(_staged_with_conversations(campaign))
        return _rowcount(await session.execute(_insert_messages(rows)))
    statement = functools.partial(_written_together, campaign, now, statuses, times)
    # Only a large start is written in parts, so only one can have been cut short after them.
    again = large and await _started_before(session, campaign.id)
    if apart is not None and _pool_has_room(session):
        return await _in_parts(session, apart, campaign.id, statement, again)
    return _rowcount(await session.execute(statement(again, None)))


ANALYZED_FROM = 10_000
"""From this many recipients, the start also analyzes contacts (PostgreSQL), whose rows it
joins by the thousand, and writes in parts: see `_refresh_statistics` and `_in_parts`."""


START_WORK_MEM = "64MB"
"""A large start's sorts and hashes in memory (PostgreSQL): at the default 4 MB, ordering
100 000 conversations by contact spilled 16 MB to disk (0.13 s of 1.5 s)."""


async def _room_to_sort(session: AsyncSession) -> None:
    if _is_postgres(session):
        await _set_local(session, "work_mem", START_WORK_MEM)


async def _set_local(session: AsyncSession, setting: str, value: str) -> None:
    """A PostgreSQL setting for this transaction only (our constants: nothing to quote)."""
    await session.execute(text(f"SET LOCAL {setting} = '{value}'"))


async def _refresh_statistics(session: AsyncSession, *tables: Table) -> None:
    """The staged rows were just copied in, before autovacuum has looked at them: the planner
    would count a handful for the campaign and join them to contacts by 100 000 index probes,
    not hash joins. ANALYZE samples a bounded number of rows (a few tenths of a second) and
    more than halves the start (bench/RESULTS.md). The same holds of contacts made while
    staging, on a table autovacuum has not seen yet (a new installation's first campaign).
    Only for a large campaign: a small one is joined well by index probes anyway. Only the
    columns the start filters and joins on (`_JOINED`): each column's statistics are computed
    from the sample, and all of contacts' took 0.22 s against 0.04 s for these (autovacuum
    analyzes the rest later)."""
    if not _is_postgres(session):
        return
    for table in tables:
        columns = ", ".join(_JOINED[table.name])
        await session.execute(text(f"ANALYZE {table.name} ({columns})"))


async def _refreshed_apart(
    sessions: async_sessionmaker[AsyncSession], tables: Sequence[Table]
) -> bool:
    """`_refresh_statistics` in a transaction of its own, committed: the statistics an
    uncommitted ANALYZE writes are seen by its own transaction only, and a large start's
    parts plan their joins in others (`_in_parts`). The staged rows it samples are
    committed: each chunk commits. False if it could not (no connection free within
    `CHECKOUT_SECONDS`, any error): the start then analyzes in its own transaction and
    writes every part itself."""
    try:
        async with sessions() as apart:
            await _checked_out(apart)
            # Another transaction's ANALYZE holds its lock until it commits: not wait for it.
            await _set_local(apart, "lock_timeout", ANALYZE_LOCK_TIMEOUT)
            await _refresh_statistics(apart, *tables)
            await apart.commit()
    except Exception as exc:  # whatever it was, the start goes on without it
        log.warning("campaign_statistics_not_refreshed_apart", exc_info=exc)
        return False
    return True


ANALYZE_LOCK_TIMEOUT = "1s"
CHECKOUT_SECONDS = 1.0
"""How long a large start's extra connection (statistics, a part) may wait for the pool: the
requests holding the pool's connections may be waiting for this start's lock."""


async def _checked_out(session: AsyncSession) -> None:
    async with asyncio.timeout(CHECKOUT_SECONDS):
        await session.connection()


_JOINED = {
    STAGED.name: ("campaign_id", "to_address", "time_zones", "message_id"),
    CONTACTS.name: ("id", "address", "time_zone"),
}


# A recipient's zone key: the contact's own time zone when set, else the one staged with it.
_ZONE_KEY = func.coalesce(CONTACTS.c.time_zone, STAGED.c.time_zones)


def _staged_with_contacts() -> Any:
    return STAGED.join(CONTACTS, CONTACTS.c.address == STAGED.c.to_address)


def _staged_with_conversations(campaign: Campaign) -> Any:
    conversations = CONVERSATIONS.c
    return _staged_with_contacts().join(
        CONVERSATIONS,
        and_(
            conversations.contact_id == CONTACTS.c.id,
            conversations.sender_id == campaign.sender_id,
            conversations.channel == SENDER_CHANNEL[campaign.channel],
        ),
    )


async def _zone_keys(session: AsyncSession, campaign_id: uuid.UUID) -> list[str]:
    query = (
        select(_ZONE_KEY)
        .select_from(_staged_with_contacts())
        .where(STAGED.c.campaign_id == campaign_id)
        .distinct()
    )
    return [key for key in await session.scalars(query) if key]


def _message_rows(
    campaign: Campaign, now: datetime, statuses: Any, times: Any, conversation_id: Any
) -> Select[Any]:
    """Each staged recipient's message, as `_insert_messages` takes it (the caller joins the
    staged rows to their contacts and to `conversation_id`'s table)."""
    staged = CampaignRecipient
    when = literal(now, UTCDateTime())
    segments = staged.segments if campaign.channel == "sms" else null()
    columns: dict[str, Any] = {
        "id": staged.message_id,
        "conversation_id": conversation_id,
        "direction": literal("outbound"),
        "channel": literal(campaign.channel),
        "provider": literal(campaign.provider),
        "from_address": literal(campaign.from_address),
        "to_address": staged.to_address,
        "body": staged.body,
        "content_type": literal("template" if campaign.template else "text"),
        "payload": staged.payload,
        "status": statuses,
        "encoding": staged.encoding,
        "segments": segments,
        "attempts": literal(0),
        "next_attempt_at": times,
        "created_at": when,
        "updated_at": when,
        "campaign_id": staged.campaign_id,
        "priority": literal(priority.CAMPAIGN),  # conversation traffic passes it
        "send_at": literal(campaign.send_at, UTCDateTime()),
        "quiet_hours": literal(campaign.quiet_hours),
    }
    labelled = [column.label(name) for name, column in columns.items()]
    return select(*labelled).where(staged.campaign_id == _written(campaign.id))


def _insert_messages(rows: Select[Any]) -> Insert:
    """The other columns take their server defaults: SQLAlchemy's Python-side ones are bound
    as parameters it fills only when the INSERT is the statement's only one (not beside the
    conversations' upsert of `_written_together`)."""
    names = [column.name for column in rows.selected_columns]
    return MESSAGES.insert().from_select(names, rows, include_defaults=False)


def _written_together(
    campaign: Campaign,
    now: datetime,
    statuses: Any,
    times: Any,
    again: bool,
    parts: Sequence[int] | None,
) -> Insert:
    """PostgreSQL: the recipients' conversations (created or touched) and their messages in
    one statement. The conversations' upsert is a CTE whose `RETURNING` gives each contact's
    conversation id, created or existing: the messages join to that, not to the table, so
    the start needs no statistics of conversations (it analyzed them between two statements
    before). `parts`: only the recipients of those parts (`_in_parts`). `again`: the campaign
    may have some of these messages already (a start cut short after a part was written):
    only the missing ones are written; none is written twice."""
    upsert = _conversations_from_staged(postgresql.insert, campaign, now, parts)
    conversation = upsert.returning(CONVERSATIONS.c.id, CONVERSATIONS.c.contact_id).cte(
        "conversation"
    )
    rows = _message_rows(campaign, now, statuses, times, conversation.c.id).select_from(
        _staged_with_contacts().join(conversation, conversation.c.contact_id == CONTACTS.c.id)
    )
    if parts is not None:
        rows = rows.where(_of_parts(parts))
    if again:
        rows = rows.where(_without_message(campaign.id))
    return _insert_messages(rows)


def _without_message(campaign_id: uuid.UUID) -> Any:
    """A staged row whose message is not written yet (a start cut short after its parts)."""
    written = select(MESSAGES.c.id).where(
        MESSAGES.c.campaign_id == _written(campaign_id), MESSAGES.c.id == STAGED.c.message_id
    )
    return ~written.exists()


def _conversations_from_staged(
    insert_into: Any, campaign: Campaign, now: datetime, parts: Sequence[int] | None
) -> Any:
    """Each recipient's conversation with the campaign's sender: created with the id staged
    for it, or, when it exists (an earlier message, an inbound one since staging), touched.
    Either way it now leads the inbox with the campaign's text. In contact order, so that two
    starts sharing recipients lock their conversations in the same order. `insert_into`: the
    dialect's `insert` (its ON CONFLICT)."""
    staged = STAGED.c
    shown = f"[template {campaign.template['name']}]" if campaign.template else ""
    preview = func.coalesce(func.substr(staged.body, 1, PREVIEW_LENGTH), literal(shown))
    when = literal(now, UTCDateTime())
    columns: dict[str, Any] = {
        "id": staged.conversation_id,
        "contact_id": CONTACTS.c.id,
        "sender_id": literal(campaign.sender_id, Uuid()),
        "channel": literal(SENDER_CHANNEL[campaign.channel]),
        "unread_count": literal(0),
        "created_at": when,
        "last_message_at": when,
        "last_message_preview": preview,
    }
    rows = (
        select(*columns.values())
        .select_from(_staged_with_contacts())
        .where(staged.campaign_id == _written(campaign.id))
        .order_by(CONTACTS.c.id)
    )
    if parts is not None:
        rows = rows.where(_of_parts(parts))
    insert = insert_into(CONVERSATIONS).from_select(list(columns), rows)
    return insert.on_conflict_do_update(
        index_elements=["contact_id", "sender_id", "channel"],
        set_={
            "last_message_at": insert.excluded.last_message_at,
            "last_message_preview": insert.excluded.last_message_preview,
        },
    )


# ------------------------------------------------------------------ a large start, in parts

PARTS = 2
"""A large start on PostgreSQL is written by this many connections at once, each for the
staged recipients whose message id falls in its share of the id space (the ids are random:
the shares are even, and the planner estimates them from the staged rows' statistics). Each
staged row is one recipient: no two parts write the same conversation or message. Two halves
of 100 000 took 2.7 and 2.9 s side by side on two cores, against 4.4 s for the whole in one
(bench/RESULTS.md)."""
PART_LOCK_TIMEOUT = "10s"
"""How long a part waits for a row lock before it gives up (its part is then written by the
start's own transaction): a guard, not an expected path."""
_SHARE = (1 << 128) // PARTS


def _in_part(part: int) -> Any:
    """The staged rows of `part`: message ids from its lower bound, below the next part's
    (bounds `_written` into the statement)."""
    message_id = STAGED.c.message_id
    lower = message_id >= _written(uuid.UUID(int=part * _SHARE))
    if part == PARTS - 1:
        return lower
    return and_(lower, message_id < _written(uuid.UUID(int=(part + 1) * _SHARE)))


def _written(value: uuid.UUID) -> Any:
    """`value` written into the statement (`literal_execute`), not bound. The start's
    statements name their campaign and their part this way: each campaign's text is then its
    own, and PostgreSQL plans it for its own rows; bound, a statement prepared on a pooled
    connection may switch to a generic plan after five runs, which estimates one campaign's
    rows as the average campaign's and a part's range at 0.5 % (a review reproduced the
    nested loop of 25 000 index probes it chose). Forcing custom plans instead
    (`plan_cache_mode`) made PostgreSQL plan each of the 200 000 foreign key checks again."""
    return bindparam(None, value, type_=Uuid(), unique=True, literal_execute=True)


def _of_parts(parts: Sequence[int]) -> Any:
    return or_(*(_in_part(part) for part in parts))


async def _started_before(session: AsyncSession, campaign_id: uuid.UUID) -> bool:
    """Whether the campaign has messages already: a start that wrote its parts, then was
    cut short before its own commit."""
    query = select(MESSAGES.c.id).where(MESSAGES.c.campaign_id == campaign_id).limit(1)
    return (await session.scalar(query)) is not None


async def _in_parts(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    campaign_id: uuid.UUID,
    statement: Callable[[bool, Sequence[int] | None], Insert],
    again: bool,
) -> int:
    """Each part written and committed by a connection of its own, at once; the start's own
    transaction (which holds the campaign's lock) waits for them, then commits the campaign's
    state. A part commits as soon as it is written so that it never holds a lock while it
    waits for another: every wait between the parts and other writers is then one
    PostgreSQL sees (and breaks, if it is a deadlock). A part that was not written whole (an
    erasure waiting, an error, staged rows its connection cannot see) is completed by the
    start's own transaction afterwards: it counts each part's staged rows as it sees them,
    and writes the missing messages of a part that fell short.

    The price: between the parts' commits and the start's, the campaign is still a draft
    whose messages exist and may leave. If the start's own commit never comes (the process
    dies, or the start fails after its parts), the draft keeps them; starting it again
    writes only the missing ones (`_written_together`), and cancelling it cancels those not
    yet sent."""
    written = await asyncio.gather(
        *(_write_part(sessions, statement(again, [part])) for part in range(PARTS)),
        return_exceptions=True,  # never return while a part may still be writing
    )
    for outcome in written:
        if isinstance(outcome, BaseException):
            log.warning("campaign_part_left", exc_info=outcome)
    counts = [0 if isinstance(outcome, BaseException) else outcome for outcome in written]
    short = await _short_parts(session, campaign_id, counts, again)
    if not short:
        return sum(counts)
    # Every short part in one statement, in contact order like any start: two starts that
    # complete parts of overlapping lists lock their conversations in the same order.
    return sum(counts) + _rowcount(await session.execute(statement(True, short)))


async def _short_parts(
    session: AsyncSession, campaign_id: uuid.UUID, written: list[int], again: bool
) -> list[int]:
    """The parts some of whose staged rows (as this transaction sees them) have no message.
    A first start's parts wrote a message for each of their rows or fell short by their
    count; a restart's wrote only the missing ones, so its check looks for messages."""
    wanted: list[Any] = [_in_part(part) for part in range(PARTS)]
    if again:
        wanted = [and_(part, _without_message(campaign_id)) for part in wanted]
    query = select(*(func.count().filter(condition) for condition in wanted)).where(
        STAGED.c.campaign_id == _written(campaign_id)
    )
    staged = (await session.execute(query)).one()
    if again:
        return [part for part, missing in enumerate(staged) if missing]
    return [part for part, count in enumerate(staged) if count != written[part]]


async def _write_part(sessions: async_sessionmaker[AsyncSession], statement: Insert) -> int:
    async with sessions() as session:
        await _checked_out(session)
        if not await locks.try_keep_erasures_out(session):
            # An erasure waits for the start: a part may not wait for it.
            raise _PartLeft("an erasure is waiting")
        await _room_to_sort(session)
        await _set_local(session, "lock_timeout", PART_LOCK_TIMEOUT)
        count = _rowcount(await session.execute(statement))
        await session.commit()
        return count


class _PartLeft(RuntimeError):
    """A part left to the start's own transaction."""


def _pool_has_room(session: AsyncSession) -> bool:
    """Whether the pool has a connection free for each part now. A part waiting for one
    while the requests holding them wait for this start's lock (chunks, a pause) would wait
    out the pool's timeout before the start writes it itself."""
    bind = session.get_bind()
    pool = bind.pool if isinstance(bind, Engine) else None
    size, taken = getattr(pool, "size", None), getattr(pool, "checkedout", None)
    if not callable(size) or not callable(taken):
        return False
    return int(size()) - int(taken()) >= PARTS


# Not yet claimed: due (`accepted`), or waiting for send_at or quiet hours to end.
UNCLAIMED = (status.ACCEPTED, *status.DEFERRED)


def _waiting(campaign_id: uuid.UUID) -> Any:
    table = MESSAGES
    return and_(table.c.campaign_id == campaign_id, table.c.status.in_(UNCLAIMED))


async def hold(session: AsyncSession, campaign_ids: Sequence[uuid.UUID]) -> int:
    """Messages of these campaigns not yet claimed stop being due: the claim only takes rows
    whose `next_attempt_at` has come, and NULL never comes; nor does the release of due
    `scheduled` and `held` rows (`schedule._release_due`) take them. This is what pauses a
    campaign in every worker process at once, with no change to the claim."""
    table = MESSAGES
    query = (
        update(table)
        .where(
            table.c.campaign_id.in_(campaign_ids),
            table.c.status.in_(UNCLAIMED),
            table.c.next_attempt_at.is_not(None),
        )
        .values(next_attempt_at=None)
    )
    return _rowcount(await session.execute(query))


async def release(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """Undo `hold`: the messages leave at the campaign's `send_at` if it is still ahead (as
    `scheduled`), else now; the claim holds again those inside their quiet hours."""
    table = MESSAGES
    ahead = campaign.send_at is not None and campaign.send_at > now
    values: dict[str, Any] = {"next_attempt_at": campaign.send_at if ahead else now}
    if ahead:
        values["status"] = status.SCHEDULED
    query = (
        update(table)
        .where(_waiting(campaign.id), table.c.next_attempt_at.is_(None))
        .values(**values)
    )
    return _rowcount(await session.execute(query))


async def cancel_waiting(session: AsyncSession, campaign_id: uuid.UUID, now: datetime) -> int:
    table = MESSAGES
    query = (
        update(table)
        .where(_waiting(campaign_id))
        .values(status=CANCELLED, next_attempt_at=None, updated_at=now)
    )
    return _rowcount(await session.execute(query))


async def status_counts(
    session: AsyncSession, campaign_id: uuid.UUID
) -> dict[str, tuple[int, int]]:
    """For each status: how many messages, and how many of those the provider took (they
    have its message id)."""
    query = (
        select(Message.status, func.count(), func.count(Message.provider_message_id))
        .where(Message.campaign_id == campaign_id)
        .group_by(Message.status)
    )
    rows = await session.execute(query)
    return {row_status: (int(total), int(taken)) for row_status, total, taken in rows}


async def deferred(
    session: AsyncSession, campaign_id: uuid.UUID
) -> dict[str, tuple[int, datetime | None]]:
    """For `scheduled` and `held`: how many messages, and the soonest one leaves (None while
    the campaign is paused)."""
    query = (
        select(Message.status, func.count(), func.min(Message.next_attempt_at))
        .where(Message.campaign_id == campaign_id, Message.status.in_(status.DEFERRED))
        .group_by(Message.status)
    )
    rows = await session.execute(query)
    return {row_status: (int(total), soonest) for row_status, total, soonest in rows}


async def staged_by_zone(session: AsyncSession, campaign_id: uuid.UUID) -> list[tuple[str, int]]:
    """A draft's staged recipients counted by zone key (as the start will read it)."""
    query = (
        select(_ZONE_KEY, func.count())
        .select_from(_staged_with_contacts())
        .where(STAGED.c.campaign_id == campaign_id)
        .group_by(_ZONE_KEY)
    )
    return [(key or "", int(count)) for key, count in await session.execute(query)]


async def cancelled_by_code(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str | None, int]:
    """The campaign's `cancelled` messages by why: no code for the campaign's own cancel,
    `recipient_opted_out` (an opt-out found at dispatch), `erased` (the person was erased)."""
    query = (
        select(Message.error_code, func.count())
        .where(Message.campaign_id == campaign_id, Message.status == CANCELLED)
        .group_by(Message.error_code)
    )
    return {code: int(count) for code, count in await session.execute(query)}


@dataclass(frozen=True, slots=True)
class FailureReasons:
    """A campaign's commonest failures by (code, reason), and what the rest add up to."""

    top: list[tuple[str | None, str | None, int]]
    other_messages: int  # failed messages whose reason is not in `top`
    other_reasons: int  # distinct reasons among them


async def failure_reasons(
    session: AsyncSession, campaign_id: uuid.UUID, limit: int = 20
) -> FailureReasons:
    """The `limit` commonest reasons, and the rest counted: one statement, so that the top
    and the rest add up to the failures of one snapshot even while receipts arrive."""
    count = func.count().label("count")
    query = (
        select(
            Message.error_code,
            Message.error_message,
            count,
            func.sum(func.count()).over().label("failed"),
            func.count().over().label("reasons"),
        )
        .where(Message.campaign_id == campaign_id, Message.status.in_(status.FAILURES))
        .group_by(Message.error_code, Message.error_message)
        .order_by(
            count.desc(),
            # NULLs (a retry's end has no provider code) sort last on both databases alike:
            # SQLite puts them first by default, PostgreSQL last, and the cut at `limit`
            # must keep the same reasons on both.
            Message.error_code.asc().nulls_last(),
            Message.error_message.asc().nulls_last(),
        )
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    top = [(code, text, int(n)) for code, text, n, _, _ in rows]
    failed, reasons = (int(rows[0].failed), int(rows[0].reasons)) if rows else (0, 0)
    return FailureReasons(top, failed - sum(n for _, _, n in top), reasons - len(top))


async def cost_of_sent(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    """The estimated cost (micro-units) of the messages the provider took."""
    staged = CampaignRecipient
    query = (
        select(func.coalesce(func.sum(staged.price_micros), 0))
        .select_from(Message)
        .join(
            staged,
            and_(
                staged.campaign_id == Message.campaign_id, staged.to_address == Message.to_address
            ),
        )
        .where(Message.campaign_id == campaign_id, Message.provider_message_id.is_not(None))
    )
    return int(await session.scalar(query) or 0)


async def first_staged(
    session: AsyncSession, campaign_id: uuid.UUID, limit: int
) -> list[CampaignRecipient]:
    """A campaign's first staged recipients by their row in the file: its preview."""
    query = (
        select(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(CampaignRecipient.row, CampaignRecipient.to_address)
        .limit(limit)
    )
    return list(await session.scalars(query))
