"""What quiet hours cost the dispatcher: claim passes with and without a window, on PostgreSQL.

    uv run python bench/schedule_hook.py [--messages 500] [--rounds 3]
        [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Per round, on a fresh database `textbridge_bench_schedule` (migrated), one in-process runtime
whose Plivo answers every send at once (`httpx.MockTransport`), so the figure is the
dispatcher's own work:
1. ceiling: N campaign-like messages to N distinct US numbers without quiet hours; the time
   from the first dispatcher pass until all are `submitted`.
2. open window: the same with `quiet_hours` = a window open now in New York (every message is
   checked at claim: zone lookup, window, the contact override query) and sent.
3. closed window: the same, accepted, with a window closed now (as after a backlog pushed
   them past 21:00): every claimed message is held at claim (one bulk status change and
   history insert per pass); the time until all are `held`.
Printed: messages/s of each, and open/ceiling (the cost of the check on the path that sends);
the result is the median over rounds. Also the time spent inside the hook per pass (it is
wrapped with a timer), a steadier figure than the rates when the machine is busy. Absolute
figures drift on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from textbridge.bootstrap import bootstrap
from textbridge.config import load_settings
from textbridge.db import migrate
from textbridge.db.base import utcnow
from textbridge.dispatch import schedule
from textbridge.messaging import outbound, status
from textbridge.models import Message
from textbridge.runtime import Runtime, build_runtime

DATABASE = "textbridge_bench_schedule"
NEW_YORK = ZoneInfo("America/New_York")


def plivo_accepts(_: httpx.Request) -> httpx.Response:
    uuids = [str(uuid.uuid4())]
    return httpx.Response(202, json={"api_id": "a", "message": "queued", "message_uuid": uuids})


async def fresh_database(admin_url: str) -> str:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        await connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    await engine.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    await asyncio.to_thread(migrate.upgrade, url)
    return url


def window_around(now: datetime, open_now: bool) -> str:
    local = now.astimezone(NEW_YORK)
    start = local - timedelta(hours=2) if open_now else local + timedelta(hours=2)
    return f"{start:%H:%M}-{start + timedelta(hours=4 if open_now else 1):%H:%M}"


async def enqueue(runtime: Runtime, count: int, quiet_hours: str | None) -> None:
    """One message through `outbound.send` (contact, conversation), then copies of it to
    distinct numbers with plain INSERTs: the bench is about the claim, not the accept."""
    async with runtime.unit_of_work() as uow:
        request = outbound.SendRequest(to="+12125550000", text="hello", quiet_hours=quiet_hours)
        first = await outbound.send(uow, request, None, runtime.providers)
        await uow.commit()
    now = utcnow()
    async with runtime.sessions() as session:
        for n in range(1, count):
            session.add(
                Message(
                    conversation_id=first.conversation_id,
                    direction="outbound",
                    channel="sms",
                    provider=first.provider,
                    from_address=first.from_address,
                    to_address=f"+1212555{n:04d}",
                    body="hello",
                    status=status.ACCEPTED,  # accepted in its window: checked at claim
                    next_attempt_at=now,
                    quiet_hours=first.quiet_hours,
                    priority=100,
                )
            )
        await session.commit()


HOOK_SECONDS: list[float] = []
_hook = schedule.quiet_holds  # what the dispatcher's claim calls for quiet hours


async def timed_hook(*args: Any, **kwargs: Any) -> tuple[list[Message], list[Message]]:
    started = time.perf_counter()
    try:
        return await _hook(*args, **kwargs)
    finally:
        HOOK_SECONDS.append(time.perf_counter() - started)


schedule.quiet_holds = timed_hook  # type: ignore[assignment]


async def count_in(runtime: Runtime, wanted: str) -> int:
    async with runtime.sessions() as session:
        query = select(func.count()).select_from(Message).where(Message.status == wanted)
        return int(await session.scalar(query) or 0)


async def one_run(url: str, count: int, quiet_hours: str | None, until: str) -> float:
    settings = load_settings(
        env="test", database_url=url, public_url="http://bench.test", api_key="tb_" + "b" * 40
    )
    runtime = build_runtime(settings, httpx.MockTransport(plivo_accepts))
    await bootstrap(runtime)
    try:
        await enqueue(runtime, count, quiet_hours)
        started = time.perf_counter()
        while await count_in(runtime, until) < count:
            await runtime.dispatcher.dispatch_due()
        return count / (time.perf_counter() - started)
    finally:
        await runtime.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    results: dict[str, list[float]] = {"ceiling": [], "open": [], "closed": []}
    for round_number in range(1, args.rounds + 1):
        now = datetime.now(UTC)
        runs = [
            ("ceiling", None, status.SUBMITTED),
            ("open", window_around(now, open_now=True), status.SUBMITTED),
            ("closed", window_around(now, open_now=False), status.HELD),
        ]
        for name, window, until in runs if round_number % 2 else reversed(runs):
            url = await fresh_database(args.admin_url)
            HOOK_SECONDS.clear()
            rate = await one_run(url, args.messages, window, until)
            results[name].append(rate)
            hook_ms = 1000 * statistics.median(HOOK_SECONDS)
            print(
                f"round {round_number} {name:8} {rate:8.0f} messages/s, "
                f"hook {hook_ms:.2f} ms per pass (median of {len(HOOK_SECONDS)} passes)"
            )
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    print(
        f"median: ceiling {medians['ceiling']:.0f}/s (sent, no quiet hours), "
        f"open window {medians['open']:.0f}/s (checked and sent), "
        f"closed window {medians['closed']:.0f}/s (held)"
    )
    print(f"ratio open/ceiling: {medians['open'] / medians['ceiling']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
