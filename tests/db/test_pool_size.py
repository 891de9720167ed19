"""Each process's engine keeps TEXTBRIDGE_DATABASE_POOL_SIZE connections: a fleet of N
processes must fit the server's max_connections (docs/CAPACITY.md)."""

from __future__ import annotations

import pytest

from tests.support.database import Database
from textbridge.config import SettingsError, load_settings
from textbridge.runtime import build_runtime


@pytest.mark.postgresql_only
async def test_the_engine_keeps_the_configured_number_of_connections(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTBRIDGE_DATABASE_POOL_SIZE", "2")
    runtime = build_runtime(load_settings(database_url=database.url))
    try:
        assert runtime.engine.pool.size() == 2  # type: ignore[attr-defined]
        async with runtime.engine.connect() as first, runtime.engine.connect() as second:
            assert first is not second
            assert runtime.engine.pool.checkedout() == 2  # type: ignore[attr-defined]
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("value", ["0", "101", "many"])
def test_a_pool_size_out_of_range_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TEXTBRIDGE_DATABASE_POOL_SIZE", value)
    with pytest.raises(SettingsError, match="TEXTBRIDGE_DATABASE_POOL_SIZE"):
        load_settings()
