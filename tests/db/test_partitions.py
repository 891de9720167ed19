"""`messages` in monthly partitions on PostgreSQL (migration a104c4a4a104): keys unique across
months, a message with no month never refused, the months ahead made, and the conversion up and
down keeping every row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from textbridge.db import migrate, partitions
from textbridge.webhooks.retention import JournalPurger

from ..support.database import Database, own_postgres_database, run_sync

BEFORE_PARTITIONS = "a102c2a2a102"
MAY = datetime(2026, 5, 10, tzinfo=UTC)
JULY = datetime(2026, 7, 20, tzinfo=UTC)
FAR = datetime(2031, 3, 3, tzinfo=UTC)  # no partition: the migration made months up to now + 3


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


@pytest.fixture(scope="module")
def conversation(database: Database) -> uuid.UUID:
    sender, contact, conversation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    database.rows(
        "INSERT INTO senders (id, provider, channel, address, created_at) "
        "VALUES (:id, 'plivo', 'sms', '+14155550100', now())",
        id=sender,
    )
    database.rows(
        "INSERT INTO contacts (id, address, created_at) VALUES (:id, '+14155550123', now())",
        id=contact,
    )
    database.rows(
        "INSERT INTO conversations (id, contact_id, sender_id, channel, unread_count, created_at) "
        "VALUES (:id, :contact, :sender, 'sms', 0, now())",
        id=conversation,
        contact=contact,
        sender=sender,
    )
    database.rows("SELECT textbridge_ensure_message_partitions(:start, :end)", start=MAY, end=JULY)
    return conversation


def _message(
    database: Database, conversation: uuid.UUID, at: datetime, **columns: Any
) -> uuid.UUID:
    message = uuid.uuid4()
    row = {"key": None, "provider_id": None, **columns}
    database.rows(
        """INSERT INTO messages (id, conversation_id, direction, channel, provider,
            provider_message_id, from_address, to_address, body, status, attempts,
            idempotency_key, created_at, updated_at)
        VALUES (:id, :conversation, 'outbound', 'sms', 'plivo', :provider_id, '+14155550100',
            '+14155550123', 'hello', 'accepted', 0, :key, :at, :at)""",
        id=message,
        conversation=conversation,
        at=at,
        **row,
    )
    return message


def _partition_of(database: Database, message: uuid.UUID) -> str:
    return str(
        database.scalar("SELECT tableoid::regclass::text FROM messages WHERE id = :id", id=message)
    )


def _refused(error: IntegrityError, constraint: str) -> bool:
    return getattr(error.orig, "sqlstate", None) == "23505" and constraint in str(error.orig)


def test_an_idempotency_key_is_unique_across_months(
    database: Database, conversation: uuid.UUID
) -> None:
    first = _message(database, conversation, MAY, key="caller:key-1")
    assert _partition_of(database, first) == "messages_y2026m05"
    with pytest.raises(IntegrityError) as refused:
        _message(database, conversation, JULY, key="caller:key-1")
    assert _refused(refused.value, "uq_messages_idempotency_key")
    assert (
        database.scalar("SELECT count(*) FROM messages WHERE idempotency_key = 'caller:key-1'") == 1
    )


def test_a_provider_id_is_unique_across_months_when_set_by_an_update(
    database: Database, conversation: uuid.UUID
) -> None:
    _message(database, conversation, MAY, provider_id="plivo-uuid-1")
    later = _message(database, conversation, JULY)
    with pytest.raises(IntegrityError) as refused:
        database.rows(
            "UPDATE messages SET provider_message_id = 'plivo-uuid-1' WHERE id = :id", id=later
        )
    assert _refused(refused.value, "uq_messages_provider_provider_message_id")
    database.rows(
        "UPDATE messages SET provider_message_id = 'plivo-uuid-2' WHERE id = :id", id=later
    )
    database.rows(
        "UPDATE messages SET provider_message_id = 'plivo-uuid-3' WHERE id = :id", id=later
    )
    _message(database, conversation, MAY, provider_id="plivo-uuid-2")  # released by the change


def test_a_key_cleared_by_erasure_is_free_again(
    database: Database, conversation: uuid.UUID
) -> None:
    erased = _message(database, conversation, MAY, key="caller:key-2")
    database.rows("UPDATE messages SET idempotency_key = NULL WHERE id = :id", id=erased)
    again = _message(database, conversation, JULY, key="caller:key-2")
    assert (
        database.scalar("SELECT message_id FROM message_keys WHERE key = 'i:caller:key-2'") == again
    )


def test_a_message_with_no_month_lands_in_the_default_partition_and_moves_when_it_is_made(
    database: Database, conversation: uuid.UUID
) -> None:
    counted = "SELECT coalesce(sum(messages), 0) FROM message_counts"
    before = database.scalar(counted)
    stray = _message(database, conversation, FAR, key="caller:key-3")
    assert _partition_of(database, stray) == "messages_default"
    assert database.scalar(counted) == before + 1  # the counts' trigger fires on the parent
    made = database.scalar("SELECT textbridge_ensure_message_partitions(:at, :at)", at=FAR)
    assert made == 1
    assert _partition_of(database, stray) == "messages_y2031m03"
    assert database.scalar(counted) == before + 1  # moved, not counted again
    with pytest.raises(IntegrityError):
        _message(database, conversation, MAY, key="caller:key-3")  # its key moved with it
    assert database.scalar("SELECT textbridge_ensure_message_partitions(:at, :at)", at=FAR) == 0


MONTHS_AHEAD = text(
    "SELECT to_regclass('messages_' || to_char(m, '\"y\"YYYY\"m\"MM'))::text "
    "FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'), "
    "date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => :ahead), "
    "interval '1 month') AS m"
)


def test_the_months_ahead_are_made_by_the_purger_pass(database: Database) -> None:
    last = database.scalar(
        "SELECT 'messages_' || to_char(now() AT TIME ZONE 'UTC' + make_interval(months => :ahead),"
        ' \'"y"YYYY"m"MM\')',
        ahead=partitions.MONTHS_AHEAD,
    )
    database.rows(f"DROP TABLE {last}")  # the last month ahead (empty): made again

    async def ensure() -> tuple[int, list[str | None]]:
        engine = create_async_engine(database.url)
        try:
            async with AsyncSession(engine) as session:
                made = await partitions.ensure_months_ahead(session)
                found = await session.execute(MONTHS_AHEAD, {"ahead": partitions.MONTHS_AHEAD})
                return made, [name for (name,) in found]
        finally:
            await engine.dispose()

    made, months = run_sync(ensure())
    assert made >= 1
    assert len(months) == partitions.MONTHS_AHEAD + 1
    assert None not in months, months


def _drop_last_month_ahead(database: Database) -> str:
    last = str(
        database.scalar(
            "SELECT 'messages_' || to_char(now() AT TIME ZONE 'UTC'"
            ' + make_interval(months => :ahead), \'"y"YYYY"m"MM\')',
            ahead=partitions.MONTHS_AHEAD,
        )
    )
    database.rows(f"DROP TABLE {last}")
    return last


def _exists(database: Database, table: str) -> bool:
    return database.scalar("SELECT to_regclass(:name) IS NOT NULL", name=table) is True


def test_a_process_skips_the_months_while_another_makes_them(database: Database) -> None:
    last = _drop_last_month_ahead(database)

    async def ensure_beside_a_holder() -> int:
        engine = create_async_engine(database.url)
        try:
            async with engine.connect() as holder, AsyncSession(engine) as session:
                lock = "SELECT pg_advisory_lock(:key)"
                await holder.execute(text(lock), {"key": partitions.PARTITIONS_LOCK_KEY})
                return await partitions.ensure_months_ahead(session)
        finally:
            await engine.dispose()

    assert run_sync(ensure_beside_a_holder()) == 0
    assert not _exists(database, last)
    assert run_sync(_ensure(database)) == 1
    assert _exists(database, last)


def test_a_purge_pass_outlives_a_month_it_cannot_make(database: Database) -> None:
    """A long transaction on the default partition makes the attach time out: the pass still
    answers its purge count, and the next one makes the month."""
    last = _drop_last_month_ahead(database)

    async def purge_beside_a_reader() -> int:
        engine = create_async_engine(database.url)
        try:
            async with engine.connect() as reader:
                await reader.execute(text("LOCK TABLE messages_default IN ACCESS SHARE MODE"))
                purger = JournalPurger(async_sessionmaker(engine), retention_days=30)
                return await purger.purge_once()
        finally:
            await engine.dispose()

    assert run_sync(purge_beside_a_reader()) == 0
    assert not _exists(database, last)
    assert run_sync(_ensure(database)) == 1


async def _ensure(database: Database) -> int:
    engine = create_async_engine(database.url)
    try:
        async with AsyncSession(engine) as session:
            return await partitions.ensure_months_ahead(session)
    finally:
        await engine.dispose()


def test_down_and_up_again_keep_every_message_and_key(
    conversation: uuid.UUID, database: Database
) -> None:
    keep = _message(database, conversation, JULY, key="caller:key-4", provider_id="plivo-uuid-4")
    rows = "SELECT id, idempotency_key, provider_message_id, created_at FROM messages ORDER BY id"
    counts = "SELECT coalesce(sum(messages), 0) FROM message_counts"
    before, counted = database.rows(rows), database.scalar(counts)
    migrate.downgrade(database.url, BEFORE_PARTITIONS)
    assert (
        database.scalar("SELECT relkind::text FROM pg_class WHERE oid = 'messages'::regclass")
        == "r"
    )
    assert database.rows(rows) == before
    with pytest.raises(IntegrityError):
        _message(database, conversation, MAY, key="caller:key-4")  # a unique index again
    migrate.upgrade(database.url)
    assert (
        database.scalar("SELECT relkind::text FROM pg_class WHERE oid = 'messages'::regclass")
        == "p"
    )
    assert database.rows(rows) == before
    assert database.scalar(counts) == counted
    with pytest.raises(IntegrityError):
        _message(database, conversation, MAY, provider_id="plivo-uuid-4")  # the key table again
    assert _partition_of(database, keep) == "messages_y2026m07"
