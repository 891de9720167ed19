"""One LISTEN connection per process (PostgreSQL): wake-ups and live events across processes.

Each process holds one dedicated asyncpg connection, outside the SQLAlchemy pool (a pooled
connection is reset and handed to others; a listener must stay put). It LISTENs on the channels
of the roles the process runs and calls their handler on each notification; NOTIFYs a process
sends for others (`notify`) go over the same connection, coalesced: a burst of wake-ups costs
one round trip.

A notification is only a hint that something committed: every receiver also polls, so one that
is lost (the connection was down) costs a poll interval, never a message. The live events'
notifications carry the events themselves (`readers` get the payload; see `relay.py`).
When the connection dies (a restarted server, `pg_terminate_backend`, a cut network, found
by a periodic health query) the listener reconnects with backoff and jitter and calls
`on_connected`, which wakes every role once to catch up on what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.engine import make_url

from textbridge.logging import RepeatedErrors

log = structlog.get_logger(__name__)

EVENTS = "textbridge_events"
DISPATCH = "textbridge_dispatch"
APPLY = "textbridge_apply"
MEDIA = "textbridge_media"
HOOKS = "textbridge_hooks"  # webhook deliveries are due (the fan-out trigger NOTIFYs it)
KEYS = "textbridge_keys"  # an API key was revoked: forget the verified ones
SENDERS = "textbridge_senders"  # a sender's own rate changed: the governors read them again

APPLICATION_NAME = "textbridge-listener"  # how an operator (or a test) finds it
CONNECT_TIMEOUT_SECONDS = 10.0
HEALTH_CHECK_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.1
LONGEST_BACKOFF_SECONDS = 5.0
# After a NOTIFY, the next waits this long: the wake-ups asked for meanwhile go in it together.
# A lone wake-up goes at once; under a stream of API sends (each wakes the dispatchers), the
# NOTIFY came back before the next send, so nearly every send made a round trip of its own.
NOTIFY_INTERVAL_SECONDS = 0.005


_CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (`postgresql+asyncpg://...`) as a plain DSN for asyncpg.

    The engine passes `?ssl=require` to asyncpg as its `ssl` argument; in a DSN asyncpg reads
    that as a server setting named `ssl` and the server refuses it: a DSN says `sslmode`."""
    url = make_url(database_url).set(drivername="postgresql")
    if "ssl" in url.query:
        query = {k: v for k, v in url.query.items() if k != "ssl"}
        url = url.set(query={**query, "sslmode": url.query["ssl"]})
    return url.render_as_string(hide_password=False)


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` consecutive failures, with "equal jitter"."""
    ceiling = min(FIRST_BACKOFF_SECONDS * 2 ** (failures - 1), LONGEST_BACKOFF_SECONDS)
    jittered: float = ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)
    return jittered


class PgListener:
    def __init__(
        self,
        dsn: str,
        handlers: Mapping[str, Callable[[], None]],
        on_connected: Callable[[], None] = lambda: None,
        readers: Mapping[str, Callable[[str], None]] | None = None,
    ) -> None:
        """`handlers` are called on each notification of their channel; `readers` instead
        get its payload (the live events: `realtime.relay.EventRelay.notified`)."""
        self._dsn = dsn
        self._handlers = dict(handlers)
        self._readers = dict(readers or {})
        self._on_connected = on_connected
        self._connection: asyncpg.Connection | None = None
        self._own_pid = 0
        self._lock = asyncio.Lock()  # one query at a time on the connection
        self._pending: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._errors = RepeatedErrors(log)
        self._was_up = False  # whether the last connection got as far as listening

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def notify(self, channel: str) -> None:
        """NOTIFY `channel` soon. Dropped while disconnected: the receivers' polling covers it."""
        self._pending.add(channel)
        if self._connection is not None and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush(), name="notify")

    async def run(self) -> None:
        failures = 0
        try:
            while True:
                try:
                    await self._listen_until_lost()
                    log.warning("listener connection closed; polling until it is back")
                except _CONNECTION_ERRORS as exc:
                    # Expected while the server restarts: one line when it goes, not a
                    # traceback every retry.
                    report = log.warning if self._was_up else log.debug
                    report("listener connection lost; polling until it is back", reason=_why(exc))
                except Exception:
                    self._errors.exception("listener failed; polling until it is back")
                failures = 1 if self._was_up else failures + 1
                self._was_up = False
                await asyncio.sleep(backoff(failures))
        finally:
            if self._flusher is not None:
                self._flusher.cancel()

    async def _listen_until_lost(self) -> None:
        connection: asyncpg.Connection = await asyncio.wait_for(
            asyncpg.connect(self._dsn, server_settings={"application_name": APPLICATION_NAME}),
            CONNECT_TIMEOUT_SECONDS,
        )
        try:
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def on_terminated(_connection: Any) -> None:
                if not lost.done():
                    lost.set_result(None)

            connection.add_termination_listener(on_terminated)
            for channel in {*self._handlers, *self._readers}:
                await connection.add_listener(channel, self._on_notification)
            self._own_pid = connection.get_server_pid()
            self._connection, self._was_up = connection, True
            self._errors.recovered()
            channels = sorted({*self._handlers, *self._readers})
            log.info("listening for notifications", channels=channels)
            self._on_connected()
            if self._pending:
                self.notify(next(iter(self._pending)))
            await self._watch(connection, lost)
        finally:
            self._connection = None
            connection.terminate()

    async def _watch(self, connection: asyncpg.Connection, lost: asyncio.Future[None]) -> None:
        """Return when the connection is lost; a health query finds a silent peer."""
        while not lost.done():
            # `asyncio.timeout`, not `wait_for` (see `polling.wait_awhile`).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEALTH_CHECK_SECONDS):
                    await asyncio.shield(lost)
                return
            async with self._lock, asyncio.timeout(HEALTH_CHECK_SECONDS):
                await connection.fetchval("SELECT 1")

    def _on_notification(self, _connection: Any, pid: int, channel: str, payload: str) -> None:
        reader = self._readers.get(channel)
        if reader is not None:
            reader(payload)
            return
        if pid == self._own_pid:
            return  # this process woke its own roles already
        handler = self._handlers.get(channel)
        if handler is not None:
            handler()

    async def _flush(self) -> None:
        while self._pending and (connection := self._connection) is not None:
            channels, self._pending = self._pending, set()
            # Channel names are our own constants, never input.
            statement = "; ".join(f"NOTIFY {channel}" for channel in sorted(channels))
            try:
                async with self._lock:
                    await connection.execute(statement)
            except Exception as exc:
                log.info("notify failed; receivers will poll", reason=type(exc).__name__)
                return
            await asyncio.sleep(NOTIFY_INTERVAL_SECONDS)
