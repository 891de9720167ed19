"""What the fuzz tests share: a textbridge over HTTP, and row counts read on one open
connection (the fuzzers count around every request, so a fresh engine each time would cost
more than the request)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from textbridge.app import create_app
from textbridge.runtime import build_runtime

from ..support.database import Database
from ..support.live import LiveServer, OnlyTo
from ..support.textbridge import API_KEY, Textbridge, settings_for

T = TypeVar("T")

# What a client's request could store: a refused one must leave every count as it was.
CONTENT_TABLES = (
    "messages",
    "contacts",
    "conversations",
    "attachments",
    "campaigns",
    "campaign_recipients",
    "message_templates",
    "consent_records",
)


class RowCounter:
    """`counts()` of `tables`, on a connection kept open in a thread of its own."""

    def __init__(self, url: str, tables: tuple[str, ...]) -> None:
        counts = ", ".join(f"(SELECT count(*) FROM {table})" for table in tables)
        self._query = text(f"SELECT {counts}")
        self.tables = tables
        self._url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._connection: AsyncConnection | None = None

    def __enter__(self) -> RowCounter:
        self._thread.start()
        self._engine = create_async_engine(self._url, isolation_level="AUTOCOMMIT")
        self._connection = self._run(self._connect())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._connection is not None
        self._run(self._connection.close())
        self._run(self._engine.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _connect(self) -> AsyncConnection:
        return await self._engine.connect()

    def counts(self) -> dict[str, int]:
        assert self._connection is not None
        row = self._run(self._connection.execute(self._query)).one()
        return dict(zip(self.tables, row, strict=True))

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """Any query, on the same connection."""
        assert self._connection is not None
        return list(self._run(self._connection.execute(text(sql), params)).all())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)


@contextmanager
def quiet_textbridge(database: Database, folder: Path) -> Iterator[Textbridge]:
    """`running_textbridge` with no background workers (`serve --no-workers`): nothing but the
    requests writes to the database, so row counts taken between requests are exact."""
    server = LiveServer()
    # The fuzzers send hundreds of requests in seconds: the API rate limit (tested on its own)
    # would turn most of them into 429s and hide what they are meant to reach.
    settings = settings_for(database.fresh_url(folder), server.url, api_rate_per_second=0)
    network = OnlyTo(server.url)
    runtime = build_runtime(settings, network)
    runtime.workers_role = False
    server.app = create_app(settings, runtime)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with (
        server,
        httpx.Client(base_url=server.url, headers=headers, timeout=10) as api,
        httpx.Client(base_url=f"{server.url}/simulator", timeout=10) as simulator,
    ):
        yield Textbridge(server, settings, runtime, database, api, simulator)
    assert not network.refused, f"unexpected outbound requests: {network.refused}"


@contextmanager
def counted_textbridge(
    database: Database, folder: Path, tables: tuple[str, ...] = CONTENT_TABLES
) -> Iterator[tuple[Textbridge, RowCounter]]:
    with (
        quiet_textbridge(database, folder) as textbridge,
        RowCounter(database.url, tables) as counter,
    ):
        yield textbridge, counter
