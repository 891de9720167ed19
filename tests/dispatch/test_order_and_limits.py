"""Per-recipient order across two dispatchers, and the limits of `policy.py`, on a real
database with Plivo's answers from httpx.MockTransport."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.db.base import utcnow
from textbridge.dispatch import rows
from textbridge.dispatch.dispatcher import (
    CLAIM_BATCH,
    Dispatcher,
    _due_pairs_locked_query,
    _still_due_once_locked,
    due_query,
)
from textbridge.dispatch.policy import MAX_ATTEMPTS, Limits
from textbridge.dispatch.priority import CAMPAIGN
from textbridge.messaging import status
from textbridge.models import Message
from textbridge.runtime import Runtime

from .test_dispatcher import FakePlivo, _load, _make_due, _queue, accepted, plivo, plivo_error

__all__ = ["plivo"]  # the fixture

RECIPIENTS = [f"+1415555{n:04d}" for n in range(4)]


def _second_dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(
        runtime.sessions,
        runtime.bus,
        runtime.providers,
        lambda message: f"http://textbridge.test/webhooks/plivo/status?ref={message.id}",
        concurrency=8,
    )


async def _everything_due(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.status == status.ACCEPTED)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_two_dispatchers_keep_each_recipients_order(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """Five messages to each of four recipients, two dispatchers claiming at once, answers
    arriving in random order and some 503s (a retried message holds back the younger ones):
    each recipient receives its messages in the order they were accepted."""
    runtime, fake = plivo
    rng = random.Random(7)

    async def slow_and_flaky(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(rng.random() / 50)
        if rng.random() < 0.2:
            return plivo_error(503, "busy")(request)
        return accepted(request)

    fake.answers.extend([slow_and_flaky] * 200)  # type: ignore[list-item]
    accepted_order: dict[str, list[str]] = defaultdict(list)
    for _ in range(5):
        for to in RECIPIENTS:
            message_id = await _queue(runtime, to)
            accepted_order[to.lstrip("+")].append(str(message_id))
    dispatchers = [runtime.dispatcher, _second_dispatcher(runtime)]
    for _ in range(100):
        await asyncio.gather(*(dispatcher.dispatch_due() for dispatcher in dispatchers))
        await _everything_due(runtime)
        if not await _unsettled(runtime):
            break
    assert not await _unsettled(runtime)
    submitted: dict[str, list[str]] = defaultdict(list)
    for request, response_status in fake.answered:
        if response_status == 202:
            body = httpx.Response(200, content=request.content).json()
            submitted[body["dst"]].append(httpx.URL(body["url"]).params["ref"])
    assert submitted == accepted_order


async def _unsettled(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            Message.__table__.select().where(Message.status.in_((status.ACCEPTED, "sending")))
        )
        return len(rows.all())


async def test_rate_limits_do_not_use_up_attempts(plivo: tuple[Runtime, FakePlivo]) -> None:
    runtime, fake = plivo
    fake.answers.extend([plivo_error(429, "slow down", **{"Retry-After": "2"})] * 7)
    fake.answers.extend([plivo_error(503, "down")] * (MAX_ATTEMPTS - 1))
    message_id = await _queue(runtime)
    for _ in range(7 + MAX_ATTEMPTS - 1):
        await _make_due(runtime, message_id)
        await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.attempts, message.rate_limited) == (
        status.ACCEPTED,
        7 + MAX_ATTEMPTS - 1,
        7,
    )
    await _make_due(runtime, message_id)
    await runtime.dispatcher.dispatch_due()
    assert (await _load(runtime, message_id)).status == status.SUBMITTED


async def test_a_provider_answering_429_forever_fails_the_message_visibly(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    runtime, fake = plivo
    fake.answers.extend([plivo_error(429, "slow down")] * 3)
    dispatcher = Dispatcher(
        runtime.sessions,
        runtime.bus,
        runtime.providers,
        lambda message: "http://textbridge.test/webhooks/plivo/status",
        limits=Limits(max_attempts=2, max_rate_limited=3),
    )
    message_id = await _queue(runtime)
    for _ in range(3):
        await _make_due(runtime, message_id)
        await dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.error_code) == (status.FAILED, "429")
    assert "answered 429 3 times" in (message.error_message or "")


async def test_a_503_with_retry_after_waits_as_asked(plivo: tuple[Runtime, FakePlivo]) -> None:
    runtime, fake = plivo
    fake.answers.append(plivo_error(503, "maintenance", **{"Retry-After": "40"}))
    message_id = await _queue(runtime)
    before = utcnow()
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.error_code) == (status.ACCEPTED, "503")
    assert message.next_attempt_at is not None
    wait = message.next_attempt_at - before
    assert timedelta(seconds=40) <= wait <= timedelta(seconds=42)


async def test_a_permanent_refusal_says_why(plivo: tuple[Runtime, FakePlivo]) -> None:
    runtime, fake = plivo
    fake.answers.append(plivo_error(400, "invalid dst parameter"))
    message_id = await _queue(runtime)
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.error_code) == (status.FAILED, "400")
    assert message.error_message is not None
    assert message.error_message.startswith("Plivo refused a parameter")
    assert "invalid dst parameter" in message.error_message
    assert isinstance(uuid.UUID(str(message.id)), uuid.UUID)


async def test_a_reply_passes_a_paused_campaign_message_to_the_same_person(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """Order holds within a priority: a campaign message (paused: accepted with no due time)
    accepted before a reply to the same recipient from the same sender does not hold the
    reply back; the reply leaves, the campaign message waits."""
    runtime, fake = plivo
    fake.answers.extend([accepted] * 2)
    campaign_message = await _queue(runtime, RECIPIENTS[0])
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.id == campaign_message)
            .values(priority=CAMPAIGN, next_attempt_at=None)
        )
        await session.commit()
    reply = await _queue(runtime, RECIPIENTS[0])
    await runtime.dispatcher.dispatch_due()
    assert (await _load(runtime, reply)).status == status.SUBMITTED
    assert (await _load(runtime, campaign_message)).status == status.ACCEPTED
    assert len(fake.calls) == 1


async def test_a_later_campaign_message_waits_for_an_earlier_reply(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """The other way round order holds: a campaign message accepted after a reply that is
    waiting for a retry does not pass it."""
    runtime, fake = plivo
    fake.answers.extend([accepted] * 2)
    reply = await _queue(runtime, RECIPIENTS[1])
    async with runtime.sessions() as session:
        later = utcnow() + timedelta(minutes=5)
        await session.execute(
            update(Message).where(Message.id == reply).values(next_attempt_at=later)
        )
        await session.commit()
    campaign_message = await _queue(runtime, RECIPIENTS[1])
    async with runtime.sessions() as session:
        await session.execute(
            update(Message).where(Message.id == campaign_message).values(priority=CAMPAIGN)
        )
        await session.commit()
    await runtime.dispatcher.dispatch_due()
    assert (await _load(runtime, campaign_message)).status == status.ACCEPTED
    assert fake.calls == []


async def test_a_message_due_again_waits_for_a_younger_one_in_flight(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """A paused message (accepted, no due time) holds back no later one of its priority; the
    later one passes it, and once it is due again (resumed) it leaves after the one in
    flight, not beside it: one message of the pair in flight at a time."""
    runtime, fake = plivo
    paused, younger = await _paused_and_younger(runtime, RECIPIENTS[2])
    claimed, _ = await runtime.dispatcher.claim_due()
    assert [one.id for one in claimed] == [younger]
    await _make_due(runtime, paused)  # resumed while the younger one is being sent
    assert await runtime.dispatcher.claim_due() == ([], 0)
    await _recorded_submitted(runtime, younger)
    claimed, _ = await runtime.dispatcher.claim_due()
    assert [one.id for one in claimed] == [paused]
    assert fake.calls == []


async def test_the_order_check_uses_the_pair_index(plivo: tuple[Runtime, FakePlivo]) -> None:
    """The claim's check for an older unsettled message of the pair must probe the partial
    index `ix_messages_unsettled_pair`: with the status list as bound parameters, SQLite
    cannot match the index's condition and reads every unsettled row for each due one (a claim
    took minutes behind a 20 000-message campaign)."""
    runtime, _ = plivo
    async with runtime.sessions() as session:
        connection = await session.connection()
        compiled = due_query(CLAIM_BATCH).compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        assert "IN ('accepted', 'sending')" in str(compiled)
        if connection.dialect.name == "sqlite":
            positional = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
            plan = " ".join(str(row[-1]) for row in rows)
            assert "USING INDEX ix_messages_unsettled_pair" in plan, plan


async def test_an_answer_after_the_lease_expired_settles_the_unknown(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """The provider answered so late that another dispatcher's pass took the lease for
    expired and made the message `unknown`: the answer, when it comes, is recorded (here:
    taken, so `submitted`), not dropped."""
    runtime, fake = plivo
    answer = asyncio.Event()

    async def late(request: httpx.Request) -> httpx.Response:
        await answer.wait()
        return accepted(request)

    fake.answers.append(late)  # type: ignore[arg-type]
    message_id = await _queue(runtime)
    sending = asyncio.create_task(runtime.dispatcher.dispatch_due())
    while not fake.calls:
        await asyncio.sleep(0.01)
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    await _second_dispatcher(runtime).dispatch_due()  # recovers the lease
    assert (await _load(runtime, message_id)).status == status.UNKNOWN
    answer.set()
    await sending
    settled = await _load(runtime, message_id)
    assert settled.status == status.SUBMITTED
    assert settled.provider_message_id is not None


async def _pause_older_and_claim_younger(
    runtime: Runtime,
) -> tuple[uuid.UUID, uuid.UUID, AsyncSession]:
    """A paused message and a younger one of its pair; another process's claim (a session of
    its own, through the claim's own steps) has moved the younger one to `sending` and holds
    its transaction open. Returns (paused, younger, that session)."""
    paused, younger = await _paused_and_younger(runtime, RECIPIENTS[3])
    other = runtime.sessions()
    found = await _claims_pairs(other)
    assert [one.id for one in found] == [younger]
    await other.execute(update(Message).where(Message.id == younger).values(status=status.SENDING))
    return paused, younger, other


# PostgreSQL only: SQLite has one writer at a time, so two claims are never open together.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_claim_in_another_process_not_yet_committed_keeps_the_pair_alone(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """Two processes: one's claim has taken the younger message of a pair and not committed
    when the older, paused one is resumed; a claim in the other process must not take the
    older one (its snapshot still shows the younger one `accepted`), neither while the first
    claim is open nor after it commits, until the younger one's send is recorded."""
    runtime, fake = plivo
    paused, younger, other = await _pause_older_and_claim_younger(runtime)
    try:
        await _make_due(runtime, paused)  # resumed while the other claim is open
        claimed, _ = await runtime.dispatcher.claim_due()
        assert paused not in [one.id for one in claimed]
        await other.commit()
        claimed, _ = await runtime.dispatcher.claim_due()
        assert paused not in [one.id for one in claimed]
    finally:
        await other.close()
    await _recorded_submitted(runtime, younger)
    claimed, _ = await runtime.dispatcher.claim_due()
    assert [one.id for one in claimed] == [paused]
    assert fake.calls == []


