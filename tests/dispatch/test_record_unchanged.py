"""Recording accepted sends from the claim's copy of each row (`rows.write_unchanged`): only
rows no one has written since the claim, in one statement; every other row is read, locked
and recorded the ordinary way. PostgreSQL only where it says so (SQLite has no such path)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text

from textbridge.compliance import erasure
from textbridge.compliance.person import PSEUDONYM_PREFIX
from textbridge.db.engine import create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import history, rows
from textbridge.dispatch.dispatcher import Claimed
from textbridge.messaging import service, status
from textbridge.models import Message, MessageEvent
from textbridge.providers.base import StatusUpdate
from textbridge.runtime import Runtime

from .test_dispatcher import (  # noqa: F401 (plivo: the fixture)
    FakePlivo,
    _load,
    _queue,
    _ref_of,
    accepted,
    plivo,
)

TO = "+14155550199"


async def test_a_person_erased_during_the_send_stays_erased(
    plivo: tuple[Runtime, FakePlivo],  # noqa: F811 (the fixture)
) -> None:
    """Erased while their message is with the provider: the send is recorded on the erased
    row (the provider's id, `submitted`), and neither the row nor the live events written
    with it bring back the number or the text that the erasure removed."""
    runtime, fake = plivo

    async def erased_meanwhile(request: httpx.Request) -> httpx.Response:
        await erasure.erase(runtime.sessions, TO, actor="test", origin=None)
        return accepted(request)

    fake.answers.append(erased_meanwhile)  # type: ignore[arg-type]
    message_id = await _queue(runtime, TO)
    after_erasure = await _live_events_now(runtime)
    assert await runtime.dispatcher.dispatch_due() == 1
    message = await _load(runtime, message_id)
    assert (message.status, message.body) == (status.SUBMITTED, None)
    assert message.provider_message_id
    assert message.to_address.startswith(PSEUDONYM_PREFIX)
    if runtime.engine.dialect.name == "postgresql":
        written = await _live_events_since(runtime, after_erasure)
        assert written, "the record's live event"
        assert not [data for data in written if "4155550199" in data or "hello" in data]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_an_accepted_send_is_recorded_in_one_statement(
    plivo: tuple[Runtime, FakePlivo],  # noqa: F811 (the fixture)
) -> None:
    """The common case takes the path without a read: after the provider's answer, the
    record is the one conditional statement, with its history and live event."""
    runtime, fake = plivo
    statements: list[str] = []
    at_call: list[int] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    def answer(request: httpx.Request) -> httpx.Response:
        at_call.append(len(statements))
        return accepted(request)

    fake.answers.append(answer)
    message_id = await _queue(runtime, TO)
    assert runtime.dispatch_engine is not None
    engine = runtime.dispatch_engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert await runtime.dispatcher.dispatch_due() == 1
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    record = statements[at_call[0] :]
    assert len(record) == 1, record
    assert "xmin" in record[0]
    message = await _load(runtime, message_id)
    assert (message.status, message.lease_expires_at) == (status.SUBMITTED, None)
    expected = [status.ACCEPTED, status.SENDING, status.SUBMITTED]
    assert await _history(runtime, message_id) == expected


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_only_rows_nobody_wrote_since_the_claim_are_written(
    plivo: tuple[Runtime, FakePlivo],  # noqa: F811 (the fixture)
) -> None:
    """A row another transaction only locked is still the claim's; a row it wrote is not:
    it is left alone, with no history or live event, for the ordinary record."""
    runtime, _ = plivo
    locked_id, changed_id = await _queue(runtime, TO), await _queue(runtime, "+14155550198")
    claimed, _found = await runtime.dispatcher.claim_due()
    assert {one.id for one in claimed} == {locked_id, changed_id}
    async with runtime.sessions() as other:
        await other.execute(select(Message.id).where(Message.id == locked_id).with_for_update())
        await other.commit()
        changed = await other.get(Message, changed_id)
        assert changed is not None
        changed.body = "changed elsewhere"
        await other.commit()
    before = await _live_events_now(runtime)
    for one in claimed:
        history.change(one.row, status.SUBMITTED, lease_expires_at=None)
    async with runtime.unit_of_work() as uow:
        assert await uow.autocommit()
        pairs = [(one.row, one.version) for one in claimed if one.version is not None]
        assert await rows.write_unchanged(uow, pairs) == {locked_id}
    assert (await _load(runtime, locked_id)).status == status.SUBMITTED
    assert (await _load(runtime, changed_id)).status == status.SENDING
    assert status.SUBMITTED not in await _history(runtime, changed_id)
    written = await _live_events_since(runtime, before)
    assert len(written) == 1
    assert str(locked_id) in written[0]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("writer_commits", "written"), [(True, False), (False, True)])
async def test_a_write_under_way_is_waited_for(
    plivo: tuple[Runtime, FakePlivo],  # noqa: F811 (the fixture)
    writer_commits: bool,
    written: bool,
) -> None:
    """Another transaction has written the row and not committed when the record's statement
    comes: the statement waits for it, then looks at the row again. Committed, the row is no
    longer the claim's (left for the ordinary record); rolled back, it still is."""
    runtime, _ = plivo
    message_id = await _queue(runtime, TO)
    claimed, _found = await runtime.dispatcher.claim_due()
    history.change(claimed[0].row, status.SUBMITTED, lease_expires_at=None)
    async with runtime.sessions() as other:
        await other.execute(
            text("UPDATE messages SET body = 'changed elsewhere' WHERE id = :id"),
            {"id": message_id},
        )
        recording = asyncio.create_task(_write_unchanged(runtime, claimed))
        await _until_waiting_for_a_lock(runtime)
        await (other.commit() if writer_commits else other.rollback())
    assert await recording == ({message_id} if written else set())
    expected = status.SUBMITTED if written else status.SENDING
    assert (await _load(runtime, message_id)).status == expected


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_each_change_is_recorded_once_in_a_mixed_group(
    plivo: tuple[Runtime, FakePlivo],  # noqa: F811 (the fixture)
) -> None:
    """Sends that end together, one refused and one whose status callback came first: one
    history entry and one live event per change, whichever way each was recorded."""
    runtime, fake = plivo
    callback_id = str(uuid.uuid4())

    async def calls_back_first(request: httpx.Request) -> httpx.Response:
        async with runtime.unit_of_work() as uow:
            update = StatusUpdate("plivo", callback_id, "delivered", client_ref=_ref_of(request))
            assert await service.apply_status(uow, update, status.DELIVERED)
            await uow.commit()
        return httpx.Response(202, json={"message_uuid": [callback_id]})

    refused = httpx.Response(400, json={"api_id": "a", "error": "invalid destination"})
    fake.answers.extend([accepted, lambda _: refused, calls_back_first, accepted])  # type: ignore[list-item]
    ids = [await _queue(runtime, f"+1415555010{n}") for n in range(4)]
    before = await _live_events_now(runtime)
    assert await runtime.dispatcher.dispatch_due() == 4
    finals = sorted([(await _load(runtime, one)).status for one in ids])
    assert finals == sorted([status.SUBMITTED, status.FAILED, status.DELIVERED, status.SUBMITTED])
    assert len(await _live_events_since(runtime, before)) == 4 + 4  # sending, then the outcome
    for one in ids:
        changes = await _history(runtime, one)
        assert len(changes) == len(set(changes)) == 3, changes


async def _write_unchanged(runtime: Runtime, claimed: list[Claimed]) -> set[uuid.UUID]:
    """On the dispatcher's own pool, as it records (its generic plans)."""
    assert runtime.dispatch_engine is not None
    sessions = create_session_factory(runtime.dispatch_engine)
    async with UnitOfWork(sessions, runtime.bus) as uow:
        assert await uow.autocommit()
        pairs = [(one.row, one.version) for one in claimed if one.version is not None]
        return await rows.write_unchanged(uow, pairs)


async def _until_waiting_for_a_lock(runtime: Runtime) -> None:
    """Until the record's statement waits for a row lock. (Each poll in a transaction of its
    own: a transaction keeps its first view of `pg_stat_activity`.)"""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%xmin%'"
    )
    async with asyncio.timeout(30), runtime.engine.connect() as connection:
        while not await connection.scalar(query):
            await connection.rollback()
            await asyncio.sleep(0.01)


