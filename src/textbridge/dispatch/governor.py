"""The rate governor: how fast each sender, provider account and WhatsApp recipient pair may be
sent to, held across every dispatcher process at once.

The dispatcher asks it, once per claimed batch, which messages may leave (`admit`): each gets
a slot from the GCRA arithmetic in `gcra.py` over the limits it counts against. A message whose
slot is at most `max_wait` away is admitted and waits for it in the process (`wait_for_slot`,
before the provider call); one further away stays `accepted` with `next_attempt_at` a little
before its estimated slot, so it uses no attempt and holds no lease while it waits. A wait is
bounded far below the lease (`max_wait` is at most a quarter of it), and the
provider call's own deadline (half the lease) starts after it, so a wait never eats the lease.

Priority (`messages.priority`): the claim takes lower values first; a deferred campaign message
queues behind the others of its key (the "backlog"), while a deferred individual send (API,
inbox) only waits for the next free slot (those deferred in one decision one spacing after
the other), so it passes any campaign traffic queued on its sender.

Per-sender rates, most specific first: the sender row's own `senders.messages_per_second` (set
through `PATCH /api/v1/senders/{id}`), then `TEXTBRIDGE_RATE_SENDERS` by address, then the
default of the sender's kind. The rows are read in the claim's transaction (`refresh`), at most
every `sender_refresh_seconds`, and at the next claim after a change anywhere (`rates_changed`:
the PATCH calls it here and, over NOTIFY, in every other process).

Adaptive: a 429 halves the rate of the message's sender and account keys (once per second at
most) and holds them for `Retry-After`; the rate recovers linearly (`recovery_seconds` from
half to full). The state lives in `governor_limits` on PostgreSQL (one row per key, see
`governor_store.py`) and in memory on SQLite.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

import phonenumbers
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.config import Settings
from textbridge.db.base import utcnow
from textbridge.dispatch import priority
from textbridge.dispatch.gcra import (
    Cell,
    Decision,
    KeyState,
    Request,
    current_factor,
    decide,
    slow_down,
)
from textbridge.dispatch.governor_store import MemoryStore, PostgresStore, Store
from textbridge.dispatch.rates import (
    DEFAULT_ACCOUNT_RATES,
    DEFAULT_PAIR_SECONDS,
    DEFAULT_RATES,
    SenderKind,
)
from textbridge.messaging.address import ALPHANUMERIC, SHORT_CODE, InvalidAddress, of_sender
from textbridge.models import Message, Sender
from textbridge.providers.base import SendError, SendRateLimited, SendUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Limits:
    """Every number the governor works with (built from settings; see README)."""

    enabled: bool = True
    per_kind: Mapping[SenderKind, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    per_sender: Mapping[str, float] = field(default_factory=dict)
    """Overrides by sender address (`+14155550100`, `ACME`): messages per second. A sender
    row's own `messages_per_second` wins over these."""
    per_account: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ACCOUNT_RATES))
    pair_seconds: float = DEFAULT_PAIR_SECONDS
    margin: float = 0.04
    """Every limit is run this much below its figure: the limit is a ceiling in any window as
    the provider sees it, and network and scheduling jitter move arrivals closer together."""
    max_wait: float = 2.0
    wait_budget: float = 30.0
    """The longest a claimed message may wait for a slot, retakes included (a quarter of the
    lease: the provider call gets half of it after the wait)."""
    recovery_seconds: float = 30.0
    sender_refresh_seconds: float = 5.0
    """How stale the sender rows' own rates may be when no change notice came (a lost
    NOTIFY, a listener reconnecting)."""

    @property
    def late_tolerance(self) -> float:
        """How late a message may leave its slot: half the margin of a 1-second window (20 ms
        at 4 %); the other half is for the network and the provider's own clock. Counted from
        the slot, whatever made it late (the store's own write and commit included: the next
        slots are one spacing after it, and go out on time)."""
        return self.margin / 2

    @property
    def slot_lead(self) -> float:
        """No slot is earlier than this after the store decided it: the decision is still
        written and committed, and the claim committed, before the message can leave; a slot
        that has passed by then is late. As much as the lateness allowed (a little latency on a
        key's first message after a pause, nothing else), and less than `max_wait`, or no
        slot would ever be within it."""
        return min(self.late_tolerance, self.max_wait / 2)

    @property
    def recovery_per_second(self) -> float:
        return 0.5 / self.recovery_seconds

    def interval(self, per_second: float) -> float:
        """Seconds between two units at `per_second`, less the margin."""
        return 1.0 / (per_second * (1.0 - self.margin))