# PostgreSQL only: SQLite has one writer at a time, so two claims are never open together.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_claim_looks_again_after_locking_the_pairs(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """The other order: a claim's statement took its snapshot while the other claim was
    open (so it shows the younger message `accepted`), and the other claim committed before
    this statement tried the pair's lock, which it gets. The second look, in a new snapshot,
    holds the older one back. (Inside one statement that order cannot be arranged by a test:
    the first read and the second look are run as two steps here, without the lock.)"""
    runtime, _ = plivo
    paused, _younger, other = await _pause_older_and_claim_younger(runtime)
    await _make_due(runtime, paused)
    async with runtime.sessions() as session:
        # The claim's statement took its snapshot before the other claim committed, and its
        # pair lock (later in that statement) once the other's was released by the commit.
        stale = await rows.load(session, due_query(CLAIM_BATCH), {"now": utcnow()})
        assert [one.id for one in stale] == [paused]  # the snapshot before the commit
        await other.commit()
        await other.close()
        kept = await _still_due_once_locked(session, stale)
        await session.rollback()
    assert kept == []


# The previous release (deploy/PREVIOUS_RELEASE) locked a claim's pairs in a statement of its
# own, the key built in Python; a rolling upgrade runs its workers beside this release's.
PREVIOUS_RELEASES_PAIR_LOCK = text(
    "SELECT pg_try_advisory_xact_lock(hashtextextended(CAST(:pair AS text), 7))"
)


# PostgreSQL only: advisory locks.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_pair_locked_the_previous_releases_way_is_left_alone(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    runtime, _ = plivo
    locked, free = await _queue(runtime, RECIPIENTS[0]), await _queue(runtime, RECIPIENTS[1])
    sender = (await _load(runtime, locked)).from_address
    async with runtime.sessions() as old_worker:  # its claim is open on the first pair
        pair = f"{sender}\x1f{RECIPIENTS[0]}"
        assert await old_worker.scalar(PREVIOUS_RELEASES_PAIR_LOCK, {"pair": pair})
        claimed, _ = await runtime.dispatcher.claim_due()
        await old_worker.rollback()
    assert [one.id for one in claimed] == [free]
    claimed, _ = await runtime.dispatcher.claim_due()  # the old worker's claim is over
    assert [one.id for one in claimed] == [locked]


async def _claims_pairs(session: AsyncSession) -> list[Message]:
    """A claim's first two steps on PostgreSQL (the pick with its pair locks, the second
    look), in `session`'s transaction, which stays open."""
    found = await rows.load(session, _due_pairs_locked_query(CLAIM_BATCH), {"now": utcnow()})
    return await _still_due_once_locked(session, found)


