"""Wake-ups of the worker roles, in this process and, over NOTIFY, in every other.

A worker's `wake` is replaced by one that also NOTIFYs its channel (once the process listens,
on PostgreSQL): a message accepted by a `serve` wakes the dispatcher of a `worker`. The NOTIFY
goes after the change committed, so the woken process finds it; it is only a hint, and each
role still polls. The original, local wake is kept per channel, for the notifications this
process receives (calling the broadcasting one there would echo for ever).
"""

from __future__ import annotations

from collections.abc import Callable

from textbridge.realtime.listener import PgListener


class Wakeups:
    def __init__(self) -> None:
        self.local: dict[str, Callable[[], None]] = {}
        self.listener: PgListener | None = None

    def broadcasting(self, channel: str, local_wake: Callable[[], None]) -> Callable[[], None]:
        self.local[channel] = local_wake

        def wake() -> None:
            local_wake()
            if self.listener is not None:
                self.listener.notify(channel)

        return wake
