"""The dispatcher: claims due outbound messages and hands them to their provider.

A message row is its own job. `claim_due` moves a batch to `sending` with a lease in one
transaction; the batch is sent concurrently, and outcomes are recorded as they come in, one
transaction per group of completed sends (`_record_group`). On PostgreSQL the sends the
provider accepted whose rows no one has written since the claim (no status callback came
first, no erasure) are recorded in one statement without reading them first; the others are
read, locked and recorded as before. A claim takes at most the free
send slots (`concurrency` less the messages claimed and not yet recorded, those waiting for
their governor slot included), so no more rows are `sending` than this process is sending, and
the next claim starts as soon as a slot frees (`run`), not when the batch's slowest send ends.
`drain` stops claiming and lets what is in flight finish and be recorded (a graceful stop).

A crash between the provider call and that record leaves the row in `sending` with an
expired lease: it becomes `unknown`, never sent again blindly. Every pass recovers expired
leases (not only start-up: a process restarted within a lease would never see them), and the
provider call is bounded by half the lease, so a live dispatcher always records its own
outcome before its lease can expire.

Order: only the oldest not-yet-settled (`accepted` or `sending`) message of a (from, to) pair
can be claimed, so messages to one recipient from one sender leave in the order they were
accepted, however many dispatchers run (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one
writer at a time). Only messages of the same or a more urgent priority hold a message back:
an individual send passes the campaign messages waiting for the same person. A message that
is not due at all holds nothing back: `scheduled` and `held` ones are not `accepted`, and a
paused campaign's are `accepted` with no due time; later messages pass them, and one that
comes due again waits for any of its pair still in flight (the order guarantee is among
messages that are due).

What an outcome means for its message is decided in `policy.py` alone. Nothing that goes wrong
with one message stops the others or leaves it for a restart: an exception before the provider
call is recorded as a retry with backoff (the provider cannot have the message); should a
group's record fail, each of its messages is recorded on its own, and one that still fails is
recorded as `unknown` when the provider may have the message, else as a retry. Only when even
that record fails does the lease take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import perf_counter
from typing import Any

import structlog
from sqlalchemy import Select, and_, bindparam, cast, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge import metrics
from textbridge.campaigns.service import CANCELLED as CAMPAIGN_CANCELLED
from textbridge.campaigns.service import PAUSED as CAMPAIGN_PAUSED
from textbridge.compliance import consent
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import history, rows, schedule
from textbridge.dispatch.governor import Governor, unlimited
from textbridge.dispatch.policy import Limits, decide
from textbridge.messaging import status
from textbridge.messaging.content import outbound_of
from textbridge.models import Campaign, Message
from textbridge.polling import PollingLoop
from textbridge.providers.base import (
    OutboundMessage,
    Provider,
    SendError,
    SendOutcomeUnknown,
    SendResult,
    SendUnavailable,
)
from textbridge.realtime.bus import EventBus

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=120)
CLAIM_BATCH = 50
INTERRUPTED = "the dispatch was interrupted; it may or may not have been sent"
IDLE_POLL_SECONDS = 1.0
UNSETTLED = (status.ACCEPTED, status.SENDING)
"""A message in one of these still holds back the younger messages of its (from, to) pair
(unless it has no due time: paused)."""


DISPATCH_CONNECTIONS = 4
"""PostgreSQL: the dispatcher's own pool (`runtime.build_runtime`): its claim loop and its
recorder each use one connection at a time; the rest is room for one-off passes."""


HOUSEKEEPING_SECONDS = 1.0
"""How often the run loop's claims also recover expired leases and release due `scheduled`
and `held` rows (each is a query; a claim of one or two free slots should not pay for them)."""


SUBMITTED_HINT_SECONDS = 0.2
"""`on_submitted` (a wake-up of the journal applier, over NOTIFY to every process, for a status
that came before its send was recorded) is called at most this often: once per recorded
group made every process's applier run a pass per group (7 % of a dispatcher's CPU)."""


class Every:
    """True at most once per `seconds` (monotonic clock), and on the first call."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self._seconds
        return True


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message moved to `sending`, with what its send needs (no database access)."""

    id: uuid.UUID
    provider: str
    outbound: OutboundMessage | None
    """None when the stored message could not be turned into a request (recorded as a
    failure before the provider call)."""
    due: datetime
    """When this attempt became due (accepted, its send_at, the end of a hold, a retry's time)."""
    campaign: bool
    row: Message
    """The message as the claim wrote it (transient: no session)."""
    version: int | None
    """PostgreSQL: the claim's transaction id, the row's version until someone else writes
    it (`rows.write_unchanged`)."""


Outcome = SendResult | SendError


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        providers: Mapping[str, Provider],
        status_callback_url: Callable[[Message], str],
        concurrency: int = 8,
        on_submitted: Callable[[], None] = lambda: None,
        lease: timedelta = LEASE,
        limits: Limits | None = None,
        batch: int = CLAIM_BATCH,
        governor: Governor | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._providers = providers
        self._status_callback_url = status_callback_url
        self._capacity = concurrency
        self._held = 0
        """Send slots in use: messages claimed (or being claimed) whose outcome is not
        recorded yet."""
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self._sends: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._calling: set[uuid.UUID] = set()
        """Messages whose provider call has started (an interrupted one may have been sent)."""
        self._finished: list[tuple[Claimed, Outcome]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._batch = batch
        # A pass reports 1 when its claim was full: the loop then claims again at once.
        self._loop = PollingLoop("dispatcher", 1, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake
        self._on_submitted = on_submitted
        self._hint_at = 0.0
        self._hint_pending: asyncio.TimerHandle | None = None
        self._lease = lease
        self._call_deadline = lease.total_seconds() / 2
        self._limits = limits or Limits()
        self._governor = governor or unlimited()
        self._governor.wake_with(self.wake)
        self._housekeeping = Every(HOUSEKEEPING_SECONDS)

    @property
    def governor(self) -> Governor:
        return self._governor

    async def run(self) -> None:
        """Claim and send until `drain`: each pass waits for a free send slot, claims at most
        the free slots and starts their sends without waiting for them."""
        await self._loop.run(self._claim_pass)

    async def _claim_pass(self) -> int:
        found, limit = await self._start_due(housekeeping=self._housekeeping.due())
        return int(found >= limit and not self._stopping)

    async def dispatch_due(self) -> int:
        """One pass, waited for (tests, one-off callers): recover expired leases, claim what
        is due (at most the free send slots), send it and record the outcomes; returns how
        many messages the claim found (held ones included)."""
        found, _ = await self._start_due()
        await self._settled()
        return found

    async def _start_due(self, housekeeping: bool = True) -> tuple[int, int]:
        """Claim up to the free send slots (waiting for one when none is free) and start the
        sends. Returns how many rows the claim found and how many it could take."""
        limit = min(await self._free_slots(), self._batch)
        if self._stopping or limit == 0:
            return 0, limit
        self._held += limit  # reserved before the claim: a concurrent pass cannot take them
        claimed: list[Claimed] = []
        try:
            claimed, found = await self.claim_due(limit, housekeeping=housekeeping)
        finally:
            self._release(limit - len(claimed))
        for one in claimed:
            self._sends[one.id] = asyncio.create_task(self._send_and_note(one))
        return found, limit

    async def _free_slots(self) -> int:
        while self._held >= self._capacity and not self._stopping:
            self._slot_freed.clear()
            await self._slot_freed.wait()
        return self._capacity - self._held

    def _release(self, slots: int) -> None:
        self._held -= slots
        self._slot_freed.set()

    async def _settled(self) -> None:
        """Until every claimed message's outcome is recorded."""
        while self._held:
            self._slot_freed.clear()
            await self._slot_freed.wait()

    async def drain(self, grace: float) -> None:
        """A graceful stop: claim nothing more, let the sends in flight finish and be recorded
        (each is bounded by the call deadline), for at most `grace` seconds. Past it, what is
        still in flight is cancelled and recorded at once: `unknown` if its provider call had
        started, else a retry (it was not sent). Unclaimed messages stay `accepted`."""
        log.info("dispatcher stopping: finishing the sends in flight", count=self._held)
        self._stopping = True
        self._loop.stop()
        self._slot_freed.set()
        try:
            await self._finish_in_flight(grace)
        finally:
            if self._hint_pending is not None:  # a hint for a process that is stopping
                self._hint_pending.cancel()
                self._hint_pending = None

    async def _finish_in_flight(self, grace: float) -> None:
        try:
            async with asyncio.timeout(grace):
                await self._settled()
            return
        except TimeoutError:
            log.warning("sends still in flight after the shutdown grace", count=len(self._sends))
        for task in list(self._sends.values()):
            task.cancel()
        await asyncio.gather(*self._sends.values(), return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(grace, self._call_deadline) or 1.0):
                await self._settled()

    async def claim_due(
        self, limit: int | None = None, *, housekeeping: bool = True
    ) -> tuple[list[Claimed], int]:
        """The claim: one transaction that recovers expired leases, picks the next batch of
        due messages (the oldest unsettled one of each (from, to) pair, `FOR UPDATE SKIP
        LOCKED`) and moves it to `sending` with a lease. Hooks that decide which claimed
        messages may leave now belong here. Returns the claimed messages and how many rows
        the claim found (some of which may have been held back). `housekeeping` (lease
        recovery, the release of due `scheduled`/`held` rows) can be left to a later claim:
        the run loop does it once a second, not in each of its many small claims."""
        async with UnitOfWork(self._sessions, self._bus) as uow:
            if housekeeping:
                await _recover_expired(uow)
            batch = self._batch if limit is None else limit
            now = utcnow()
            on_postgresql = uow.session.get_bind().dialect.name == "postgresql"
            query = _due_pairs_locked_query(batch) if on_postgresql else due_query(batch)
            found = await rows.load(uow.session, query, {"now": now})
            if on_postgresql:
                found = await _still_due_once_locked(uow.session, found)
            # Accepted before an opt-out (a campaign, a scheduled message): never sent.
            sendable, opted_out = await consent.split_opted_out(uow.session, found)
            leaving, held = await schedule.quiet_holds(uow, sendable, now)
            if housekeeping:
                await schedule.release_due(uow, now)
            # The governor's one decision: who leaves now; the rest stay accepted, due later.
            if leaving:  # the senders' own rates, when stale (in this transaction)
                await self._governor.refresh(uow.session)
            admitted = await self._governor.admit(leaving)
            lease_until = utcnow() + self._lease
            for message in admitted:
                history.change(
                    message,
                    status.SENDING,
                    attempts=message.attempts + 1,
                    lease_expires_at=lease_until,
                )
            events = [(m, schedule.move_key(m)) for m in held]
            events += [(m, history.event_key(m)) for m in [*opted_out, *admitted]]
            version = await rows.write(uow, [*held, *leaving, *opted_out], events)
            claimed = [self._claimed(message, version) for message in admitted]
            await uow.commit()
            return claimed, len(found)

    def _claimed(self, message: Message, version: int | None) -> Claimed:
        try:
            outbound = outbound_of(message, self._status_callback_url(message))
        except Exception:  # a stored row we cannot read: recorded alone, the batch goes on
            log.exception("a claimed message cannot be sent", message_id=str(message.id))
            outbound = None
        due = message.next_attempt_at or message.created_at
        campaign = message.campaign_id is not None
        return Claimed(message.id, message.provider, outbound, due, campaign, message, version)

    async def _send_and_note(self, claimed: Claimed) -> None:
        try:
            outcome = await self._send(claimed)
        except asyncio.CancelledError:  # `drain` ran out of grace
            self._note(claimed, self._interrupted(claimed.id))
            raise
        if isinstance(outcome, SendResult):  # once per acceptance, whatever the recording does
            metrics.observe_dispatched(claimed.provider, claimed.campaign, claimed.due, utcnow())
        self._note(claimed, outcome)

    def _interrupted(self, message_id: uuid.UUID) -> Outcome:
        if message_id in self._calling:
            return SendOutcomeUnknown(f"{INTERRUPTED} (stopped during the provider call)")
        return SendUnavailable("stopped before the provider call")

    def _note(self, claimed: Claimed, outcome: Outcome) -> None:
        """Queue the outcome for recording; whatever completed while the previous group was
        being recorded is recorded together, in one transaction."""
        self._sends.pop(claimed.id, None)
        self._calling.discard(claimed.id)
        self._finished.append((claimed, outcome))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_finished())

    async def _record_finished(self) -> None:
        while self._finished:
            group, self._finished = self._finished, []
            try:
                await self._record_group(group)
            finally:
                self._release(len(group))

    async def _send(self, claimed: Claimed) -> Outcome:
        if claimed.outbound is None:
            return SendUnavailable("internal error before the provider call")
        return await self._call_provider(claimed.id, claimed.provider, claimed.outbound)

    async def _call_provider(
        self, message_id: uuid.UUID, name: str, outbound: OutboundMessage
    ) -> Outcome:
        provider = self._providers.get(name)
        if provider is None:
            return SendError(f"provider {name} is not configured")
        started = perf_counter()
        try:
            # Its rate slot, before the call's deadline starts; SlotMissed (not sent) is a retry.
            await self._governor.wait_for_slot(outbound.message_id)
            metrics.observe_governor_wait(name, started)
            self._calling.add(message_id)
            started = perf_counter()
            async with asyncio.timeout(self._call_deadline):
                sent = await provider.send(outbound)
            metrics.observe_provider_call(name, None, started)
            return sent
        except SendError as error:
            metrics.observe_provider_call(name, error, started)
            await self._governor.observe(outbound.message_id, error)  # a 429 slows its keys
            return error
        except TimeoutError as error:
            metrics.observe_provider_call(name, error, started)
            return SendOutcomeUnknown(f"no answer within {self._call_deadline:g} s")
        except Exception:  # a bug in an adapter must not lose track of the message
            log.exception("provider send crashed", message_id=outbound.message_id)
            return SendOutcomeUnknown("the provider adapter crashed during the call")

    async def _record_group(self, group: list[tuple[Claimed, Outcome]]) -> None:
        outcomes = [(claimed.id, outcome) for claimed, outcome in group]
        recorded: set[uuid.UUID] = set()
        try:
            recorded = await self._record_unchanged_acceptances(group)
            await self._record([one for one in outcomes if one[0] not in recorded])
        except Exception:
            log.warning("recording a group of sends failed; recording each alone")
            for one in outcomes:
                if one[0] in recorded:
                    continue
                try:
                    await self._record([one])
                except Exception:
                    log.exception("recording a send outcome failed", message_id=str(one[0]))
                    await self._record_after_crash(*one)
        if any(isinstance(outcome, SendResult) for _, outcome in outcomes):
            self._hint_submitted()

    async def _record_unchanged_acceptances(
        self, group: list[tuple[Claimed, Outcome]]
    ) -> set[uuid.UUID]:
        """PostgreSQL: the sends the provider accepted, recorded from the claim's copy of each
        row, each only if no one has written the row since the claim (the common case): one
        statement in autocommit, no read. Returns their ids; `_record` does the rest."""
        accepted = [
            (claimed.row, claimed.version, outcome)
            for claimed, outcome in group
            if isinstance(outcome, SendResult) and claimed.version is not None
        ]
        if not accepted:  # a version exists only where `rows.write` could return one
            return set()
        async with UnitOfWork(self._sessions, self._bus) as uow:
            if not await uow.autocommit():
                return set()
            for message, _, outcome in accepted:
                self._apply(message, outcome)
            changed = [(message, version) for message, version, _ in accepted]
            return await rows.write_unchanged(uow, changed)

    def _hint_submitted(self) -> None:
        """`on_submitted` now, or at the end of the current hint interval (never dropped)."""
        if self._hint_pending is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._hint_at - loop.time()
        if delay > 0:
            self._hint_pending = loop.call_later(delay, self._send_hint)
            return
        self._send_hint()

    def _send_hint(self) -> None:
        self._hint_pending = None
        self._hint_at = asyncio.get_running_loop().time() + SUBMITTED_HINT_SECONDS
        self._on_submitted()

    async def _record(self, outcomes: list[tuple[uuid.UUID, Outcome]]) -> None:
        if not outcomes:
            return
        by_id = dict(outcomes)
        async with UnitOfWork(self._sessions, self._bus) as uow:
            # Locked: a status callback may be applying to one of them at the same moment.
            messages = await rows.load(uow.session, _RECORD_QUERY, {"ids": list(by_id)})
            changed = []
            for message in messages:
                outcome = by_id[message.id]
                if message.status != status.SENDING and not _lease_expired(message):
                    _settled_by_callback(message, outcome)
                    continue
                self._apply(message, outcome)
                changed.append(message)
            await _keep_stopped_campaigns_stopped(uow.session, changed)
            await consent.note_provider_opt_outs(uow.session, changed)  # e.g. Plivo 200
            await rows.write(uow, messages, [(m, history.event_key(m)) for m in changed])
            await uow.commit()

    def _apply(self, message: Message, outcome: Outcome) -> None:
        decision = decide(
            outcome,
            message.provider,
            message.attempts,
            message.rate_limited,
            utcnow(),
            self._limits,
        )
        changes: dict[str, object] = {"lease_expires_at": None}
        if isinstance(outcome, SendResult):
            changes["provider_message_id"] = outcome.provider_message_id
        else:
            changes["error_code"] = decision.error_code
            changes["error_message"] = decision.error_message
        if decision.next_attempt_at is not None:
            changes["next_attempt_at"] = decision.next_attempt_at
            log.info("send will be retried", message_id=str(message.id))
        if decision.rate_limited:
            changes["rate_limited"] = message.rate_limited + 1
        history.change(message, decision.status, **changes)

    async def _record_after_crash(self, message_id: uuid.UUID, outcome: Outcome) -> None:
        """Recording `outcome` raised: record the safest reading of it instead. Should this
        fail too (the database is down), the lease expires and the message becomes `unknown`."""
        try:
            async with UnitOfWork(self._sessions, self._bus) as uow:
                message = await uow.session.get(Message, message_id, with_for_update=True)
                if message is not None and message.status == status.SENDING:
                    self._apply(message, _safest_reading(outcome))
                    await history.record(uow, [message])
                await uow.commit()
        except Exception:
            log.exception(
                "recording a send failed twice; its lease will expire", message_id=str(message_id)
            )


async def _keep_stopped_campaigns_stopped(session: AsyncSession, changed: list[Message]) -> None:
    """A campaign paused or cancelled while its message was being sent: a retry of that
    message does not go back to the queue. Paused, it waits with no due time (as `pause`
    leaves the others); cancelled, it ends `cancelled`. The campaign rows are read FOR SHARE,
    so a pause or cancel committing meanwhile waits for this record, and then finds the retry
    among the waiting messages it stops."""
    retried = [m for m in changed if m.status == status.ACCEPTED and m.campaign_id is not None]
    if not retried:
        return
    locked = await session.execute(
        select(Campaign.id, Campaign.state)
        .where(Campaign.id.in_({m.campaign_id for m in retried}))
        .with_for_update(read=True)  # every one, running ones included
    )
    states: dict[uuid.UUID | None, str] = {row.id: row.state for row in locked}
    for message in retried:
        state = states.get(message.campaign_id)
        if state == CAMPAIGN_PAUSED:
            message.next_attempt_at = None
        elif state == CAMPAIGN_CANCELLED:
            history.change(message, status.CANCELLED, next_attempt_at=None)


def _held_back(m: Any) -> Select[Any]:
    """The older messages that hold back message `m` (columns `from_address`, `to_address`,
    `priority`, `created_at`, `id`) by the order guarantee."""
    older = rows.MESSAGES.alias("older").c
    return select(older.id).where(
        older.from_address == m.from_address,
        older.to_address == m.to_address,
        # Written into the SQL as literals: only then can SQLite (and a generic PostgreSQL plan)
        # match the partial index `ix_messages_unsettled_pair`, whose condition is this list.
        older.status.in_(bindparam("unsettled", UNSETTLED, expanding=True, literal_execute=True)),
        # A reply is not held back by campaign traffic.
        older.priority <= m.priority,
        # Paused (a campaign's `hold`: no due time): it gave up its place, so it holds nothing
        # back; resumed, it is due again and in its place by acceptance among those waiting.
        older.next_attempt_at.is_not(None),
        or_(
            older.created_at < m.created_at,
            and_(older.created_at == m.created_at, older.id < m.id),
            # A younger one in flight: it passed this message while this one was not due
            # (paused, scheduled, held), and this one leaves after it, not beside it.
            older.status == status.SENDING,
        ),
    )


@functools.lru_cache(maxsize=128)
def due_query(batch: int) -> Select[Any]:
    """Built once per batch size (claims are frequent and small): `now` is bound at execution.
    Core rows (`rows.load`), not ORM objects."""
    m = rows.MESSAGES.c
    return (
        rows.messages_query()
        .where(m.status == status.ACCEPTED, m.next_attempt_at <= bindparam("now", None))
        .where(~_held_back(m).exists())
        .order_by(m.priority, m.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=rows.MESSAGES)
    )


_RECORD_QUERY = (
    rows.messages_query()
    .where(rows.MESSAGES.c.id.in_(bindparam("ids", expanding=True)))
    # In id order, so that two transactions locking overlapping rows cannot deadlock.
    .order_by(rows.MESSAGES.c.id)
    .with_for_update(of=rows.MESSAGES)
)


@functools.lru_cache(maxsize=128)
def _due_pairs_locked_query(batch: int) -> Select[Any]:
    """PostgreSQL: `due_query`, keeping the messages whose (from, to) pair this transaction
    could lock (a transaction-level advisory lock; try, never wait: a pair another claim holds
    is left for a later claim, and no claim blocks another). In the same statement as the
    pick, to save a round trip: the lock is tried on the rows the inner query returns only (a
    subquery with LIMIT and FOR UPDATE is planned on its own, and a volatile condition is never
    pushed into it)."""
    found = due_query(batch).subquery("found")
    pair = func.concat(found.c.from_address, "\x1f", found.c.to_address)
    return (
        select(found)
        .where(func.pg_try_advisory_xact_lock(func.hashtextextended(pair, 7)))
        .order_by(found.c.priority, found.c.next_attempt_at)
    )


_ORDER_KEYS = ("id", "from_address", "to_address", "priority", "created_at")


def _recheck_query() -> Select[Any]:
    """PostgreSQL: which of the found messages nothing holds back. Only the pair's other
    messages are looked at: the found ones are locked by this claim, so they are still as
    the due query saw them. The found messages' order keys come as one array parameter each
    (one statement text for any number of them), and each candidate's check is a subquery of
    its own (a few index entries of `ix_messages_unsettled_pair`); as an anti join, a plan with
    stale statistics (a campaign just enqueued) hashed every unsettled message on each claim."""
    arrays = [cast(bindparam(name), ARRAY(rows.MESSAGES.c[name].type)) for name in _ORDER_KEYS]
    candidate = func.unnest(*arrays).table_valued(*_ORDER_KEYS).render_derived(name="candidate")
    first_holder = _held_back(candidate.c).limit(1).scalar_subquery()
    return select(candidate.c.id).where(first_holder.is_(None))


_RECHECK_QUERY = _recheck_query()


async def _still_due_once_locked(session: AsyncSession, found: list[Message]) -> list[Message]:
    """PostgreSQL: the found messages (each with its pair locked by this claim) that are still
    due by a check that sees every claim committed before the pair was locked.

    `due_query` holds a message back by what its snapshot shows. A message due again after a
    pause, a schedule or a hold leaves after a younger one of its pair in flight; but a claim
    that has moved that younger one to `sending` and not yet committed shows it as `accepted`,
    so two claims in two processes could send both at once. Each claim therefore locks its
    messages' pairs (`_due_pairs_locked_query`), leaves those another claim holds, and runs
    the check again, in a new snapshot (a new statement), for the rest. Every claimed pair,
    even one with a single message in the claim's snapshot: a message of the pair released
    from `scheduled`, `held` or `unknown` meanwhile, or one whose `created_at` is earlier than
    its commit, is invisible to that snapshot and can be claimed beside it (the review
    reproduced both when only pairs seen crowded were locked). SQLite has one writer at a
    time: nothing to do there. The lock's key is the previous release's (it took the lock in a
    statement of its own, on the same key), so old and new workers exclude each other during a
    rolling upgrade (DESIGN-NOTES)."""
    if not found:
        return found
    params = {name: [getattr(m, name) for m in found] for name in _ORDER_KEYS}
    still_due = set(await session.scalars(_RECHECK_QUERY, params))
    return [m for m in found if m.id in still_due]


async def _recover_expired(uow: UnitOfWork) -> None:
    """Leases that expired (their process died mid-send) become `unknown`. Cheap when there
    are none: one indexed query (`status` leads an index, and few rows are `sending`)."""
    expired = list(
        await uow.session.scalars(
            select(Message)
            .where(Message.status == status.SENDING, Message.lease_expires_at < utcnow())
            .with_for_update(skip_locked=True)
        )
    )
    for message in expired:
        log.warning("dispatch outcome unknown: its lease expired", message_id=str(message.id))
        history.change(message, status.UNKNOWN, lease_expires_at=None, error_message=INTERRUPTED)
    await history.record(uow, expired)


def _lease_expired(message: Message) -> bool:
    """Made `unknown` by lease recovery while this process was still sending it (a slow
    provider, a starved process): the outcome we now hold is better than the guess."""
    return message.status == status.UNKNOWN and message.error_message == INTERRUPTED


def _safest_reading(outcome: Outcome) -> SendError:
    """What to record when recording `outcome` itself failed: `unknown` where the provider may
    have the message (the provider's id goes into the text, not its column: storing it may be
    what failed, e.g. a duplicate; a status callback still finds the message by our
    reference), else a retry."""
    if isinstance(outcome, SendResult):
        taken = outcome.provider_message_id[:64]
        return SendOutcomeUnknown(f"the provider took it as {taken}, but recording that failed")
    if isinstance(outcome, SendOutcomeUnknown):
        return SendOutcomeUnknown(f"{INTERRUPTED} ({outcome})"[:500])
    return SendUnavailable(f"{outcome} (recording this failed)"[:500])


def _settled_by_callback(message: Message, outcome: Outcome) -> None:
    """A status callback named this message (by our reference) before we recorded the send:
    it is past `sending` already. Keep its status; only the provider's id and lease remain."""
    message.lease_expires_at = None
    if isinstance(outcome, SendResult) and message.provider_message_id is None:
        message.provider_message_id = outcome.provider_message_id
