"""The dashboard's API calls at scale: 1 000 000 messages in 100 000 conversations on
PostgreSQL, each `GET /api/v1/analytics/...` the dashboard makes, p50 and p95 over HTTP
against a real `textbridge serve`, and against a ceiling measured in the same run.

    uv run python bench/dashboard_scale.py [--fresh] [--rounds 40]

1. Its own database `textbridge_dashboard_bench` (kept between runs; `--fresh` rebuilds it),
   migrated, then seeded in SQL with `generate_series`: 100 000 contacts and conversations
   over the four sandbox senders, 1 000 000 messages made over the last 365 days (a third
   inbound; outbound 85 % delivered, 3 % read, 7 % undelivered, 5 % sent; priced), 10
   campaigns of 5 000 messages, 20 000 consent records (the message-count triggers fill
   `message_counts` meanwhile); then the counts folded and VACUUM ANALYZE.
2. `textbridge serve` (sandbox mode) on that database; one client calls each report in turn
   (the dashboard's default range, the last 30 days, in America/New_York: a DST change falls
   in it; then in Asia/Kathmandu, whose midnights are not on the hour), a few warm-up rounds
   first, then `--rounds` rounds.
3. The ceiling: the same report functions (`analytics.query`), the same SQL on the same
   database, called in this process on a plain SQLAlchemy session: the database's share,
   with no HTTP, no authentication and no JSON. The ratio textbridge / ceiling says what the
   app adds.
4. `direct`: the same functions reading every message of the range instead of the hourly
   counts (`Query(direct=True)`, the computation before the rollup), in this process: what
   the rollup saves, measured in the same run. (Inbound, time to delivered, opt-outs and the
   campaign funnel do not read the counts: their two columns measure the same thing.)

The machine is shared: compare the two figures of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
from harness import free_port, stop
from sqlalchemy.ext.asyncio import async_sessionmaker
from stats import percentile

from textbridge.analytics import query as reports
from textbridge.analytics import rollup
from textbridge.analytics.window import window
from textbridge.db import migrate
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# TEXTBRIDGE_BENCH_DATABASE names another database (a lane of its own on a shared server).
NAME = os.environ.get("TEXTBRIDGE_BENCH_DATABASE", "textbridge_dashboard_bench")
DSN = f"postgresql://postgres@127.0.0.1:5432/{NAME}"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{NAME}"
API_KEY = "tb_bench_dashboard_0123456789abcdefghij"
ZONE = "America/New_York"
TARGET_P95_MS = 25.0
CALLS = {
    "messages": reports.messages_per_day,
    "delivery": reports.delivery_per_day,
    "delivery-time": reports.delivery_time,
    "failures": reports.failures_by_reason,
    "cost": reports.cost_per_day,
    "inbound": reports.inbound_per_day,
    "opt-outs": reports.opt_outs_per_day,
    "campaigns": reports.campaign_funnel,
}

SEED = [
    "SELECT setseed(0.42)",
    """INSERT INTO senders (id, provider, channel, address, created_at) VALUES
       (md5('s0')::uuid, 'plivo', 'sms', '+14155550100', now()),
       (md5('s1')::uuid, 'plivo', 'whatsapp', '+14155550101', now()),
       (md5('s2')::uuid, 'vonage', 'sms', '+14155550102', now()),
       (md5('s3')::uuid, 'vonage', 'whatsapp', '+14155550103', now())""",
    """INSERT INTO contacts (id, address, address_kind, created_at)
       SELECT md5('c' || i)::uuid, '+1212' || lpad(i::text, 7, '0'), 'e164',
              now() - interval '400 days'
       FROM generate_series(0, 99999) AS i""",
    """INSERT INTO conversations (id, contact_id, sender_id, channel, unread_count, created_at,
                                  last_inbound_at, last_message_at)
       SELECT md5('v' || i)::uuid, md5('c' || i)::uuid, md5('s' || (i % 4))::uuid,
              CASE WHEN i % 2 = 0 THEN 'sms' ELSE 'whatsapp' END, 0,
              now() - interval '400 days', now() - (i % 365) * interval '1 day', now()
       FROM generate_series(0, 99999) AS i""",
    """INSERT INTO campaigns (id, name, state, channel, provider, sender_id, from_address,
                              recipients, invalid, duplicates, opted_out, invalid_rows, segments,
                              cost_micros, unpriced, currency, created_at, started_at,
                              updated_at)
       SELECT md5('k' || n)::uuid, 'Campaign ' || n, 'completed', 'sms', 'plivo',
              md5('s0')::uuid, '+14155550100', 1000, 0, 0, 0, '[]', 1000, 0, 0, 'USD',
              now() - (n * 3 + 1) * interval '1 day', now() - (n * 3) * interval '1 day', now()
       FROM generate_series(0, 9) AS n""",
    """INSERT INTO messages (id, conversation_id, direction, channel, provider,
                             provider_message_id, from_address, to_address, body, status,
                             error_code, error_message, price, attempts, campaign_id,
                             delivered_at, created_at, updated_at)
       SELECT md5('m' || i)::uuid, md5('v' || c)::uuid, direction,
              CASE WHEN c % 2 = 0 THEN 'sms' ELSE 'whatsapp' END,
              CASE WHEN c % 4 < 2 THEN 'plivo' ELSE 'vonage' END,
              md5('p' || i),
              CASE WHEN direction = 'outbound' THEN ours ELSE theirs END,
              CASE WHEN direction = 'outbound' THEN theirs ELSE ours END,
              'hello', status,
              CASE WHEN status = 'undelivered' THEN (ARRAY['30', '40', '1050', '200'])[1 + i % 4]
              END,
              CASE WHEN status = 'undelivered' THEN 'Carrier said no' END,
              CASE WHEN direction = 'inbound' THEN NULL
                   WHEN c % 4 < 2 THEN '0.00500' ELSE '0.00680' END,
              1, campaign,
              CASE WHEN status IN ('delivered', 'read')
                   THEN made + (2 + 30 * random()) * interval '1 second' END,
              made, made
       FROM (
           SELECT i, c, made, ours, theirs, campaign,
                  CASE WHEN campaign IS NULL AND i % 3 = 0 THEN 'inbound' ELSE 'outbound' END
                      AS direction,
                  CASE WHEN campaign IS NULL AND i % 3 = 0 THEN 'received'
                       WHEN roll < 0.85 THEN 'delivered' WHEN roll < 0.88 THEN 'read'
                       WHEN roll < 0.95 THEN 'undelivered' ELSE 'sent' END AS status
           FROM (
               SELECT i, i % 100000 AS c, random() AS roll,
                      CASE WHEN i % 100 = 1
                           THEN now() - ((i / 100) % 10 * 3) * interval '1 day'
                                - random() * interval '1 day'
                           ELSE now() - random() * interval '365 days' END AS made,
                      '+1415555010' || (i % 100000 % 4) AS ours,
                      '+1212' || lpad((i % 100000)::text, 7, '0') AS theirs,
                      CASE WHEN i % 100 = 1 THEN md5('k' || ((i / 100) % 10))::uuid END
                          AS campaign
               FROM generate_series(0, 999999) AS i
           ) AS drawn
       ) AS decided""",
    """INSERT INTO consent_records (address_hash, action, scope, channel, source, kind,
                                    recorded_at)
       SELECT md5('h' || i), CASE WHEN i % 5 = 0 THEN 'opt_in' ELSE 'opt_out' END,
              CASE WHEN i % 3 = 0 THEN '*' ELSE '+14155550100' END, 'sms',
              (ARRAY['keyword', 'api', 'import'])[1 + i % 3], 'express',
              now() - random() * interval '365 days'
       FROM generate_series(0, 19999) AS i""",
]


async def _admin(*statements: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _admin_in(database: str, *statements: str) -> None:
    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}")
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _message_count() -> int:
    try:
        connection = await asyncpg.connect(DSN)
    except asyncpg.InvalidCatalogNameError:
        return 0
    try:
        return int(await connection.fetchval("SELECT count(*) FROM messages"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await connection.close()


async def _seed() -> None:
    connection = await asyncpg.connect(DSN)
    try:
        for statement in SEED:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _fold_and_vacuum() -> None:
    """Fold the counts the seeding's triggers appended, as the workers' compactor would,
    then VACUUM ANALYZE: the state of a database that has been running."""
    engine = create_engine(URL)
    try:
        while True:
            async with async_sessionmaker(engine)() as session:
                folded = await rollup.compact(session)
                await session.commit()
            if not folded:
                break
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(DSN)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def prepare(fresh: bool) -> None:
    if not fresh and asyncio.run(_message_count()) >= 1_000_000:
        print(f"reusing {NAME} (1 000 000 messages); --fresh rebuilds it")
        # A database seeded before a migration gets it (and its tables their statistics).
        migrate.upgrade(URL)
        asyncio.run(
            _admin_in(NAME, "VACUUM ANALYZE message_block_counts, delivery_time_block_counts")
        )
        return
    started = time.perf_counter()
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)", f"CREATE DATABASE {NAME}"))
    migrate.upgrade(URL)
    asyncio.run(_seed())
    asyncio.run(_fold_and_vacuum())
    print(f"seeded {NAME} in {time.perf_counter() - started:.0f} s")


@contextlib.contextmanager
def serving(port: int, log: Path) -> Iterator[None]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PLIVO_", "VONAGE_", "TEXTBRIDGE_"))
    }
    env.update(
        TEXTBRIDGE_DATABASE_URL=URL,
        TEXTBRIDGE_HOST="127.0.0.1",
        TEXTBRIDGE_PORT=str(port),
        TEXTBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        TEXTBRIDGE_API_KEY=API_KEY,
        TEXTBRIDGE_API_RATE_PER_SECOND="0",
        TEXTBRIDGE_SECRET_KEY="bench-session-secret-0123456789abcdef0123456789",
        TEXTBRIDGE_LOG_LEVEL="warning",
    )
    command = [sys.executable, "-m", "textbridge", "serve"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_for_port(port, process, log)
            yield
        finally:
            stop(process)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.2)
    raise RuntimeError("serve did not listen")


def over_http(
    port: int, params: dict[str, str], rounds: int, warmup: int
) -> dict[str, list[float]]:
    took: dict[str, list[float]] = {name: [] for name in CALLS}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        for round_ in range(warmup + rounds):
            for name in CALLS:
                started = time.perf_counter()
                response = client.get(f"/api/v1/analytics/{name}", params=params)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
                if round_ >= warmup:
                    took[name].append(elapsed)
    return took


async def in_process(
    params: dict[str, str], rounds: int, warmup: int, direct: bool = False
) -> dict[str, list[float]]:
    engine = create_engine(URL)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    days = window(None, None, params["tz"], utcnow())
    filters = reports.Filters(params.get("channel"), params.get("provider"), params.get("sender"))
    took: dict[str, list[float]] = {name: [] for name in CALLS}
    try:
        for round_ in range(warmup + rounds):
            for name, build in CALLS.items():
                started = time.perf_counter()
                async with sessions() as session:
                    await build(reports.Query(session, days, filters, direct))
                elapsed = time.perf_counter() - started
                if round_ >= warmup:
                    took[name].append(elapsed)
    finally:
        await engine.dispose()
    return took


def report(
    label: str,
    http: dict[str, list[float]],
    ceiling: dict[str, list[float]],
    direct: dict[str, list[float]],
) -> bool:
    print(f"\n{label}")
    columns = ("p50 ms", "p95 ms", "ceiling p50", "ceiling p95", "ratio p95", "direct p95")
    print(f"{'call':<16}" + "".join(f"{c:>13}" for c in columns))
    met = True
    for name in CALLS:
        p50, p95 = (percentile(http[name], f) * 1000 for f in (0.5, 0.95))
        c50, c95 = (percentile(ceiling[name], f) * 1000 for f in (0.5, 0.95))
        d95 = percentile(direct[name], 0.95) * 1000
        met = met and p95 <= TARGET_P95_MS
        figures = (
            f"{p50:.1f}",
            f"{p95:.1f}",
            f"{c50:.1f}",
            f"{c95:.1f}",
            f"{p95 / c95:.2f}",
            f"{d95:.1f}",
        )
        print(f"{name:<16}" + "".join(f"{figure:>13}" for figure in figures))
    everything = [t for values in http.values() for t in values]
    print(
        f"all calls: p50 {statistics.median(everything) * 1000:.1f} ms, "
        f"p95 {percentile(everything, 0.95) * 1000:.1f} ms; target p95 <= {TARGET_P95_MS:.0f} ms "
        f"per call: {'met' if met else 'NOT met'}"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="rebuild and reseed the database")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    prepare(args.fresh)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    views = {
        "last 30 days, America/New_York": {"tz": ZONE},
        "last 30 days, America/New_York, channel=sms, sender=+14155550100": {
            "tz": ZONE,
            "channel": "sms",
            "sender": "+14155550100",
        },
        # +5:45: each local midnight is off the hour: a block per day, and a quarter hour a
        # day from the messages (rollup.plan)
        "last 30 days, Asia/Kathmandu": {"tz": "Asia/Kathmandu"},
    }
    met = True
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        with serving(port, Path(folder) / "serve.log"):
            for label, params in views.items():
                http = over_http(port, params, args.rounds, args.warmup)
                ceiling = asyncio.run(in_process(params, args.rounds, args.warmup))
                direct = asyncio.run(in_process(params, args.rounds, args.warmup, direct=True))
                met = report(label, http, ceiling, direct) and met
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
