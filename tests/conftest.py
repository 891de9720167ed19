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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `postgresql_only` is not collected for SQLite at all (a skip would read as
    "something was missing" in CI, where nothing may be skipped). Tests marked `long` run
    first: pytest-xdist hands tests out in this order, and one of minutes collected last ran
    alone at the end while the other workers had finished (the crash test: 5.5 of 26 min)."""
    sqlite_only_copies = [item for item in items if _postgresql_only_on_sqlite(item)]
    if sqlite_only_copies:
        config.hook.pytest_deselected(items=sqlite_only_copies)
        items[:] = [item for item in items if item not in sqlite_only_copies]
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable


def _postgresql_only_on_sqlite(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_sqlite = callspec is not None and callspec.params.get("database") == "sqlite"
    return on_sqlite and item.get_closest_marker("postgresql_only") is not None


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
