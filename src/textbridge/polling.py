"""The loop every background worker runs: one pass, then sleep until woken or a poll is due.

A pass that found a full batch runs again at once; an exception in a pass is logged and the
loop goes on (a crash in one pass must not stop the worker for good). The same exception
again is counted, not logged every second (`RepeatedErrors`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from textbridge.logging import RepeatedErrors

log = structlog.get_logger(__name__)


class PollingLoop:
    def __init__(self, name: str, batch: int, idle_seconds: float) -> None:
        self._name = name
        self._batch = batch
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._errors = RepeatedErrors(log)
        self._stopped = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """End `run` after the pass under way (a graceful stop)."""
        self._stopped = True
        self._wake.set()

    async def run(self, one_pass: Callable[[], Awaitable[int]]) -> None:
        while not self._stopped:
            self._wake.clear()
            try:
                done = await one_pass()
            except Exception:
                self._errors.exception("background pass failed", worker=self._name)
                done = 0
            else:
                self._errors.recovered(worker=self._name)
            if done < self._batch and not self._stopped:
                await wait_awhile(self._wake, self._idle_seconds)


async def wait_awhile(wake: asyncio.Event, seconds: float) -> None:
    """Until `wake` is set or `seconds` pass. Not `asyncio.wait_for`: on Python 3.11 it swallows
    a cancellation that arrives as the wake-up does, and the task then outlives its shutdown
    (a `serve` that never exits after SIGTERM)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
