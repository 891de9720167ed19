"""The governor on a real database: GCRA spacing over several keys, the adaptive slow-down on
429 and its recovery, WhatsApp's pair rate, and priority. On PostgreSQL the state is in
`governor_limits` rows (and two governors on one database share it, as two processes would);
on SQLite it is in the process.

The PostgreSQL store runs on PostgreSQL's clock, which a test cannot stop, so waits are checked
against what they must be give or take `SLACK` (the time the test itself takes between calls).
The pure arithmetic is checked exactly, on a clock the test sets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from textbridge.bootstrap import bootstrap
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.dispatch import gcra, priority
from textbridge.dispatch.governor import Governor, _sleep_until, build_governor, sender_kind
from textbridge.dispatch.governor_store import DRIFT_PER_SECOND, ClockLink
from textbridge.messaging import outbound
from textbridge.models import Message
from textbridge.providers.base import SendRateLimited, SendUnavailable
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.live import scaled
from ..support.textbridge import SANDBOX_NUMBER, settings_for

# Paces measured against the wall clock: run with the machine to itself (see the Makefile).
pytestmark = pytest.mark.alone

SENDER = "+14155550100"
MARGIN = 0.04
SLACK = 0.02  # between waits decided in one step: only float rounding and the test's own pace
LEAD = MARGIN / 2  # no slot is closer than this to the store's decision
DUE_SLACK = scaled(0.05)  # against the test's clock: one round trip to the store

MakeGovernor = Callable[..., Governor]


@pytest.fixture
async def governor_for(database: Database, tmp_path: Path) -> AsyncIterator[MakeGovernor]:
    """Governors on one fresh database (each with its own engine, as separate processes)."""
    url = database.fresh_url(tmp_path)
    engines: list[AsyncEngine] = []

    def make(**overrides: Any) -> Governor:
        settings = settings_for(url, "http://textbridge.test", governor=True, **overrides)
        engine = create_engine(url)
        engines.append(engine)
        return build_governor(settings, create_session_factory(engine))

    yield make
    for engine in engines:
        await engine.dispose()


def message(
    to: str = "+14155550199",
    *,
    sender: str = SENDER,
    channel: str = "sms",
    provider: str = "plivo",
    level: int = priority.CAMPAIGN,
    segments: int = 1,
) -> Message:
    return Message(
        id=uuid.uuid4(),
        provider=provider,
        channel=channel,
        from_address=sender,
        to_address=to,
        priority=level,
        segments=segments,
        next_attempt_at=utcnow(),
    )


def assert_due(due: float, expected: float, took: timedelta) -> None:
    """`due` was measured from before a store round trip that took `took`."""
    assert expected - SLACK <= due <= expected + took.total_seconds() + SLACK


def spacing(per_second: float) -> float:
    return 1 / (per_second * (1 - MARGIN))


def slots_of(governor: Governor, messages: list[Message]) -> list[float]:
    """The admitted messages' waits, in seconds from now."""
    return [governor.slot_wait(m.id) for m in messages]


# --- the arithmetic, on a clock the test sets ------------------------------------------------


def test_gcra_spaces_a_key_and_takes_the_latest_of_several_keys() -> None:
    states = {"a": gcra.KeyState(), "b": gcra.KeyState()}
    slow, fast = gcra.Cell("a", 0.5), gcra.Cell("b", 0.1)
    requests = [gcra.Request((slow, fast), max_wait=10)] * 3 + [gcra.Request((fast,), 10)]
    decisions = gcra.decide(states, requests, now=100.0, recovery_per_second=0.1)
    assert [d.wait for d in decisions] == pytest.approx([0.0, 0.5, 1.0, 1.1])
    assert states["a"].tat == pytest.approx(101.5)
    # Idle for a while: no saved-up burst, the next one leaves now and the one after waits.
    later = gcra.decide(states, requests[:2], now=200.0, recovery_per_second=0.1)
    assert [d.wait for d in later] == pytest.approx([0.0, 0.5])


