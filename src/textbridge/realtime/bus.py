"""The in-process event bus behind the live inbox and `/api/v1/events`.

Publishers call `publish` only after the transaction that caused an event has committed (see
`db.uow.UnitOfWork`). A `durable` bus (PostgreSQL) is fed differently: units of work write
their events to the `live_events` table and `realtime.relay.EventRelay` `deliver`s them with
the table's ids, so that every process sees the events of every other.

Each subscriber has a bounded queue: a subscriber too slow to keep up is
dropped (its stream ends and the client reconnects and refetches) rather than slowing writers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

SUBSCRIBER_QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]
    id: int = 0


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
    )

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self.queue.get()) is not None:
            yield event


class EventBus:
    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self._subscriptions: set[Subscription] = set()
        self._ids = count(1)
        # Held from a commit to the publishing of its events, so that events leave in commit
        # order: after the database commit, releasing the connection awaits again (the pool's
        # reset), and a later commit could otherwise publish first, leaving a subscriber with
        # an older state as the last word.
        self.commit_order = asyncio.Lock()

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """An event of this process, for its own subscribers. Numbered here, except on a
        `durable` bus: ids there are the `live_events` table's, and an event that is not in
        the table gets none (0), so that the ids a stream shows only ever grow."""
        self.deliver(Event(event_type, data, 0 if self.durable else next(self._ids)))

    def deliver(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(subscription)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(None)
