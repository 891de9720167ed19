"""`textbridge worker`: the background work without the HTTP server (PostgreSQL only).

Runs the dispatcher, the journal applier, the media fetcher (when TEXTBRIDGE_MEDIA_DOWNLOAD is
on) and the purgers; any number of workers and `serve --no-workers` processes share one
PostgreSQL database, coordinated only through it (row leases with SKIP LOCKED, LISTEN/NOTIFY
for wake-ups). SIGTERM or Ctrl-C stops it gracefully: it claims nothing more, finishes and
records the sends in flight (for at most TEXTBRIDGE_SHUTDOWN_GRACE_SECONDS), leaves the rest
`accepted` for another process, and exits 0. A second signal stops it at once.
"""

from __future__ import annotations

import asyncio
import signal

import typer

from textbridge.cli.common import (
    console,
    freeze_startup_heap,
    refuse_transaction_pooler,
    settings,
)
from textbridge.config import Settings

READY_LINE = "textbridge worker: running"


def single_process_reason(current: Settings) -> str | None:
    """Why this configuration cannot be split across processes, or None when it can."""
    if current.is_sqlite:
        return (
            "needs PostgreSQL: on SQLite one `textbridge serve` does everything (SQLite has "
            "one writer at a time and no LISTEN/NOTIFY)"
        )
    if current.sandbox:
        return (
            "needs provider credentials: in sandbox mode the simulator lives inside `serve`, "
            "with credentials made at its start, so one `textbridge serve` does everything"
        )
    return None


def refuse_single_process(current: Settings, command: str) -> None:
    """Stop with one line when `command` cannot run beside other processes."""
    reason = single_process_reason(current)
    if reason is not None:
        console.print(f"[red]textbridge {command} {reason}[/red]", soft_wrap=True)
        raise typer.Exit(2)


def worker() -> None:
    """Run the dispatcher, journal applier, media fetcher and purgers without the HTTP server
    (PostgreSQL: as many as you like, beside `serve --no-workers`)."""
    import uvloop

    from textbridge import logging as tb_logging

    current = settings()
    refuse_single_process(current, "worker")
    refuse_transaction_pooler(current, "worker")
    tb_logging.configure(current.log_level, json=current.log_format == "json")
    # The event loop `serve` runs on too (uvicorn picks uvloop): its socket I/O costs a worker
    # less CPU than asyncio's own loop (bench/RESULTS.md, 1 December 2026). Its timers may fire
    # a millisecond early: the governor checks the clock again after sleeping for a slot.
    uvloop.run(_run(current))


async def _run(current: Settings) -> None:
    from textbridge.runtime import build_runtime

    runtime = build_runtime(current)
    runtime.http_role = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def first_signal() -> None:
        stop.set()
        for signum in signals:  # a second one acts as usual: stop at once
            loop.remove_signal_handler(signum)

    for signum in signals:
        loop.add_signal_handler(signum, first_signal)
    try:
        runtime.start_background()
        freeze_startup_heap()
        console.print(READY_LINE, soft_wrap=True)
        await stop.wait()
    finally:
        await runtime.aclose()