def test_the_clock_link_keeps_the_tightest_reading_and_follows_a_stepped_clock() -> None:
    now = [10.2]
    link = ClockLink(lambda: now[0])
    link.sample(before=10.0, theirs=1000.0, after=10.2)  # read at 10.1, give or take 0.1
    # Never early: a slot on their clock is placed at the latest it can be on ours.
    assert link.local_time(1000.0) == pytest.approx(10.1 + 0.1)
    assert link.loose(tight=0.05)
    now[0] = 20.02
    link.sample(before=20.0, theirs=1010.05, after=20.02)  # tighter: read at 20.01 +- 0.01
    assert link.local_time(1010.05) == pytest.approx(20.01 + 0.01)
    assert not link.loose(tight=0.05)
    # A slow round trip (a busy event loop, a row lock's wait) does not move it.
    now[0] = 30.5
    link.sample(before=30.0, theirs=1020.07, after=30.5)
    error = 0.01 + (30.5 - 20.02) * DRIFT_PER_SECOND
    assert link.local_time(1020.07) == pytest.approx(30.03 + error)
    # An old sample's error grows: after long enough a looser fresh one wins.
    aged = 20.02 + (0.05 - 0.01) / DRIFT_PER_SECOND + 1
    now[0] = aged + 0.1
    link.sample(before=aged, theirs=aged + 0.05 + 990.07, after=aged + 0.1)
    assert link.local_time(aged + 1000) == pytest.approx(aged + 1000 - 990.07 + 0.05)
    # A reading the kept one cannot explain (the clock was stepped by 2 s): it replaces it.
    now[0] = aged + 5.5
    link.sample(before=aged + 5, theirs=aged + 5.25 + 992.07, after=aged + 5.5)
    assert link.local_time(aged + 1000) == pytest.approx(aged + 1000 - 992.07 + 0.25)


def test_a_deferred_request_reserves_nothing_and_queues_behind_the_backlog() -> None:
    state = gcra.KeyState(tat=105.0)
    cell = gcra.Cell("a", 1.0)
    campaign = gcra.Request((cell,), max_wait=2)
    reply = gcra.Request((cell,), max_wait=2, behind_backlog=False)
    first, second, answer = gcra.decide({"a": state}, [campaign, campaign, reply], 100.0, 0.1)
    assert (first.admitted, first.wait) == (False, 5.0)
    assert (second.admitted, second.wait) == (False, 6.0)
    assert (answer.admitted, answer.wait) == (False, 5.0)  # next to the free slot, not the line
    assert state.tat == 105.0


def test_replies_deferred_together_line_up_next_to_the_free_slot() -> None:
    state = gcra.KeyState(tat=105.0, backlog=150.0)  # a long campaign line is waiting
    reply = gcra.Request((gcra.Cell("a", 1.0),), max_wait=2, behind_backlog=False)
    decisions = gcra.decide({"a": state}, [reply] * 3, 100.0, 0.1)
    # Each a spacing after the other from the free slot (not all due at one moment, to be
    # claimed together again), all far ahead of the campaign line; nothing reserved.
    assert [d.wait for d in decisions] == [5.0, 6.0, 7.0]
    assert (state.tat, state.backlog) == (105.0, 150.0)


def test_a_slot_is_never_closer_than_the_lead() -> None:
    states = {"a": gcra.KeyState(tat=100.01)}
    requests = [gcra.Request((gcra.Cell("a", 0.1),), max_wait=1)] * 2
    decisions = gcra.decide(states, requests, 100.0, 0.1, lead=0.02)
    assert [d.wait for d in decisions] == pytest.approx([0.02, 0.12])


def test_a_cost_of_several_units_spaces_by_all_of_them() -> None:
    states = {"a": gcra.KeyState()}
    three_segments = gcra.Request((gcra.Cell("a", 1.0, cost=3),), max_wait=10)
    decisions = gcra.decide(states, [three_segments] * 2, 0.0, 0.1)
    assert [d.wait for d in decisions] == [0.0, 3.0]


def test_a_429_halves_once_per_second_and_recovers_linearly() -> None:
    state = gcra.KeyState()
    recovery = 0.5 / 10  # from half to full in 10 s
    gcra.slow_down(state, 50.0, retry_after=None, recovery_per_second=recovery)
    gcra.slow_down(state, 50.5, retry_after=None, recovery_per_second=recovery)  # same burst
    assert gcra.current_factor(state, 50.5, recovery) == pytest.approx(0.5 + 0.025)
    gcra.slow_down(state, 51.0, retry_after=4.0, recovery_per_second=recovery)
    assert state.factor == pytest.approx((0.5 + 0.05) / 2)
    assert state.blocked_until == 55.0
    assert gcra.current_factor(state, 70.0, recovery) == 1.0
    for moment in range(100, 110):
        gcra.slow_down(state, float(moment), None, recovery)
    assert state.factor == gcra.MIN_FACTOR