async def _paused_and_younger(runtime: Runtime, to: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Two campaign messages to `to`: the older paused (accepted, no due time), the younger due."""
    paused = await _queue(runtime, to)
    younger = await _queue(runtime, to)
    async with runtime.sessions() as session:
        await session.execute(
            update(Message).where(Message.id.in_([paused, younger])).values(priority=CAMPAIGN)
        )
        await session.execute(
            update(Message).where(Message.id == paused).values(next_attempt_at=None)
        )
        await session.commit()
    return paused, younger


# PostgreSQL only: SQLite has one writer at a time, so two claims are never open together.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_claim_beside_an_open_one_does_not_take_a_message_released_meanwhile(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """The review's case: an older message of the pair is `scheduled` (not unsettled, so the
    first claim saw the younger one alone in its pair); the first claim has moved the
    younger one to `sending` and not committed when the older one is released and made due;
    the second claim must leave it (the pair is locked), then hold it back once the first
    commits."""
    runtime, fake = plivo
    older = await _queue(runtime, RECIPIENTS[1])
    younger = await _queue(runtime, RECIPIENTS[1])
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.id == older)
            .values(status=status.SCHEDULED, next_attempt_at=utcnow() + timedelta(hours=1))
        )
        await session.commit()
    other = runtime.sessions()
    try:
        found = await _claims_pairs(other)
        assert [one.id for one in found] == [younger]
        await other.execute(
            update(Message).where(Message.id == younger).values(status=status.SENDING)
        )
        async with runtime.sessions() as session:  # released: due now
            await session.execute(
                update(Message)
                .where(Message.id == older)
                .values(status=status.ACCEPTED, next_attempt_at=utcnow())
            )
            await session.commit()
        claimed, _ = await runtime.dispatcher.claim_due()
        assert older not in [one.id for one in claimed]
        await other.commit()
    finally:
        await other.close()
    claimed, _ = await runtime.dispatcher.claim_due()
    assert older not in [one.id for one in claimed]
    assert fake.calls == []


async def _recorded_submitted(runtime: Runtime, message_id: uuid.UUID) -> None:
    """The message's send recorded as taken by the provider (it no longer holds its pair)."""
    async with runtime.sessions() as session:
        await session.execute(
            update(Message).where(Message.id == message_id).values(status=status.SUBMITTED)
        )
        await session.commit()
