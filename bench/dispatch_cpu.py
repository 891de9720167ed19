"""CPU per message of the dispatcher alone: claim and record against PostgreSQL, with a
provider that answers after 2 ms (no HTTP, no simulator, no other role in the process).

    uv run python bench/dispatch_cpu.py [--messages 500] [--concurrency 8]

Complements `bench/dispatch.py`, whose figures on a shared machine move with the load: this
one measures the part of a message's CPU that the claim and the record cost (process time of
this process over the run, divided by the messages). Run it in two checkouts alternately to
compare them. Database: `textbridge_bench_dispatch_cpu` (dropped and created).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))

import dispatch as bench  # noqa: E402  (bench/dispatch.py: the same queue and environment)

DATABASE = "textbridge_bench_dispatch_cpu"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOWHERE = "http://127.0.0.1:9"  # never called: the provider below answers in-process


async def main(messages: int, concurrency: int) -> None:
    from textbridge.config import load_settings
    from textbridge.db.engine import create_session_factory
    from textbridge.dispatch.dispatcher import Dispatcher
    from textbridge.providers.base import OutboundMessage, SendResult
    from textbridge.runtime import build_runtime

    url = await bench.fresh_database(ADMIN, DATABASE)
    url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    env = bench.provider_env(url, NOWHERE, 9)
    upgrade = [bench.textbridge_binary(), "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)
    await bench.enqueue(env, messages)
    settings = load_settings(
        database_url=url,
        public_url=NOWHERE,
        plivo_auth_id=bench.AUTH_ID,
        plivo_auth_token=bench.AUTH_TOKEN,
        plivo_sms_from_number=bench.FROM_NUMBER,
    )
    runtime = build_runtime(settings)

    class Answering:
        async def send(self, outbound: OutboundMessage) -> SendResult:
            await asyncio.sleep(0.002)
            return SendResult(uuid.uuid4().hex)

    engine = runtime.dispatch_engine  # as `build_runtime` gives it: its own pool, generic plans
    dispatcher = Dispatcher(
        create_session_factory(engine) if engine else runtime.sessions,
        runtime.bus,
        {"plivo": Answering()},  # type: ignore[dict-item]
        lambda _: f"{NOWHERE}/status",
        concurrency=concurrency,
    )
    await bench.release(url)
    started, cpu = time.perf_counter(), time.process_time()
    running = asyncio.create_task(dispatcher.run())
    connection = await asyncpg.connect(bench.plain_url(url))
    done = "SELECT count(*) FROM messages WHERE status NOT IN ('accepted', 'sending')"
    while await connection.fetchval(done) < messages:
        await asyncio.sleep(0.05)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    await connection.close()
    await dispatcher.drain(5)
    running.cancel()
    await runtime.aclose()
    print(
        f"{BENCH.parent.name}: {messages / wall:.0f} submitted/s, "
        f"{1000 * cpu / messages:.2f} ms CPU per message (concurrency {concurrency})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.concurrency))