@pytest.mark.parametrize(
    ("channel", "address", "kind"),
    [
        ("sms", "+14155550100", "long_code"),
        ("sms", "+18005550100", "toll_free"),
        ("sms", "72345", "short_code"),
        ("sms", "ACME", "alphanumeric"),
        ("whatsapp", "+14155550100", "whatsapp"),
    ],
)
def test_sender_kinds(channel: str, address: str, kind: str) -> None:
    assert sender_kind(channel, address) == kind


# --- the governor on each database -------------------------------------------------------------


async def test_a_sender_is_spaced_and_the_rest_wait_in_the_database(
    governor_for: MakeGovernor,
) -> None:
    governor = governor_for(rate_senders={SENDER: 10.0}, governor_max_wait_seconds=0.5)
    batch = [message(f"+1415555{i:04d}") for i in range(10)]
    before, started = utcnow(), time.monotonic()
    admitted = await governor.admit(batch)
    slots = [time.monotonic() + wait - started for wait in slots_of(governor, admitted)]
    after = utcnow()
    assert len(admitted) == 5  # slots 0.02 (the lead), 0.124 ... 0.437 are within 0.5 s
    for index, slot in enumerate(slots):  # decided during the admission, placed from then
        assert_due(slot, LEAD + index * spacing(10), after - before)
    deferred = [m for m in batch if m not in admitted]
    due = [(m.next_attempt_at - before).total_seconds() for m in deferred]  # type: ignore[operator]
    assert due == sorted(due)  # in line, each a spacing after the other
    assert_due(due[0], LEAD + 5 * spacing(10) - 0.375, after - before)  # 3/4 of max_wait before


async def test_segments_count_against_a_long_code(governor_for: MakeGovernor) -> None:
    governor = governor_for()  # a long code: 1 segment per second
    admitted = await governor.admit([message(segments=2), message()])
    assert len(admitted) == 1  # the second's slot is 2 segments (2.08 s) away: later
    assert slots_of(governor, admitted) == pytest.approx([LEAD], abs=SLACK)


async def test_a_429_slows_the_sender_down_and_retry_after_holds_it(
    governor_for: MakeGovernor,
) -> None:
    governor = governor_for(rate_senders={SENDER: 10.0}, governor_recovery_seconds=3600)
    first = message()
    assert await governor.admit([first]) == [first]
    await governor.wait_for_slot(first.id)  # sent: its limits are remembered for a 429
    await governor.observe(first.id, SendUnavailable("503 is not a rate limit"))
    await governor.observe(first.id, SendRateLimited("429", retry_after=None))
    pair = [message(), message()]
    assert len(await governor.admit(pair)) == 2
    gap = governor.slot_wait(pair[1].id) - governor.slot_wait(pair[0].id)
    assert gap == pytest.approx(2 * spacing(10), abs=SLACK)  # half the rate
    await governor.observe(first.id, SendRateLimited("429", retry_after=30))
    held = message()
    assert await governor.admit([held]) == []
    assert (held.next_attempt_at - utcnow()).total_seconds() > 25  # type: ignore[operator]


async def test_the_rate_recovers_after_a_429(governor_for: MakeGovernor) -> None:
    governor = governor_for(rate_senders={SENDER: 10.0}, governor_recovery_seconds=0.5)
    first = message()
    await governor.admit([first])
    await governor.wait_for_slot(first.id)
    await governor.observe(first.id, SendRateLimited("429"))
    pair = [message(), message()]
    await governor.admit(pair)
    gap = governor.slot_wait(pair[1].id) - governor.slot_wait(pair[0].id)
    assert gap > spacing(10) + SLACK  # slowed at first
    deadline = asyncio.get_running_loop().time() + scaled(1.0)
    while gap > spacing(10) + SLACK:  # from half to full in 0.5 s
        assert asyncio.get_running_loop().time() < deadline, f"still {gap:.3f} s apart"
        await asyncio.sleep(0.05)  # polling for the condition
        pair = [message(), message()]
        await governor.admit(pair)
        gap = governor.slot_wait(pair[1].id) - governor.slot_wait(pair[0].id)


async def test_a_message_woken_late_takes_a_fresh_slot(governor_for: MakeGovernor) -> None:
    governor = governor_for(rate_senders={SENDER: 5.0})
    batch = [message(f"+1415555{i:04d}") for i in range(5)]
    assert len(await governor.admit(batch)) == 5  # slots 0 ... 0.83 s
    loop = asyncio.get_running_loop()
    after_the_last = loop.time() + governor.slot_wait(batch[4].id) + spacing(5)
    time.sleep(0.45)  # a stalled process (blocking on purpose): the second slot is 0.24 s past
    await governor.wait_for_slot(batch[1].id)
    # Not sent at once, 0.24 s late next to the others: it waited for the slot after the last
    # (each slot is seen through a round trip to the store, hence the slack).
    assert loop.time() >= after_the_last - DUE_SLACK