@functools.lru_cache(maxsize=4096)  # a deployment has few senders; each batch asks again
def sender_kind(channel: str, address: str) -> SenderKind:
    """What kind of sender `address` is, which decides its default rate."""
    if channel == "whatsapp":
        return "whatsapp"
    try:
        parsed = of_sender(address, channel)
    except InvalidAddress:
        return "long_code"
    if parsed.kind == SHORT_CODE:
        return "short_code"
    if parsed.kind == ALPHANUMERIC:
        return "alphanumeric"
    return "toll_free" if _toll_free(parsed.value) else "long_code"


def _toll_free(e164: str) -> bool:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE


class SlotMissed(SendUnavailable):
    """A claimed message found no rate slot it could keep within its wait budget (a process
    starved of CPU that long), or the store failed while it looked for one: it was not sent,
    and is retried like a provider that answered 429: without using up an attempt."""

    held_back = True


SENDER, ACCOUNT, PAIR = "sender", "account", "pair"  # the kinds of limit key
SENT_REMEMBERED = 10_000
"""Sent messages whose limits are kept for a 429 (more than can be in flight at once)."""


@dataclass(frozen=True, slots=True)
class Slot:
    """A reserved slot, on `time.monotonic()`."""

    at: float
    latency: float
    """From the store's decision until this process held the slot (its write and commit): a
    retake asks for at least twice this much lead, so that its slot has not passed already."""
    cells: tuple[Cell, ...]


SenderKey = tuple[str, str, str]
"""(provider, the sender's channel: `sms` or `whatsapp`, address), as in `senders`."""
NO_STORED_RATES: Mapping[SenderKey, float] = MappingProxyType({})


def sender_key(message: Message) -> SenderKey:
    line = "whatsapp" if message.channel == "whatsapp" else "sms"  # SMS and MMS share a number
    return (message.provider, line, message.from_address)


def sender_rate(
    message: Message, limits: Limits, stored: Mapping[SenderKey, float] = NO_STORED_RATES
) -> float:
    """Messages (SMS: segments) per second for the message's sender: its row's own rate,
    else `TEXTBRIDGE_RATE_SENDERS`, else its kind's default."""
    return (
        stored.get(sender_key(message))
        or limits.per_sender.get(message.from_address)
        or limits.per_kind[sender_kind(message.channel, message.from_address)]
    )


def cells_for(
    message: Message, limits: Limits, stored: Mapping[SenderKey, float] = NO_STORED_RATES
) -> tuple[Cell, ...]:
    """The limits `message` counts against: its sender (SMS by segment), its provider
    account (one request), and on WhatsApp its recipient pair. Two senders on one provider
    share its account cell (one account per provider)."""
    _, line, _ = sender_key(message)
    cost = float(max(1, message.segments or 1)) if message.channel == "sms" else 1.0
    cells = [
        Cell(
            f"{SENDER}:{message.provider}:{line}:{message.from_address}",
            limits.interval(sender_rate(message, limits, stored)),
            cost,
        )
    ]
    account_rate = limits.per_account.get(message.provider)
    if account_rate:
        cells.append(Cell(f"{ACCOUNT}:{message.provider}", limits.interval(account_rate)))
    if message.channel == "whatsapp" and limits.pair_seconds > 0:
        pair = f"{PAIR}:{message.provider}:{message.from_address}:{message.to_address}"
        cells.append(Cell(pair, limits.interval(1.0 / limits.pair_seconds)))
    return tuple(cells)


_OWN_RATES = select(
    Sender.provider, Sender.channel, Sender.address, Sender.messages_per_second
).where(Sender.messages_per_second.is_not(None))


class SenderRates:
    """The sender rows' own rates (`senders.messages_per_second`), as this process last read
    them: again once `refresh_seconds` old, or at once after `changed`."""

    def __init__(self, refresh_seconds: float) -> None:
        self.rates: Mapping[SenderKey, float] = NO_STORED_RATES
        self._refresh_seconds = refresh_seconds
        self._loaded_at = -math.inf
        self._changes = self._seen = 0
        """Change notices received, and how many the last read came after."""

    def changed(self) -> None:
        self._changes += 1

    async def refresh(self, session: AsyncSession) -> None:
        """Read the rows if stale, in the caller's transaction (a claim's: on SQLite every
        transaction holds the write lock, so a second one here would wait for ever)."""
        now, changes = time.monotonic(), self._changes
        if now - self._loaded_at < self._refresh_seconds and changes == self._seen:
            return
        rows = await session.execute(_OWN_RATES)
        self.rates = MappingProxyType(
            {(row.provider, row.channel, row.address): row.messages_per_second for row in rows}
        )
        # A change noticed during the read may have committed after it: read again next time.
        self._loaded_at, self._seen = now, changes


