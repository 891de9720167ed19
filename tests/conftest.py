"""Suite-wide fixtures. Every end-to-end test runs on SQLite and on PostgreSQL. Where no
PostgreSQL answers, that half is skipped with the reason printed, except in CI (`CI=true`), where
a missing PostgreSQL fails the run: nothing may pass there by skipping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support.ci import skip_or_fail
from .support.database import (
    Database,
    drop_postgres_database,
    postgres_database,
    sqlite_database,
)
from .support.textbridge import Textbridge, running_textbridge


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path_factory.mktemp("sqlite"))
        return
    outcome = postgres_database()
    if isinstance(outcome, str):
        skip_or_fail(outcome)
    database, name = outcome
    yield database
    drop_postgres_database(name)


@pytest.fixture
def textbridge(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    with running_textbridge(database, tmp_path) as running:
        yield running