async def test_whatsapp_pair_rate_holds_one_recipient_not_the_others(
    governor_for: MakeGovernor,
) -> None:
    governor = governor_for()
    to_ann, again_to_ann, to_bob = (
        message("+14155550199", channel="whatsapp"),
        message("+14155550199", channel="whatsapp"),
        message("+14155550188", channel="whatsapp"),
    )
    before = utcnow()
    admitted = await governor.admit([to_ann, again_to_ann, to_bob])
    after = utcnow()
    assert admitted == [to_ann, to_bob]
    due = (again_to_ann.next_attempt_at - before).total_seconds()  # type: ignore[operator]
    assert_due(due, 6 / (1 - MARGIN) - 1.5, after - before)  # 1.5: 3/4 of max_wait


async def test_a_reply_passes_queued_campaign_traffic(governor_for: MakeGovernor) -> None:
    # Slow enough (one per 5.2 s) that the test's own pace cannot change the picture.
    governor = governor_for(rate_senders={SENDER: 0.2})
    campaign = [message(f"+1415555{i:04d}") for i in range(20)]
    start = utcnow()
    admitted = await governor.admit(campaign)
    assert len(admitted) == 1  # the next slot (5.2 s) is past the 2 s bound: 19 deferred
    reply, later = message("+14155550001", level=priority.CONVERSATION), message()
    await governor.admit([reply])
    await governor.admit([later])
    # The reply is due next to the free slot (1.5 s before 5.2 s), not behind the 19 deferred
    # campaign messages (about 104 s), as the later campaign message is.
    reply_due = (reply.next_attempt_at - start).total_seconds()  # type: ignore[operator]
    later_due = (later.next_attempt_at - start).total_seconds()  # type: ignore[operator]
    assert reply_due <= spacing(0.2) - 1.5 + DUE_SLACK
    assert later_due >= 20 * spacing(0.2) - 1.5 - SLACK


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_two_processes_share_one_sender_on_postgresql(governor_for: MakeGovernor) -> None:
    # PostgreSQL only: on SQLite one process does everything, so there is nothing to share.
    one, two = (governor_for(rate_senders={SENDER: 1.0}) for _ in range(2))
    first, second = message(), message()
    await one.admit([first])
    await two.admit([second])
    # Shared: the second waits for the slot after the first (1.04 s after it, less the time
    # the test took in between); each process on its own would let both go at once.
    assert one.slot_wait(first.id) < LEAD + SLACK
    assert two.slot_wait(second.id) > spacing(1) / 2


def test_a_slot_is_never_left_early_under_uvloop() -> None:
    # `serve` runs on uvloop, whose timers may fire a millisecond early (measured: 1.2 ms).
    async def earliest_of(sleeps: int) -> float:
        worst = -math.inf
        for number in range(sleeps):
            moment = time.monotonic() + 0.001 + number % 17 * 0.0011
            await _sleep_until(moment)
            worst = max(worst, moment - time.monotonic())
        return worst

    assert uvloop.run(earliest_of(300)) <= 0


@contextlib.contextmanager
def slow_commits(database: Database, seconds: float) -> Iterator[None]:
    """Every commit that changed a `governor_limits` row takes `seconds` longer."""
    database.rows(
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$"
    )
    database.rows(
        "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON governor_limits "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"
    )
    try:
        yield
    finally:
        database.rows("DROP FUNCTION slow_commit() CASCADE")


