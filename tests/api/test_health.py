"""Health endpoints while the database hangs: `/healthz` still answers (it never touches the
database) and `/readyz` says not ready within its short timeout, instead of waiting on a
database that does not answer. SQLite hangs behind another process's write lock; PostgreSQL
behind a frozen TCP proxy."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from textbridge.app import create_app

from ..support.database import Database
from ..support.live import LiveServer, wait_until
from ..support.proxy import FreezableProxy
from ..support.textbridge import settings_for

GENEROUS = 20.0  # seconds: far above READY_TIMEOUT_SECONDS, far below any database timeout


@dataclass
class Hang:
    url: str
    start: Callable[[], object]
    stop: Callable[[], object]


@contextmanager
def hanging(database: Database, folder: Path) -> Iterator[Hang]:
    """A URL for the app, and switches that make that database hang and answer again."""
    url = database.fresh_url(folder)
    if database.backend == "sqlite":
        holder = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        try:
            yield Hang(url, lambda: holder.execute("BEGIN IMMEDIATE"), holder.rollback)
        finally:
            holder.close()
        return
    address = httpx.URL(url.replace("postgresql+asyncpg", "http"))
    proxy = FreezableProxy(address.host, address.port or 5432)
    proxied = url.replace(f"{address.host}:{address.port}", f"127.0.0.1:{proxy.port}")
    try:
        yield Hang(proxied, proxy.freeze, proxy.thaw)
    finally:
        proxy.close()


def test_healthz_answers_and_readyz_reports_a_hung_database(
    database: Database, tmp_path: Path
) -> None:
    server = LiveServer()
    with hanging(database, tmp_path) as hang:
        server.app = create_app(settings_for(hang.url, server.url))
        with server, httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/readyz").status_code == 200
            hang.start()
            try:
                _check(client)
            finally:
                hang.stop()  # before the app stops: its shutdown waits for the database
            wait_until(lambda: client.get("/readyz").status_code == 200, timeout=GENEROUS)


def _check(client: httpx.Client) -> None:
    for _ in range(3):
        assert client.get("/healthz", timeout=GENEROUS).json() == {"status": "ok"}
    try:
        ready = client.get("/readyz", timeout=GENEROUS)
    except httpx.TimeoutException:
        pytest.fail(f"/readyz did not answer within {GENEROUS} s")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "timeout"}
    assert client.get("/healthz", timeout=GENEROUS).status_code == 200
