"""Recording accepted sends from the claim's copy of each row (`rows.write_unchanged`): only
rows no one has written since the claim, in one statement; every other row is read, locked
and recorded the ordinary way. PostgreSQL only where it says so (SQLite has no such path)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text

from textbridge.compliance import erasure
from textbridge.compliance.person import PSEUDONYM_PREFIX
from textbridge.dispatch import history, rows
from textbridge.messaging import status
from textbridge.models import Message, MessageEvent
from textbridge.runtime import Runtime

from .test_dispatcher import FakePlivo, _load, _queue, accepted, plivo  # noqa: F401 (fixture)

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
    the rest of the process keeps PostgreSQL's default."""
    runtime, _ = plivo
    assert runtime.dispatch_engine is not None
    async with runtime.dispatch_engine.connect() as connection:
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "force_generic_plan"
    async with runtime.engine.connect() as connection:
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "auto"