async def _history(runtime: Runtime, message_id: uuid.UUID) -> list[str]:
    async with runtime.sessions() as session:
        found = await session.scalars(
            select(MessageEvent.status)
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.received_at, MessageEvent.id)
        )
        return list(found)


async def _live_events_now(runtime: Runtime) -> int:
    if runtime.engine.dialect.name != "postgresql":
        return 0
    async with runtime.sessions() as session:
        return int(await session.scalar(text("SELECT coalesce(max(id), 0) FROM live_events")))


async def _live_events_since(runtime: Runtime, after: int) -> list[str]:
    async with runtime.sessions() as session:
        found = await session.scalars(
            text("SELECT CAST(data AS text) FROM live_events WHERE id > :after ORDER BY id"),
            {"after": after},
        )
        return list(found)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_the_dispatcher_plans_its_statements_once(
    plivo: tuple[Runtime, FakePlivo],  # noqa: F811 (the fixture)
) -> None:
    """Its pool's connections keep one generic plan per statement (`db.engine.GENERIC_PLANS`);
    the rest of the process keeps the server's default."""
    runtime, _ = plivo
    assert runtime.dispatch_engine is not None
    async with runtime.dispatch_engine.connect() as connection:
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "force_generic_plan"
    async with runtime.engine.connect() as connection:
        assert await connection.scalar(text("SHOW plan_cache_mode")) != "force_generic_plan"
