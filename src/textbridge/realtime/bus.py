"""The in-process event bus behind the live inbox and `/api/v1/events`.

Publishers call `publish` only after the transaction that caused an event has committed (see
`db.uow.UnitOfWork`). A `durable` bus (PostgreSQL) is fed differently: units of work write
their events to the `live_events` table and `realtime.relay.EventRelay` `deliver`s them with
the table's ids, so that every process sees the events of every other.

Each subscriber has a bounded queue: a subscriber too slow to keep up is
dropped (its stream ends and the client reconnects and catches up) rather than slowing writers.
The queue takes the events of one commit as one item (a `Batch`): a stream writes them to its
socket in one send, encoded once for every stream of the process.

Catching up (`realtime.catchup`) needs two things from the bus: `last_id`, the id of the last
event delivered, read at the instant a subscription starts (so that the backlog a stream replays
and the live events its queue receives meet with no gap and no overlap); and, on SQLite, where
no table keeps the events, a bounded ring of the most recent ones (`recent`). The ids of a
non-durable bus start at the process's start time in microseconds: they grow across restarts,
so an id from before a restart is older than the ring and is answered with a reset, never
confused with a new event of the same number. The ring holds people's texts: an erasure in
this process empties it (`forget_recent`), and catch-up answers `reset` when an erasure by
another process (the CLI) came after the first event it would replay.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

SUBSCRIBER_QUEUE_SIZE = 1000
RECENT_EVENTS = 10_000  # what a non-durable bus keeps for streams that reconnect


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]
    id: int = 0
    # What a subscriber derives from the event once for all (its SSE encoding): one event
    # goes to every stream of the process.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # When this process saw it: catch-up on SQLite compares it with erasures' times.
    seen_at: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Batch:
    """Events delivered together (one commit's, or a run the relay publishes at once)."""

    events: tuple[Event, ...]
    # What a subscriber derives from the batch once for all (its SSE encoding).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(eq=False)
class Subscription:
    start: int = 0  # the bus's `last_id` when it began: its queue holds only later events
    queue: asyncio.Queue[Batch | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
    )

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (batch := await self.queue.get()) is not None:
            for event in batch.events:
                yield event


class EventBus:
    def __init__(self, durable: bool = False, recent: int = RECENT_EVENTS) -> None:
        self.durable = durable
        self._subscriptions: set[Subscription] = set()
        first_id = time.time_ns() // 1000
        self._ids = count(first_id)
        self.last_id = first_id - 1
        self.recent: deque[Event] = deque(maxlen=0 if durable else recent)
        # A durable bus knows where it stands once its relay has read the table.
        self._started = asyncio.Event()
        if not durable:
            self._started.set()
        # Held from a commit to the publishing of its events, so that events leave in commit
        # order: after the database commit, releasing the connection awaits again (the pool's
        # reset), and a later commit could otherwise publish first, leaving a subscriber with
        # an older state as the last word.
        self.commit_order = asyncio.Lock()
        # A durable bus: given the events this process has just committed, so that its relay
        # publishes them at once instead of waiting for their NOTIFY to come back.
        self.on_commit: Callable[[list[Event]], None] = lambda _events: None

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """An event of this process, for its own subscribers. Numbered here, except on a
        `durable` bus: ids there are the `live_events` table's, and an event that is not in
        the table gets none (0), so that the ids a stream shows only ever grow."""
        self.publish_all([(event_type, data)])

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`publish` for the events of one commit, delivered together."""
        self.deliver_all(
            [Event(kind, data, 0 if self.durable else next(self._ids)) for kind, data in events]
        )

    def start_at(self, last_id: int) -> None:
        """A durable bus: the relay publishes the events after `last_id`."""
        self.last_id = last_id
        self._started.set()

    async def started(self) -> None:
        await self._started.wait()

    def deliver(self, event: Event) -> None:
        self.deliver_all([event])

    def deliver_all(self, events: Sequence[Event]) -> None:
        """Events in id order, to every subscriber as one item."""
        if not events:
            return
        for event in events:
            if event.id:
                self.last_id = event.id
                if not self.durable:
                    self.recent.append(event)
        batch = Batch(tuple(events))
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(batch)
            except asyncio.QueueFull:
                self._drop(subscription)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        await self._started.wait()
        # No await from here to the end of `add`: the events delivered meanwhile are exactly
        # those after `start`.
        subscription = Subscription(self.last_id)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def forget_recent(self) -> None:
        """After an erasure: the ring may hold the person's texts. A stream that reconnects
        from before now finds its events gone and is answered with a reset."""
        self.recent.clear()

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(None)
