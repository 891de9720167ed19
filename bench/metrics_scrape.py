"""The cost of one `/metrics` scrape's database reads (`alerts.read_health`) on an existing
database: `uv run python bench/metrics_scrape.py DATABASE_URL [ROUNDS]`.

The message gauge comes from the rollup's totals (`rollup.message_totals`); in the same run
the `GROUP BY` over every message that it replaced is timed as the reference."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from stats import percentile

from textbridge import alerts
from textbridge.config import load_settings
from textbridge.db.engine import create_engine
from textbridge.models import Message


async def timed(rounds: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    took: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


async def grouped(engine: AsyncEngine) -> dict[tuple[str, ...], int]:
    m = Message.__table__.c
    columns = (m.direction, m.provider, m.channel, m.status)
    async with engine.connect() as connection:
        rows = await connection.execute(select(*columns, func.count()).group_by(*columns))
        return {tuple(row[:4]): int(row[4]) for row in rows}


def line(label: str, took: list[float]) -> str:
    p50, p95 = statistics.median(took) * 1000, percentile(took, 0.95) * 1000
    return f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms"


async def main(url: str, rounds: int) -> None:
    settings = load_settings(database_url=url)
    engine = create_engine(settings.database_url)
    thresholds = alerts.Thresholds.of(settings)
    try:
        health = await alerts.read_health(engine, thresholds)
        assert health.messages == await grouped(engine), "the totals differ from the messages"
        scrape = await timed(rounds, lambda: alerts.read_health(engine, thresholds))
        direct = await timed(rounds, lambda: grouped(engine))
    finally:
        await engine.dispose()
    messages = sum(health.messages.values())
    print(f"{messages} messages, {len(health.messages)} label sets, {rounds} rounds")
    print(line("scrape (read_health, totals from the rollup)", scrape))
    print(line("reference: GROUP BY over the messages alone", direct))
    ratio = statistics.median(scrape) / statistics.median(direct)
    print(f"ratio scrape p50 / reference p50: {ratio:.3f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10))