# PostgreSQL only, the next three: the in-process store's clock is the process's own.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_slots_count_from_when_postgresql_read_its_clock_not_from_the_commit(
    governor_for: MakeGovernor, database: Database
) -> None:
    governor = governor_for(rate_senders={SENDER: 1.0})
    await governor.admit([message()])  # the key's row exists: only the update is slowed below
    await asyncio.sleep(spacing(1))
    pair = [message(), message()]
    with slow_commits(database, 0.3):
        await governor.admit(pair)  # its commit takes 0.3 s after PostgreSQL read its clock
    # The second slot is one spacing after the first, which was PostgreSQL's "now" (and the
    # lead): 0.3 s before the admission returned. Counted from the return, every slot would be
    # 0.3 s late, by as much as the commit happened to take in that process.
    assert governor.slot_wait(pair[1].id) <= LEAD + spacing(1) - 0.3 + SLACK


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_slot_that_passed_during_the_stores_own_commit_is_taken_again_once(
    governor_for: MakeGovernor, database: Database
) -> None:
    governor = governor_for(rate_senders={SENDER: 100.0})
    await governor.admit([message()])
    one = message()
    # Each commit changes two rows (the sender's and the account's): 0.2 s, far past the lead.
    with slow_commits(database, 0.1):
        assert await governor.admit([one]) == [one]
        started = time.monotonic()
        await governor.wait_for_slot(one.id)
    # Its slot passed during the admission's commit: it does not leave late (next to the
    # slots after it, on time) but takes a fresh one, asked twice that commit ahead, which it
    # holds before it passes (about 0.4 s in all: one more commit, then the wait). With the
    # lead alone, every fresh slot would pass during its own commit again, up to the wait
    # budget (30 s).
    assert 0.2 <= time.monotonic() - started < 1.0


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_first_reading_of_the_clock_behind_a_row_lock_puts_no_slot_early(
    governor_for: MakeGovernor, database: Database
) -> None:
    """Another process holds the sender's row (between its read and its write) when a process
    first asks: PostgreSQL reads the clock for that lock statement after the wait (the row
    changed), so its midpoint is half the wait early."""
    await governor_for(rate_senders={SENDER: 1.0}).admit([message()])  # the rows exist
    fresh = governor_for(rate_senders={SENDER: 1.0})
    engine = create_engine(database.url)
    try:
        async with engine.connect() as holder:
            key = {"key": f"sender:plivo:sms:{SENDER}"}
            await holder.execute(LOCK_KEY, key)
            one = message()
            admitting = asyncio.create_task(fresh.admit([one]))
            await asyncio.sleep(0.3)  # the fresh process's lock statement waits meanwhile
            free_at = await holder.scalar(MOVE_KEY, key)
            await asyncio.sleep(0.2)
            await holder.commit()
            assert await admitting == [one]
        before = time.monotonic()
        their_now = await _postgresql_clock(engine)
    finally:
        await engine.dispose()
    slot_at = time.monotonic() + fresh.slot_wait(one.id)
    # The slot (PostgreSQL's `free_at`) on this process's clock is at least this late:
    assert slot_at >= free_at - their_now + before - 0.001


LOCK_KEY = text("SELECT tat FROM governor_limits WHERE key = :key FOR UPDATE")
MOVE_KEY = text(
    "UPDATE governor_limits SET tat = extract(epoch FROM clock_timestamp()) + 1.5"
    " WHERE key = :key RETURNING tat"
)


async def _postgresql_clock(engine: AsyncEngine) -> float:
    async with engine.connect() as connection:
        reading = await connection.scalar(text("SELECT extract(epoch FROM clock_timestamp())"))
    return float(reading)


async def test_the_dispatcher_sends_a_reply_before_queued_campaign_traffic(
    database: Database, tmp_path: Path
) -> None:
    sent_to: list[str] = []

    def plivo(request: httpx.Request) -> httpx.Response:
        sent_to.append(json.loads(request.content)["dst"])
        return httpx.Response(202, json={"api_id": "a", "message_uuid": [str(uuid.uuid4())]})

    settings = settings_for(
        database.fresh_url(tmp_path),
        "http://textbridge.test",
        governor=True,
        rate_senders={SANDBOX_NUMBER: 5.0},
    )
    runtime = build_runtime(settings, httpx.MockTransport(plivo))
    await bootstrap(runtime)
    for number in range(30):
        await _queue(runtime, f"+1415555{number:04d}", priority.CAMPAIGN)
    dispatching = asyncio.create_task(runtime.dispatcher.run())
    try:
        await _until(lambda: len(sent_to) >= 3)
        await _queue(runtime, "+14155550001", priority.CONVERSATION)
        await _until(lambda: "14155550001" in sent_to)
        await _until(lambda: len(sent_to) == 31)
        # The first claim reserved 2 s of slots (about 10 messages at 5/s); the reply comes
        # soon after them (about 13th), ahead of the rest of the campaign, instead of last.
        assert len(sent_to) - 1 - sent_to.index("14155550001") >= 10
    finally:
        dispatching.cancel()
        await asyncio.gather(dispatching, return_exceptions=True)
        await runtime.aclose()


async def _queue(runtime: Runtime, to: str, level: int) -> None:
    async with runtime.unit_of_work() as uow:
        request = outbound.SendRequest(to=to, text="hello")
        message = await outbound.send(uow, request, None, runtime.providers)
        message.priority = level
        await uow.commit()


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for `condition` (polling; scaled like `wait_until`)."""
    deadline = asyncio.get_running_loop().time() + scaled(15)
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