class Governor:
    """Decides when each claimed message may leave; see the module docstring."""

    def __init__(self, limits: Limits, store: Store) -> None:
        self.limits = limits
        self._store = store
        self.sender_rates = SenderRates(limits.sender_refresh_seconds)
        # Admitted, not yet sent: message id -> its slot.
        self._slots: dict[str, Slot] = {}
        # Recently sent: message id -> its limits, for a 429 (as many as can be in flight).
        self._sent: OrderedDict[str, tuple[Cell, ...]] = OrderedDict()
        self._wake: Callable[[], None] = lambda: None
        self._wake_at: asyncio.TimerHandle | None = None

    def rates_changed(self) -> None:
        """A sender's own rate changed (here or in another process): the next claim reads them."""
        self.sender_rates.changed()

    async def refresh(self, session: AsyncSession) -> None:
        """Before `admit`, in the claim's transaction: the sender rows' rates, when stale."""
        if self.limits.enabled:
            await self.sender_rates.refresh(session)

    def wake_with(self, wake: Callable[[], None]) -> None:
        """Call `wake` when the first message this process deferred comes due: its claim must
        not wait for the next idle poll, or the sender's slots go unused meanwhile."""
        self._wake = wake

    async def admit(self, messages: Sequence[Message]) -> list[Message]:
        """The messages that may leave within `max_wait`, in order; the others get
        `next_attempt_at` near their slot and stay as they are (the caller does not claim
        them). One atomic step on the store for the whole batch."""
        if not self.limits.enabled or not messages:
            return list(messages)
        requests = [self._request(message) for message in messages]
        decided_at, decisions = await self._decide(requests, self.limits.slot_lead)
        return self._apply(messages, requests, decisions, decided_at)

    async def _decide(
        self, requests: Sequence[Request], lead: float
    ) -> tuple[float, list[Decision]]:
        """The store's decisions for `requests` (one atomic step), and when it made them, on
        `time.monotonic()` (their waits count from that moment)."""
        keys = [cell.key for request in requests for cell in request.cells]
        recovery = self.limits.recovery_per_second
        now, decisions = await self._store.update(
            keys, lambda now, states: (now, decide(states, requests, now, recovery, lead))
        )
        return self._store.local_time(now), decisions

    def _request(self, message: Message) -> Request:
        campaign = message.priority >= priority.CAMPAIGN
        cells = cells_for(message, self.limits, self.sender_rates.rates)
        return Request(cells, self.limits.max_wait, campaign)

    def _apply(
        self,
        messages: Sequence[Message],
        requests: list[Request],
        decisions: list[Decision],
        decided_at: float,
    ) -> list[Message]:
        """`decided_at`: when the store decided, on `time.monotonic()` (the waits count from it)."""
        held_at = time.monotonic()
        self._forget_stale(held_at)
        admitted, first_due = [], None
        for message, request, decision in zip(messages, requests, decisions, strict=True):
            if decision.admitted:
                slot = Slot(decided_at + decision.wait, held_at - decided_at, request.cells)
                self._slots[str(message.id)] = slot
                admitted.append(message)
                continue
            # Back well before the slot (3/4 of the bound), so that some process's claim, even
            # one that only polls (once a second), reserves it before it passes.
            due = max(decision.wait - self.limits.max_wait * 3 / 4, 0.0)
            message.next_attempt_at = utcnow() + timedelta(seconds=due)
            first_due = due if first_due is None else min(first_due, due)
        if first_due is not None:
            self._wake_in(first_due)
        return admitted

    def _wake_in(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        pending = self._wake_at
        if (
            pending
            and not pending.cancelled()
            and loop.time() < pending.when() <= loop.time() + seconds
        ):
            return  # an earlier wake-up is already due
        if pending:
            pending.cancel()
        self._wake_at = loop.call_later(seconds, self._wake)

    def _forget_stale(self, clock: float) -> None:
        """Slots whose message was never sent (its claim did not commit)."""
        stale = [key for key, slot in self._slots.items() if slot.at < clock - 600]
        for key in stale:
            del self._slots[key]

    def slot_wait(self, message_id: uuid.UUID | str) -> float:
        """Seconds until the slot `admit` reserved for this message (0 if it has none)."""
        entry = self._slots.get(str(message_id))
        return 0.0 if entry is None else max(0.0, entry.at - time.monotonic())

    async def wait_for_slot(self, message_id: uuid.UUID | str) -> None:
        """Sleep until the slot `admit` reserved for the message (at once if it has none), just
        before the provider call. Woken later than `late_tolerance` (a stalled process, a
        busy event loop, a slot that passed during the store's own commit), it takes a fresh
        slot instead of going out late: late messages would leave closer together than the
        limit allows. The fresh one is at least twice the store's last latency away, so that
        it has not passed again by the time it is held. Bounded by `wait_budget` (it holds
        a lease): past it, `SlotMissed` (the message was not sent; record it as a retry). Raises
        nothing else."""
        slot = self._slots.pop(str(message_id), None)
        if slot is None:
            return
        self._remember_sent(str(message_id), slot.cells)
        deadline = time.monotonic() + self.limits.wait_budget
        while True:
            await _sleep_until(slot.at)
            if time.monotonic() - slot.at <= self.limits.late_tolerance:
                return
            lead = max(self.limits.slot_lead, 2 * slot.latency)
            try:
                slot = await self._reserve_now(slot.cells, lead)
            except Exception as error:
                raise SlotMissed("the rate governor's state could not be read") from error
            if slot.at > deadline:  # going out late would break the limit: not at all, then
                raise SlotMissed(f"no rate slot within {self.limits.wait_budget:g} s")

    def _remember_sent(self, message_id: str, cells: tuple[Cell, ...]) -> None:
        self._sent[message_id] = cells
        while len(self._sent) > SENT_REMEMBERED:
            self._sent.popitem(last=False)

    async def _reserve_now(self, cells: tuple[Cell, ...], lead: float) -> Slot:
        """The next free slot at least `lead` away, reserved."""
        request = Request(cells, math.inf, behind_backlog=False)
        decided_at, decisions = await self._decide([request], lead)
        return Slot(decided_at + decisions[0].wait, time.monotonic() - decided_at, cells)

    async def observe(self, message_id: uuid.UUID | str, error: SendError) -> None:
        """A send failed: on a 429, slow the message's sender and account keys down. Never
        raises (the outcome must still be recorded)."""
        cells = self._sent.get(str(message_id))
        if not self.limits.enabled or not isinstance(error, SendRateLimited) or not cells:
            return
        keys = [cell.key for cell in cells if not cell.key.startswith(PAIR)]
        try:
            await self._store.update(keys, lambda now, states: self._slow(now, states, error))
        except Exception:
            log.exception("recording a 429 in the governor failed", message_id=str(message_id))

    async def rate_shares(self, message: Message) -> dict[str, float]:
        """The share of its full rate each of the message's sender and account limits runs at
        now: 1.0, or less while a 429's cut has not recovered yet (an operator's view; tests)."""
        keys = [cell.key for cell in self._request(message).cells if not cell.key.startswith(PAIR)]
        recovery = self.limits.recovery_per_second
        return await self._store.update(
            keys,
            lambda now, states: {
                key: current_factor(state, now, recovery) for key, state in states.items()
            },
        )

    def _slow(self, now: float, states: Mapping[str, KeyState], error: SendRateLimited) -> None:
        for state in states.values():
            slow_down(state, now, error.retry_after, self.limits.recovery_per_second)
        log.info("provider answered 429: slowing down", keys=sorted(states))


async def _sleep_until(moment: float) -> None:
    """Until `moment` on `time.monotonic()`, checked after every sleep: under uvloop (`serve`)
    a timer counts whole milliseconds from a clock cached once per loop iteration, so a sleep
    can end a millisecond or so early."""
    remaining = moment - time.monotonic()
    while remaining > 0:
        await asyncio.sleep(remaining)
        remaining = moment - time.monotonic()


def limits_from(settings: Settings) -> Limits:
    return Limits(
        enabled=settings.governor_enabled,
        per_kind={
            "long_code": settings.rate_long_code,
            "toll_free": settings.rate_toll_free,
            "short_code": settings.rate_short_code,
            "alphanumeric": settings.rate_alphanumeric,
            "whatsapp": settings.rate_whatsapp,
        },
        per_sender=dict(settings.rate_senders),
        per_account={"plivo": settings.rate_plivo_account, "vonage": settings.rate_vonage_account},
        pair_seconds=settings.whatsapp_pair_seconds,
        margin=settings.governor_margin,
        max_wait=settings.governor_wait_seconds,
        wait_budget=settings.dispatch_lease_seconds / 4,
        recovery_seconds=settings.governor_recovery_seconds,
    )


def build_governor(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Governor:
    """Shared state in PostgreSQL; in-process on SQLite (one process does everything there)."""
    limits = limits_from(settings)
    store: Store = (
        MemoryStore(limits.recovery_per_second) if settings.is_sqlite else PostgresStore(sessions)
    )
    return Governor(limits, store)


def unlimited() -> Governor:
    """Admits everything at once (a dispatcher built without a governor)."""
    return Governor(Limits(enabled=False), MemoryStore(1.0))
