"""The cost of one `/metrics` scrape's database reads (`alerts.read_health`) on an existing
database: `uv run python bench/metrics_scrape.py DATABASE_URL [ROUNDS]`."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from textbridge import alerts
from textbridge.config import load_settings
from textbridge.db.engine import create_engine


async def main(url: str, rounds: int) -> None:
    settings = load_settings(database_url=url)
    engine = create_engine(settings.database_url)
    thresholds = alerts.Thresholds.of(settings)
    took: list[float] = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            health = await alerts.read_health(engine, thresholds)
            took.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    took.sort()
    messages = sum(health.messages.values())
    p95 = took[max(0, round(0.95 * len(took)) - 1)]
    print(
        f"{messages} messages, {len(health.messages)} label sets: "
        f"p50 {statistics.median(took) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms ({rounds} rounds)"
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10))
