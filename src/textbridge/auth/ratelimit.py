"""The API's rate limit per caller (an API key, or a signed-in user), in this process.

GCRA with a burst: each caller has a theoretical arrival time (`tat`); a request is let in
when `tat` is at most `burst` intervals ahead of now, and moves it one interval on. Refused,
it learns how long until it would be let in (`Retry-After`). In-process on purpose: a limit
per process is N times the setting behind N `serve` processes, which is the documented
price of keeping a database write off every request. The monotonic clock, no background
work: idle callers are forgotten when the table grows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

FORGET_ABOVE = 10_000


class ApiRateLimit:
    def __init__(
        self,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self._interval = 1 / per_second if per_second > 0 else 0.0
        self._tolerance = self._interval * max(burst - 1, 0)
        self._clock = clock
        self._tat: dict[str, float] = {}

    def retry_after(self, caller: str) -> int | None:
        """Count one request of `caller`: None when it may go, else seconds to wait (≥ 1)."""
        if self.per_second <= 0:
            return None
        now = self._clock()
        tat = max(self._tat.get(caller, now), now)
        if tat - now > self._tolerance:
            return max(1, math.ceil(tat - now - self._tolerance))
        self._tat[caller] = tat + self._interval
        if len(self._tat) > FORGET_ABOVE:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        self._tat = {caller: tat for caller, tat in self._tat.items() if tat > now}
