"""PostgreSQL closing the pool's connections (a restart, an administrator) costs no request:
a connection seen closed is refused at checkout and replaced (db/engine.py, no pre-ping)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.ci import skip_or_fail
from ..support.database import Database, drop_postgres_database, postgres_database
from ..support.live import wait_until
from ..support.textbridge import running_textbridge

OTHERS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


@pytest.fixture
def postgres() -> Iterator[Database]:
    outcome = postgres_database()
    if isinstance(outcome, str):
        skip_or_fail(outcome)
    database, name = outcome
    yield database
    drop_postgres_database(name)


def _backends(postgres: Database) -> set[int]:
    return {row[0] for row in postgres.rows(f"SELECT pid {OTHERS}")}


def test_sends_go_on_after_the_server_closed_every_connection(
    postgres: Database, tmp_path: Path
) -> None:
    with running_textbridge(postgres, tmp_path) as textbridge:
        for index in range(5):  # connections into the pool
            textbridge.send(text=f"before {index}")
        postgres.rows(f"SELECT pg_terminate_backend(pid) {OTHERS}")
        wait_until(lambda: postgres.scalar(f"SELECT count(*) {OTHERS}") == 0)
        for index in range(5):
            textbridge.send(text=f"after {index}")  # 202 each, or send() fails
        assert postgres.scalar("SELECT count(*) FROM messages") == 10
