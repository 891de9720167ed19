"""Scale-out proof: 2 `serve --no-workers` + 2 `textbridge worker` on one PostgreSQL, a mixed
load at once, every message accounted for, throughput and p95 per path against a ceiling.

    uv run python bench/fleet.py [--duration 60] [--send-rate 10] [--inbound-rate 5]
        [--status-rate 5] [--sse-clients 20] [--pool-size 5] [--per-path 20] [--profile DIR]

The fleet: a database of its own (`textbridge_bench_fleet`, dropped at the end), the
simulator in its own process (`textbridge simulator`, Plivo, callbacks 0.05 s apart), serve A
and serve B (`serve --no-workers`, the HTTP role only), worker 1 and worker 2 (`textbridge
worker`: dispatcher, journal applier). No load balancer: each serve's `TEXTBRIDGE_PUBLIC_URL`
is its own address (Plivo signs over the URL), worker N gives the simulator serve N's status
URL, and the bench spreads its requests over A and B. Every process keeps `--pool-size`
engine connections + `--api-send-connections` + one listener (PostgreSQL has 100 connections
for everyone on this machine). The governor is off (`TEXTBRIDGE_GOVERNOR=false`): the
providers' own rate limits are a separate question (docs/CAPACITY.md).

The load, for `--duration` seconds, all at once, open loop (each request has a due time
`i / rate` from the start; a latency counts from that due time, so a client that falls behind
shows it):
- API sends: `POST /api/v1/messages` to a distinct recipient each (`--send-clients` clients);
  the simulator accepts them and calls back queued, sent, delivered, signed, to serve A or B.
- inbound: signed Plivo inbound SMS webhooks from `--contacts` numbers.
- status: signed Plivo `delivered` webhooks for messages seeded `submitted` before the start.
- `--sse-clients` event streams (`/api/v1/events`, half on each serve), opened before.

Then it waits (up to `--settle-seconds`) until every send is final (delivered, failed,
undelivered, rejected) or `unknown`, every inbound and status change has been seen on the
streams, and every stream has reached the last event id; and checks: each send's status in the
database (and a sample through `GET /api/v1/messages/{id}`), each inbound through the API
(`GET /api/v1/conversations?q=` and its messages), each status-webhook message `delivered`,
each stream saw exactly the ids of `live_events` after its `ready`, in order, no gap, no
duplicate, and every journal row is `applied`. Anything missing fails the bench (exit 1).

Paths printed (count, rate over the window, p50, p95): send accept (the API's answer); send
to delivered (due time to the first stream showing `message.status` delivered: API, dispatch,
simulator, three callbacks, apply, relay, SSE); inbound to visible and status to visible (due
time to the first stream showing the `message.created` / `message.status`: it is published
after commit, so an API read would return it); SSE delivery (each client's receipt of each
event minus the event row's `created_at`, the start of the transaction that wrote it, so the
commit is included).

Ceiling, measured in the same run: two bare ASGI + asyncpg apps (`bench/ceiling_app.py`: one
INSERT into `webhook_journal` per request, no framework, no signature check; a database of
its own) on two ports, given the same open-loop mix at the same rates for `--ceiling-seconds`
(accept p50/p95 per path: the ratio textbridge / ceiling), then saturated by the same number
of clients in a closed loop for 5 s (its most requests per second: the offered load as a
share of it). CPU (user + system, /proc) of every process, PostgreSQL's backends of each
database included, is printed per message and per request, for both.

CPU: each role's CPU over the window and until everything settled, less its idle rate
(measured for `--idle-seconds` first, streams open), per message; `--per-path SECONDS` then
runs each path alone at its rate, so that each path's CPU per message is measured, not
apportioned. PostgreSQL: `pg_stat_database` counters per message (commits, rows written), the
bytes per row of each table at the end, the transactions that wrote live events (each one
NOTIFYs), and, once a second through the window, what its active backends wait on and which
locks they wait for (`pg_stat_activity`, `pg_locks`, read from the admin database so that the
sampling adds nothing to the measured one). `pg_stat_statements` is not loaded on the shared
server (it needs a restart), hence these.

`--profile DIR`: py-spy samples serve A and worker 1 during the window; the deepest textbridge
frame of their busy samples is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import apply as apply_bench  # noqa: E402
import harness  # noqa: E402
import webhook_ingest as ingest  # noqa: E402
from stats import percentile  # noqa: E402

import dispatch  # noqa: E402
from textbridge.providers.plivo.signature import signed_headers  # noqa: E402

DATABASE = "textbridge_bench_fleet"
CEILING_DATABASE = "textbridge_bench_fleet_ceiling"
AUTH_ID, AUTH_TOKEN, API_KEY = ingest.AUTH_ID, ingest.AUTH_TOKEN, ingest.API_KEY
FROM_NUMBER = "+14155550100"
FINAL = ("delivered", "read", "failed", "undelivered", "rejected", "unknown")
SATURATE_SECONDS = 5.0
POLL = 0.5


# ---------------------------------------------------------------------------- processes


@dataclass
class Fleet:
    servers: list[str]  # base URLs of serve A and serve B
    pids: dict[str, int]  # role -> pid (serve A, serve B, worker 1, worker 2, simulator)


def fleet_env(url: str, public_url: str, simulator: str, args: argparse.Namespace) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTBRIDGE_", "PLIVO_"))}
    return {
        **keep,
        "TEXTBRIDGE_DATABASE_URL": harness.asyncpg_url(url),
        "TEXTBRIDGE_PUBLIC_URL": public_url,
        "TEXTBRIDGE_API_KEY": API_KEY,
        "TEXTBRIDGE_API_RATE_PER_SECOND": "0",  # the per-key API limit is not measured
        "TEXTBRIDGE_SECRET_KEY": "bench-session-secret-0123456789abcdef0123456789",
        "TEXTBRIDGE_LOG_LEVEL": "warning",
        "TEXTBRIDGE_GOVERNOR": "false",
        "TEXTBRIDGE_DATABASE_POOL_SIZE": str(args.pool_size),
        "TEXTBRIDGE_API_SEND_CONNECTIONS": str(args.api_send_connections),
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "PLIVO_SMS_FROM_NUMBER": FROM_NUMBER,
        "TEXTBRIDGE_PLIVO_API_BASE_URL": f"{simulator}/v1/Account",
    }


def start_fleet(
    stack: contextlib.ExitStack, url: str, args: argparse.Namespace, logs: Path
) -> Fleet:
    binary = harness.textbridge_binary()
    sim_port = harness.free_port()
    simulator = f"http://127.0.0.1:{sim_port}"
    sim_env = {**os.environ, "PLIVO_AUTH_ID": AUTH_ID, "PLIVO_AUTH_TOKEN": AUTH_TOKEN}
    sim = stack.enter_context(
        harness.running(
            [binary, "simulator", "--port", str(sim_port)],
            sim_env,
            logs / "simulator.log",
            f"{simulator}/control/faults",
        )
    )
    pids = {"simulator": sim.pid}
    servers = []
    for name in ("serve A", "serve B"):
        port = harness.free_port()
        base = f"http://127.0.0.1:{port}"
        command = [binary, "serve", "--no-workers", "--port", str(port)]
        env = fleet_env(url, base, simulator, args)
        log = logs / f"{name.replace(' ', '-')}.log"
        pids[name] = stack.enter_context(harness.running(command, env, log, f"{base}/readyz")).pid
        servers.append(base)
    for n in (1, 2):
        env = fleet_env(url, servers[n - 1], simulator, args)
        log = logs / f"worker-{n}.log"
        worker = harness.running([binary, "worker"], env, log, harness.WORKER_READY_LINE)
        pids[f"worker {n}"] = stack.enter_context(worker).pid
    return Fleet(servers, pids)


def start_ceiling(
    stack: contextlib.ExitStack, url: str, args: argparse.Namespace, logs: Path
) -> Fleet:
    """Two bare apps, each with the connections of one serve's send path and engine."""
    env = {
        **os.environ,
        "CEILING_DATABASE_URL": url,
        "CEILING_POOL_SIZE": str(args.pool_size + args.api_send_connections),
    }
    servers, pids = [], {}
    for name in ("ceiling A", "ceiling B"):
        port = harness.free_port()
        command = [sys.executable, str(ingest.CEILING_APP), "--port", str(port)]
        command += ["--log-level", "warning"]
        log = logs / f"{name.replace(' ', '-')}.log"
        base = f"http://127.0.0.1:{port}"
        pids[name] = stack.enter_context(harness.running(command, env, log, f"{base}/")).pid
        servers.append(base)
    return Fleet(servers, pids)


# ---------------------------------------------------------------------------- requests


@dataclass
class Sample:
    path: str  # send, inbound, status
    key: str  # send: our id; inbound: the provider's id; status: our id
    due: float
    answered: float
    phase: str  # warmup, mixed, or the one path of a per-path phase

    @property
    def measured(self) -> bool:
        """In the mixed window's figures (every sample is accounted for)."""
        return self.phase == "mixed"


@dataclass
class Work:
    """What the load needs to know: the seeded messages the status webhooks are about."""

    run: uuid.UUID
    status_provider_ids: list[str]
    status_message_ids: list[str]
    contacts: int


def send_request(index: int, base: str) -> tuple[str, dict[str, str], bytes]:
    body = {"to": dispatch.recipient(index), "text": f"fleet {index}"}
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    return f"{base}/api/v1/messages", headers, json.dumps(body).encode()


def signed_form(url: str, params: list[tuple[str, str]]) -> tuple[dict[str, str], bytes]:
    headers = signed_headers(AUTH_TOKEN, "POST", url, params)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers, urlencode(params).encode()


def inbound_request(index: int, base: str, work: Work) -> tuple[str, dict[str, str], bytes, str]:
    url = f"{base}/webhooks/plivo/inbound"
    params = apply_bench.plivo_inbound(index, work.run, work.contacts)
    return url, *signed_form(url, params), dict(params)["MessageUUID"]


def status_request(index: int, base: str, work: Work) -> tuple[str, dict[str, str], bytes, str]:
    url = f"{base}/webhooks/plivo/status"
    params = dict(ingest.plivo_params(index, work.run))
    provider_id = work.status_provider_ids[index]
    params.update(
        MessageUUID=provider_id,
        ParentMessageUUID=provider_id,
        Status="delivered",
        Sequence="3",
        DeliveryReportTime=params["MessageTime"],
    )
    return url, *signed_form(url, list(params.items())), work.status_message_ids[index]


async def open_loop(
    rate: float,
    count: int,
    clients: int,
    one: Callable[[int, float], Awaitable[None]],
    offset: int,
) -> None:
    """`count` calls of `one(offset + i, due)`, the i-th due at i / rate from now, made by
    `clients` concurrent callers (a caller behind schedule goes at once)."""
    started, indexes = time.perf_counter(), itertools.count()

    async def caller() -> None:
        for index in indexes:
            if index >= count:
                return
            due = started + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await one(offset + index, due)

    await asyncio.gather(*(caller() for _ in range(clients)))


PATHS = ("send", "inbound", "status")


class Load:
    """The three request paths against a pair of servers; `samples` and `errors` fill up."""

    def __init__(self, servers: list[str], work: Work, client: httpx.AsyncClient) -> None:
        self.servers, self.work, self.client = servers, work, client
        self.samples: list[Sample] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.phase = "mixed"
        self.sent = {"send": 0, "inbound": 0, "status": 0}  # requests made so far, per path

    async def _post(self, path: str, url: str, headers: dict, body: bytes, due: float) -> str:
        try:
            answer = await self.client.post(url, headers=headers, content=body)
        except httpx.HTTPError as error:
            self.errors[f"{path}: {type(error).__name__}"] += 1
            return ""
        if answer.status_code not in (200, 202):
            self.errors[f"{path}: {answer.status_code}"] += 1
            return ""
        return answer.text or "-"

    async def send(self, index: int, due: float) -> None:
        url, headers, body = send_request(index, self.servers[index % 2])
        text = await self._post("send", url, headers, body, due)
        if text:
            key = json.loads(text).get("id", f"ceiling-{index}") if text != "-" else ""
            self.samples.append(Sample("send", key, due, time.perf_counter(), self.phase))

    async def inbound(self, index: int, due: float) -> None:
        url, headers, body, key = inbound_request(index, self.servers[index % 2], self.work)
        if await self._post("inbound", url, headers, body, due):
            self.samples.append(Sample("inbound", key, due, time.perf_counter(), self.phase))

    async def status(self, index: int, due: float) -> None:
        url, headers, body, key = status_request(index, self.servers[index % 2], self.work)
        if await self._post("status", url, headers, body, due):
            self.samples.append(Sample("status", key, due, time.perf_counter(), self.phase))

    async def run(
        self, args: argparse.Namespace, duration: float, only: tuple[str, ...] = PATHS
    ) -> None:
        paths = (
            ("send", args.send_rate, args.send_clients, self.send),
            ("inbound", args.inbound_rate, args.webhook_clients, self.inbound),
            ("status", args.status_rate, args.webhook_clients, self.status),
        )
        runs = []
        for path, rate, clients, one in (p for p in paths if p[0] in only):
            count = int(rate * duration)
            if count:
                runs.append(open_loop(rate, count, clients, one, self.sent[path]))
            self.sent[path] += count
        await asyncio.gather(*runs)

    def of(self, path: str) -> list[Sample]:
        return [s for s in self.samples if s.path == path]


def http_client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=60)


# ---------------------------------------------------------------------------- streams


@dataclass
class Seen:
    """First sightings on the streams that parse their events (one per serve)."""

    created: dict[str, float] = field(default_factory=dict)  # provider id -> time
    status: dict[tuple[str, str], float] = field(default_factory=dict)  # (id, status) -> time


@dataclass
class Stream:
    start: int | None = None  # the id `ready` carried
    ids: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # wall clock (time.time) at receipt


FIELD = re.compile(rb"^(id|event|data): ?(.*)$", re.M)


def _record(block: bytes, stream: Stream, seen: Seen | None, moment: float) -> None:
    fields = {name: value for name, value in FIELD.findall(block)}
    if b"id" not in fields:
        return  # a ping
    if fields.get(b"event") == b"ready":
        stream.start = int(fields[b"id"])
        return
    stream.ids.append(int(fields[b"id"]))
    stream.times.append(time.time())
    if seen is None or fields.get(b"event") not in (b"message.created", b"message.status"):
        return
    data = json.loads(fields[b"data"])
    if fields[b"event"] == b"message.created" and data["direction"] == "inbound":
        seen.created.setdefault(data["provider_message_id"], moment)
    elif fields[b"event"] == b"message.status":
        seen.status.setdefault((data["id"], data["status"]), moment)


async def stream_client(base: str, stream: Stream, seen: Seen | None) -> None:
    """One `/api/v1/events` stream over a bare socket (chunked transfer decoded by hand: an
    httpx client per stream would cost the bench's own CPU on the same two cores)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = (
        f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0] or b"chunked" not in head.lower():
            raise RuntimeError(f"stream refused: {head!r}")
        buffer = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            moment = time.perf_counter()
            buffer += chunk[:-2].replace(b"\r\n", b"\n")
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                _record(block, stream, seen, moment)
    finally:
        writer.close()


# ---------------------------------------------------------------------------- database


async def seed_status_targets(url: str, count: int, run: uuid.UUID) -> Work:
    provider_ids = [str(uuid.uuid5(run, f"out:{i}")) for i in range(count)]
    load = apply_bench.Load("status", "plivo", count, Path(), provider_ids)
    ids = await apply_bench.seed_outbound(harness.asyncpg_url(url), load)
    return Work(run, provider_ids, [str(i) for i in ids], 0)


async def backend_cpu(admin: asyncpg.Connection, database: str) -> dict[int, float]:
    pids = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    return {row["pid"]: harness.cpu_seconds(row["pid"]) for row in pids}


class Sampler:
    """Once a second: what the active backends of the database wait on (CPU: nothing). Reads
    the cluster's view from the admin database, so that it adds nothing to the measured one."""

    def __init__(self, admin: asyncpg.Connection, database: str) -> None:
        self.admin, self.database = admin, database
        self.waits: collections.Counter[str] = collections.Counter()
        self.locks: collections.Counter[str] = collections.Counter()  # what Lock waits wait for
        self.samples = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            rows = await self.admin.fetch(
                "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE datname = $1"
                " AND state = 'active'",
                self.database,
            )
            self.samples += 1
            for row in rows:
                name = row["wait_event_type"] and f"{row['wait_event_type']}:{row['wait_event']}"
                self.waits[name or "CPU"] += 1
            for row in await self.admin.fetch(WAITED_LOCKS, self.database):
                self.locks[row["target"]] += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await stop.wait()


# The lock each waiting backend wants. NOTIFY's is an `object` lock on database 0 (class
# pg_database, object 0): PostgreSQL takes it at the pre-commit of every transaction that
# notified and holds it until the commit is flushed, so such commits go one at a time.
WAITED_LOCKS = """
SELECT l.locktype || coalesce(':' || l.classid::regclass::text, '')
       || coalesce(':' || l.relation::regclass::text, '')
       || CASE WHEN l.locktype = 'object' THEN ':db ' || l.database || ' obj ' || l.objid ELSE ''
          END AS target
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND a.datname = $1
"""


@dataclass
class Cpu:
    """CPU seconds per role over an interval; PostgreSQL's backends of one database together
    (a backend that ended meanwhile is not counted: the pools keep theirs)."""

    pids: dict[str, int]
    admin: asyncpg.Connection
    database: str
    before: dict[str, float] = field(default_factory=dict)
    backends: dict[int, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    async def start(self) -> None:
        self.before = {role: harness.cpu_seconds(pid) for role, pid in self.pids.items()}
        self.before["bench"] = time.process_time()
        self.backends = await backend_cpu(self.admin, self.database)
        self.seconds = time.perf_counter()

    async def stop(self) -> None:
        self.seconds = time.perf_counter() - self.seconds
        self.used = {
            role: harness.cpu_seconds(pid) - self.before[role] for role, pid in self.pids.items()
        }
        self.used["bench"] = time.process_time() - self.before["bench"]
        now = await backend_cpu(self.admin, self.database)
        self.used["postgresql"] = sum(cpu - self.backends.get(pid, 0.0) for pid, cpu in now.items())

    def total(self) -> float:
        """Everything but the bench's own load generator and stream readers."""
        return sum(cpu for role, cpu in self.used.items() if role != "bench")


DATABASE_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted")


async def database_counters(admin: asyncpg.Connection, database: str) -> dict[str, int]:
    await asyncio.sleep(1.2)  # backends flush their statistics at most once a second
    row = await admin.fetchrow(
        f"SELECT {', '.join(DATABASE_COUNTERS)} FROM pg_stat_database WHERE datname = $1",
        database,
    )
    return dict(row)


STORED_TABLES = (
    "messages", "message_events", "webhook_journal", "live_events", "conversations",
    "contacts", "webhook_nonces",
)  # fmt: skip


async def storage(connection: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """Per table: (rows, bytes with indexes and TOAST); `*` for every table together."""
    sizes = {}
    for table in STORED_TABLES:
        exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
        if exists:
            rows = await connection.fetchval(f"SELECT count(*) FROM {table}")
            size = await connection.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
            sizes[table] = (rows, size)
    everything = await connection.fetchval(
        "SELECT sum(pg_total_relation_size(relid)) FROM pg_stat_user_tables"
    )
    sizes["*"] = (0, int(everything))
    # A transaction's rows share its now(): the transactions that wrote live events (and
    # so took NOTIFY's commit lock).
    writers = await connection.fetchval("SELECT count(DISTINCT created_at) FROM live_events")
    sizes["event transactions"] = (int(writers), 0)
    return sizes


# ---------------------------------------------------------------------------- fleet run


@dataclass
class FleetResult:
    samples: list[Sample]
    errors: collections.Counter[str]
    seen: Seen
    streams: list[Stream]
    event_times: dict[int, float]  # live event id -> created_at (epoch seconds)
    idle: Cpu  # before the load, streams open
    cpu: Cpu  # from the window's start until everything settled
    counters: dict[str, int]  # pg_stat_database, over the same interval
    waits: collections.Counter[str]
    locks: collections.Counter[str]
    wait_samples: int
    window: float
    settled: float
    problems: list[str]
    statuses: collections.Counter[str]
    journal: collections.Counter[str]
    callbacks: int  # status callbacks the simulator made for the sends (journal rows)
    storage: dict[str, tuple[int, int]]
    profiles: dict[str, Path]
    alone: dict[str, Cpu]  # per path, when measured alone (`--per-path`)


async def open_streams(fleet: Fleet, args: argparse.Namespace) -> tuple[Seen, list[Stream], list]:
    """`--sse-clients` streams, alternately on A and B; the first on each parses its events."""
    seen, streams = Seen(), [Stream() for _ in range(args.sse_clients)]
    readers = [
        asyncio.create_task(stream_client(fleet.servers[n % 2], s, seen if n < 2 else None))
        for n, s in enumerate(streams)
    ]
    async with asyncio.timeout(60):
        while any(s.start is None for s in streams):
            if any(r.done() for r in readers):
                await asyncio.gather(*readers)
            await asyncio.sleep(0.1)
    return seen, streams, readers


async def drive_fleet(fleet: Fleet, work: Work, url: str, args: argparse.Namespace) -> FleetResult:
    seen, streams, readers = await open_streams(fleet, args)
    connection = await asyncpg.connect(url)
    admin = await asyncpg.connect(args.admin_url)
    try:
        idle = Cpu(fleet.pids, admin, DATABASE)
        await idle.start()
        await asyncio.sleep(args.idle_seconds)
        await idle.stop()
        async with http_client(args.send_clients + 2 * args.webhook_clients) as client:
            load = Load(fleet.servers, work, client)
            load.phase = "warmup"
            await load.run(args, args.warmup)
            load.phase = "mixed"
            cpu, sampler = Cpu(fleet.pids, admin, DATABASE), Sampler(admin, DATABASE)
            counters = await database_counters(admin, DATABASE)
            await cpu.start()
            stopped = asyncio.Event()
            sampling = asyncio.create_task(sampler.run(stopped))
            with profiling(fleet, args) as profiles:
                started = time.perf_counter()
                await load.run(args, args.duration)
                window = time.perf_counter() - started
            stopped.set()
            await sampling
            settled, polls = await settle(connection, load.samples, seen, streams, args)
            await cpu.stop()
            after = await database_counters(admin, DATABASE)
            counters = {name: after[name] - counters[name] for name in DATABASE_COUNTERS}
            counters["xact_commit"] -= 3 * polls  # the settle loop's own statements
            alone = await per_path(load, fleet, connection, admin, seen, streams, args)
            problems = await account(connection, client, fleet, load, seen, streams)
        statuses = await send_statuses(connection, load.samples)
        journal = collections.Counter(
            dict(await connection.fetch("SELECT state, count(*) FROM webhook_journal GROUP BY 1"))
        )
        # The journal holds every webhook: ours (inbound, status) and the simulator's.
        callbacks = sum(journal.values()) - sum(s.path != "send" for s in load.samples)
        times = await event_times(connection, streams)
        sizes = await storage(connection)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await connection.close()
        await admin.close()
    return FleetResult(
        load.samples, load.errors, seen, streams, times, idle, cpu, counters, sampler.waits,
        sampler.locks, sampler.samples, window, settled, problems, statuses, journal,
        callbacks, sizes, profiles, alone,
    )  # fmt: skip


async def per_path(
    load: Load,
    fleet: Fleet,
    connection: asyncpg.Connection,
    admin: asyncpg.Connection,
    seen: Seen,
    streams: list[Stream],
    args: argparse.Namespace,
) -> dict[str, Cpu]:
    """`--per-path` seconds of each path alone, at its rate, streams open: its CPU until all
    it caused has settled."""
    alone = {}
    for path in PATHS if args.per_path > 0 else ():
        load.phase = path
        cpu = Cpu(fleet.pids, admin, DATABASE)
        await cpu.start()
        await load.run(args, args.per_path, (path,))
        await settle(connection, load.samples, seen, streams, args)
        await cpu.stop()
        alone[path] = cpu
    return alone


@contextlib.contextmanager
def profiling(fleet: Fleet, args: argparse.Namespace) -> Iterator[dict[str, Path]]:
    if not args.profile:
        yield {}
        return
    folder = Path(args.profile)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {role: folder / f"fleet-{role.replace(' ', '-')}.txt" for role in PROFILED}
    with contextlib.ExitStack() as stack:
        for role, output in outputs.items():
            stack.enter_context(dispatch.profiled(fleet.pids[role], output))
        yield outputs


PROFILED = ("serve A", "worker 1")


async def send_statuses(
    connection: asyncpg.Connection, samples: list[Sample]
) -> collections.Counter[str]:
    ids = [uuid.UUID(s.key) for s in samples if s.path == "send"]
    rows = await connection.fetch(
        "SELECT status, count(*) FROM messages WHERE id = ANY($1::uuid[]) GROUP BY 1", ids
    )
    return collections.Counter({row["status"]: row["count"] for row in rows})


async def last_event_id(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT coalesce(max(id), 0) FROM live_events"))


async def settle(
    connection: asyncpg.Connection,
    samples: list[Sample],
    seen: Seen,
    streams: list[Stream],
    args: argparse.Namespace,
) -> tuple[float, int]:
    """Wait until everything is final and seen (or the patience runs out): the seconds, and
    how many times it looked (three statements each)."""
    started = time.perf_counter()
    deadline = time.monotonic() + args.settle_seconds
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        statuses = await send_statuses(connection, samples)
        sends = sum(1 for s in samples if s.path == "send")
        final = sum(statuses[status] for status in FINAL)
        inbound = all(s.key in seen.created for s in samples if s.path == "inbound")
        status = all((s.key, "delivered") in seen.status for s in samples if s.path == "status")
        pending = await connection.fetchval(
            "SELECT count(*) FROM webhook_journal WHERE state <> 'applied'"
        )
        last = await last_event_id(connection)
        caught_up = all(s.ids and s.ids[-1] >= last for s in streams)
        if final == sends and inbound and status and not pending and caught_up:
            break
        await asyncio.sleep(POLL)
    return time.perf_counter() - started, polls


async def event_times(connection: asyncpg.Connection, streams: list[Stream]) -> dict[int, float]:
    first = min(s.start or 0 for s in streams)
    rows = await connection.fetch(
        "SELECT id, extract(epoch FROM created_at)::float8 AS at FROM live_events WHERE id > $1",
        first,
    )
    return {row["id"]: row["at"] for row in rows}


# ---------------------------------------------------------------------------- accounting


async def account(
    connection: asyncpg.Connection,
    client: httpx.AsyncClient,
    fleet: Fleet,
    load: Load,
    seen: Seen,
    streams: list[Stream],
) -> list[str]:
    """Everything that is not as it should be, one line each (empty: all accounted for)."""
    problems = [f"{count} answers {what}" for what, count in load.errors.items()]
    problems += await account_sends(connection, client, fleet, load.samples)
    problems += await account_inbound(client, fleet, load)
    problems += await account_status(connection, load.samples, seen)
    problems += await account_streams(connection, streams)
    return problems


async def account_sends(
    connection: asyncpg.Connection,
    client: httpx.AsyncClient,
    fleet: Fleet,
    samples: list[Sample],
) -> list[str]:
    statuses = await send_statuses(connection, samples)
    sends = [s.key for s in samples if s.path == "send"]
    problems = []
    open_ = sum(statuses.values()) - sum(statuses[status] for status in FINAL)
    if sum(statuses.values()) != len(sends):
        problems.append(f"{len(sends) - sum(statuses.values())} accepted sends not stored")
    if open_:
        problems.append(f"{open_} sends not final: {dict(statuses)}")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for index, key in enumerate(random.sample(sends, min(50, len(sends)))):
        answer = await client.get(
            f"{fleet.servers[index % 2]}/api/v1/messages/{key}", headers=headers
        )
        if answer.status_code != 200 or answer.json()["status"] not in FINAL:
            problems.append(f"send {key} through the API: {answer.status_code} {answer.text[:200]}")
    return problems


async def account_inbound(client: httpx.AsyncClient, fleet: Fleet, load: Load) -> list[str]:
    """Each inbound read back through the API: its contact's conversation, every page."""
    expected = {s.key for s in load.samples if s.path == "inbound"}
    found: set[str] = set()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    contacts = min(load.work.contacts, len(expected))
    for index in range(contacts):
        base = fleet.servers[index % 2]
        number = "+" + apply_bench.contact_number(index, load.work.contacts)
        listed = await client.get(
            f"{base}/api/v1/conversations", params={"q": number}, headers=headers
        )
        for conversation in listed.raise_for_status().json():
            if conversation["contact_address"] == number:
                found |= await conversation_messages(client, base, conversation["id"], headers)
    missing = expected - found
    return (
        [f"{len(missing)} of {len(expected)} inbound not found through the API"] if missing else []
    )


async def conversation_messages(
    client: httpx.AsyncClient, base: str, conversation: str, headers: dict[str, str]
) -> set[str]:
    found: set[str] = set()
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = await client.get(
            f"{base}/api/v1/conversations/{conversation}/messages", params=params, headers=headers
        )
        page = answer.raise_for_status().json()
        found |= {m["provider_message_id"] for m in page if m["direction"] == "inbound"}
        if len(page) < 100:
            return found
        params["before"] = page[0]["created_at"]


async def account_status(
    connection: asyncpg.Connection, samples: list[Sample], seen: Seen
) -> list[str]:
    keys = [s.key for s in samples if s.path == "status"]
    delivered = await connection.fetchval(
        "SELECT count(*) FROM messages WHERE id = ANY($1::uuid[]) AND status = 'delivered'",
        [uuid.UUID(key) for key in keys],
    )
    problems = []
    if delivered != len(keys):
        problems.append(f"{len(keys) - delivered} of {len(keys)} status webhooks not applied")
    unseen = sum(1 for key in keys if (key, "delivered") not in seen.status)
    if unseen:
        problems.append(f"{unseen} status changes never seen on the streams")
    return problems


async def account_streams(connection: asyncpg.Connection, streams: list[Stream]) -> list[str]:
    """Each stream saw exactly the ids of `live_events` after its `ready`, in order."""
    last = await last_event_id(connection)
    stored = [
        row["id"]
        for row in await connection.fetch(
            "SELECT id FROM live_events WHERE id > $1 AND id <= $2 ORDER BY id",
            min(s.start or 0 for s in streams),
            last,
        )
    ]
    problems = []
    for number, stream in enumerate(streams):
        wanted = [i for i in stored if i > (stream.start or 0)]
        got = [i for i in stream.ids if i <= last]
        if got != wanted:
            missing = len(set(wanted) - set(got))
            problems.append(
                f"stream {number}: {len(got)} events, {len(wanted)} stored after its start "
                f"({missing} missing, {len(got) - len(set(got))} repeated, in order: "
                f"{got == sorted(got)})"
            )
    return problems


# ---------------------------------------------------------------------------- ceiling run


@dataclass
class CeilingResult:
    samples: list[Sample]
    errors: collections.Counter[str]
    cpu: Cpu
    saturated_rate: float | None  # None: no wrk


async def drive_ceiling(
    ceiling: Fleet, work: Work, args: argparse.Namespace, logs: Path
) -> CeilingResult:
    admin = await asyncpg.connect(args.admin_url)
    try:
        async with http_client(args.send_clients + 2 * args.webhook_clients) as client:
            load = Load(ceiling.servers, work, client)
            load.phase = "warmup"
            await load.run(args, min(args.warmup, CEILING_WARMUP_SECONDS))
            load.phase = "mixed"
            cpu = Cpu(ceiling.pids, admin, CEILING_DATABASE)
            await cpu.start()
            await load.run(args, args.ceiling_seconds)
            await cpu.stop()
    finally:
        await admin.close()
    measured = [s for s in load.samples if s.measured]
    return CeilingResult(measured, load.errors, cpu, saturate(ceiling, logs))


CEILING_WARMUP_SECONDS = 3.0
SATURATE_CONNECTIONS = 32  # per app
SATURATE_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"to":"+14155550000","text":"%s ' .. counter .. '"}'
  return wrk.format("POST", "/api/v1/messages", {["Content-Type"] = "application/json"}, body)
end
"""


def saturate(ceiling: Fleet, logs: Path) -> float | None:
    """The ceiling's most requests per second: one wrk per app, connections back to back,
    distinct send-shaped bodies (wrk: a Python client could not keep up with the bare app)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    runs = []
    for n, base in enumerate(ceiling.servers):
        script = logs / f"saturate-{n}.lua"
        script.write_text(SATURATE_LUA % f"saturate {n}")
        command = [wrk, "-t1", f"-c{SATURATE_CONNECTIONS}", f"-d{SATURATE_SECONDS:.0f}s"]
        command += ["-s", str(script), f"{base}/api/v1/messages"]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    rates = []
    for run in runs:
        out, _ = run.communicate(timeout=60)
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if found is None or "Non-2xx" in out:
            raise RuntimeError(f"wrk against the ceiling:\n{out}")
        rates.append(float(found.group(1)))
    return sum(rates)


# ---------------------------------------------------------------------------- report


def latencies(samples: list[Sample], path: str, everything: bool = False) -> list[float]:
    """Accept latencies of `path`, ms: the mixed window's (or, `everything`, all given)."""
    return [
        1000 * (s.answered - s.due)
        for s in samples
        if s.path == path and (everything or s.measured)
    ]


def sightings(result: FleetResult) -> dict[str, list[float]]:
    """End-to-end paths: due time to the first stream showing the outcome, in ms."""
    paths: dict[str, list[float]] = {
        "send to delivered": [],
        "inbound to visible": [],
        "status to visible": [],
    }
    for sample in (s for s in result.samples if s.measured):
        if sample.path == "send":
            path, moment = "send to delivered", result.seen.status.get((sample.key, "delivered"))
        elif sample.path == "inbound":
            path, moment = "inbound to visible", result.seen.created.get(sample.key)
        else:
            path, moment = "status to visible", result.seen.status.get((sample.key, "delivered"))
        if moment is not None:
            paths[path].append(1000 * (moment - sample.due))
    return paths


def delivery(result: FleetResult) -> list[float]:
    """Each stream's receipt of each event minus the event row's created_at, in ms."""
    return [
        1000 * (at - result.event_times[id_])
        for stream in result.streams
        for id_, at in zip(stream.ids, stream.times, strict=True)
        if id_ in result.event_times
    ]


def row(name: str, values: list[float], seconds: float, ceiling: list[float] | None) -> str:
    if not values:
        return f"{name:<26}{0:>7}"
    p95 = percentile(values, 0.95)
    line = (
        f"{name:<26}{len(values):>7}{len(values) / seconds:>9.1f}"
        f"{percentile(values, 0.5):>9.1f}{p95:>9.1f}"
    )
    if ceiling:
        line += f"{percentile(ceiling, 0.95):>11.1f}{p95 / percentile(ceiling, 0.95):>8.1f}x"
    return line


def report(result: FleetResult, ceiling: CeilingResult, args: argparse.Namespace) -> None:
    print()
    print(
        f"fleet: 2 serve --no-workers + 2 worker + simulator on PostgreSQL; per process "
        f"{args.pool_size} engine + {args.api_send_connections} API send connections + 1 "
        f"listener; {os.cpu_count()} CPUs, load average {harness.load_average()}"
    )
    print(
        f"load for {result.window:.1f} s after {args.warmup:.0f} s of warm-up: sends "
        f"{args.send_rate:g}/s ({args.send_clients} clients), inbound {args.inbound_rate:g}/s, "
        f"status {args.status_rate:g}/s ({args.webhook_clients} clients each), "
        f"{args.sse_clients} SSE clients; settled {result.settled:.1f} s after"
    )
    print(
        f"{'path':<26}{'count':>7}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'ceil p95':>11}{'ratio':>9}"
    )
    for path in ("send", "inbound", "status"):
        ours, bare = latencies(result.samples, path), latencies(ceiling.samples, path)
        print(row(f"{path} accept", ours, result.window, bare))
    for path, values in sightings(result).items():
        print(row(path, values, result.window, None))
    print(row("SSE delivery (per event)", delivery(result), result.window, None))
    print_cpu(result, ceiling, args)
    print_alone(result)
    print_database(result)
    print_waits(result)
    print_profiles(result)
    print_accounting(result)


def print_cpu(result: FleetResult, ceiling: CeilingResult, args: argparse.Namespace) -> None:
    measured = [s for s in result.samples if s.measured]
    sends = sum(s.path == "send" for s in measured)
    all_sends = sum(s.path == "send" for s in result.samples) or 1
    requests = len(measured) + sends * result.callbacks / all_sends  # + the simulator's
    cpu, idle = result.cpu, result.idle
    busy = above_idle(cpu, idle)
    roles = ", ".join(
        f"{role} {used:.1f} (idle {idle.used[role] / idle.seconds:.3f}/s)"
        for role, used in cpu.used.items()
    )
    print(f"CPU s over window + settle ({cpu.seconds:.0f} s): {roles}")
    total = ours(busy)
    per_role = ", ".join(f"{role} {1000 * used / len(measured):.2f}" for role, used in busy.items())
    print(
        f"CPU ms per message above idle ({len(measured)} messages: sends, inbound, status): "
        f"{per_role}; textbridge + PostgreSQL {1000 * total / len(measured):.2f} ms = "
        f"{len(measured) / total:.0f} messages per CPU-second; per HTTP request "
        f"{1000 * total / requests:.2f} ms ({requests:.0f} with the simulator's callbacks)"
    )
    bare = ceiling.cpu.total() / len(ceiling.samples)
    offered = args.send_rate + args.inbound_rate + args.status_rate
    saturated = (
        f"saturated (wrk, {SATURATE_CONNECTIONS} connections per app) "
        f"{ceiling.saturated_rate:.0f} requests/s: the offered {offered:g}/s are "
        f"{offered / ceiling.saturated_rate:.2f} of it"
        if ceiling.saturated_rate
        else "not saturated (no wrk)"
    )
    print(
        f"ceiling: {1000 * bare:.2f} ms CPU per request "
        f"({1000 * ceiling.cpu.used['postgresql'] / len(ceiling.samples):.2f} of it "
        f"PostgreSQL); {saturated}; CPU per HTTP request textbridge / ceiling = "
        f"{total / requests / bare:.1f}"
    )
    if ceiling.errors:
        print(f"ceiling errors: {dict(ceiling.errors)}")


def ours(busy: dict[str, float]) -> float:
    """textbridge's processes and PostgreSQL: not the provider (simulator), not the clients."""
    return sum(used for role, used in busy.items() if role not in ("bench", "simulator"))


def above_idle(cpu: Cpu, idle: Cpu) -> dict[str, float]:
    """CPU seconds per role, less what the role spends idle (polls, pings) over as long."""
    return {
        role: used - idle.used.get(role, 0.0) / idle.seconds * cpu.seconds
        for role, used in cpu.used.items()
    }


def print_alone(result: FleetResult) -> None:
    """Per path alone: CPU ms per message by role, and messages per second per core."""
    for path, cpu in result.alone.items():
        samples = [s for s in result.samples if s.phase == path]
        busy = above_idle(cpu, result.idle)
        roles = ", ".join(
            f"{role} {1000 * used / len(samples):.2f}"
            for role, used in busy.items()
            if role != "bench"
        )
        total = ours(busy)
        p95 = percentile(latencies(samples, path, everything=True), 0.95)
        print(
            f"{path} alone ({len(samples)} in {cpu.seconds:.0f} s, accept p95 {p95:.0f} ms): "
            f"CPU ms per message {roles}; textbridge + PostgreSQL "
            f"{1000 * total / len(samples):.2f} ms = {len(samples) / total:.0f} per CPU-second"
        )


def print_database(result: FleetResult) -> None:
    measured = sum(s.measured for s in result.samples)
    counters = ", ".join(f"{k} {v / measured:.1f}" for k, v in result.counters.items())
    print(f"PostgreSQL per message (pg_stat_database, window + settle): {counters}")
    rows = result.storage["messages"][0] or 1
    tables = ", ".join(
        f"{table} {rows_:,} rows {size / max(rows_, 1):.0f} B/row"
        for table, (rows_, size) in result.storage.items()
        if table in STORED_TABLES
    )
    everything = result.storage["*"][1]
    print(
        f"stored: {tables}; all tables {everything / 1e6:.1f} MB = {everything / rows:.0f} B "
        "per message row (indexes and journal included)"
    )


def print_waits(result: FleetResult) -> None:
    total = sum(result.waits.values()) or 1
    busy = total / max(1, result.wait_samples)
    top = ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in result.waits.most_common(6))
    print(f"PostgreSQL active backends: {busy:.1f} on average; {top}")
    locks = ", ".join(f"{name} {n}" for name, n in result.locks.most_common(4))
    writers = result.storage["event transactions"][0]
    messages = len(result.samples)
    print(
        f"lock waits (backend-samples): {locks or 'none'}; transactions that wrote live "
        f"events (each a NOTIFY): {writers} = {writers / messages:.2f} per message"
    )


def print_profiles(result: FleetResult) -> None:
    for role, path in result.profiles.items():
        if path.exists():
            print(f"profile {role} (deepest textbridge frame): {hot(path)}")


def hot(path: Path, top: int = 8) -> str:
    """py-spy raw output (`frame;frame;... count`), the samples not waiting in the event
    loop's select: the share of the deepest textbridge frame of each stack."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        frames = stack.split(";")
        if not number.isdigit() or "selectors.py" in frames[-1]:
            continue
        ours = [f for f in frames if "textbridge/" in f]
        counts[_short(ours[-1]) if ours else "(outside textbridge)"] += int(number)
        total += int(number)
    shares = "; ".join(f"{name} {100 * n / total:.0f}%" for name, n in counts.most_common(top))
    return f"{total} busy samples: {shares}"


def _short(frame: str) -> str:
    """`function (src/textbridge/x/y.py:12)` -> `x/y.py:function`."""
    name, _, where = frame.partition(" (")
    module = where.split("textbridge/", 1)[-1].split(":", 1)[0]
    return f"{module}:{name}"


def print_accounting(result: FleetResult) -> None:
    sends = sum(1 for s in result.samples if s.path == "send")
    inbound = sum(1 for s in result.samples if s.path == "inbound")
    status = sum(1 for s in result.samples if s.path == "status")
    events = sum(len(s.ids) for s in result.streams)
    print(
        f"accounted: {sends} sends {dict(result.statuses)}; {inbound} inbound; {status} "
        f"status webhooks; {len(result.streams)} streams, {events} events received; journal "
        f"{dict(result.journal)}"
    )
    if result.problems:
        print("NOT ACCOUNTED FOR:")
        for problem in result.problems:
            print(f"  {problem}")
    else:
        print("RESULT every message accounted for")


# ---------------------------------------------------------------------------- main


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=5, help="seconds, not in the figures")
    parser.add_argument("--idle-seconds", type=float, default=5, help="idle CPU, measured first")
    parser.add_argument(
        "--per-path", type=float, default=0, help="then seconds of each path alone (CPU per path)"
    )
    parser.add_argument("--send-rate", type=float, default=10, help="API sends per second")
    parser.add_argument("--inbound-rate", type=float, default=5)
    parser.add_argument("--status-rate", type=float, default=5)
    parser.add_argument("--sse-clients", type=int, default=20)
    parser.add_argument("--send-clients", type=int, default=8)
    parser.add_argument("--webhook-clients", type=int, default=4, help="per webhook kind")
    parser.add_argument("--contacts", type=int, default=50, help="distinct inbound senders")
    parser.add_argument("--pool-size", type=int, default=5, help="engine connections each")
    parser.add_argument("--api-send-connections", type=int, default=2)
    parser.add_argument("--settle-seconds", type=float, default=180)
    parser.add_argument("--ceiling-seconds", type=float, default=15)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--profile", help="a folder: py-spy serve A and worker 1")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    if args.sse_clients < 2 or args.duration <= 0:
        parser.error("--sse-clients must be at least 2 (one parsing stream per serve)")
    return args


def main() -> int:
    args = parse()
    logs = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    print(f"logs in {logs}; load average {harness.load_average()}", flush=True)
    run = uuid.uuid4()
    try:
        url = harness.fresh_database(args.admin_url, DATABASE)
        work = asyncio.run(seed_status_targets(url, status_webhooks(args), run))
        work.contacts = args.contacts
        with contextlib.ExitStack() as stack:
            fleet = start_fleet(stack, url, args, logs)
            print("fleet up; load ...", flush=True)
            result = asyncio.run(drive_fleet(fleet, work, url, args))
        harness.drop_database(args.admin_url, DATABASE)
        print("ceiling ...", flush=True)
        ceiling_url = harness.fresh_database(args.admin_url, CEILING_DATABASE)
        with contextlib.ExitStack() as stack:
            ceiling = start_ceiling(stack, ceiling_url, args, logs)
            bare = asyncio.run(drive_ceiling(ceiling, work, args, logs))
    except (
        RuntimeError,
        OSError,
        asyncpg.PostgresError,
        subprocess.CalledProcessError,
        httpx.HTTPError,
    ) as error:
        print(f"\nBENCH FAILED: {error!r}\nlogs: {logs}", file=sys.stderr)
        return 1
    finally:
        harness.drop_database(args.admin_url, DATABASE)
        harness.drop_database(args.admin_url, CEILING_DATABASE)
    report(result, bare, args)
    if not result.problems and not args.keep_logs:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if result.problems else 0


def status_webhooks(args: argparse.Namespace) -> int:
    """How many seeded messages the status webhooks of both runs need (one each)."""
    rate = args.status_rate
    fleet = int(rate * args.warmup) + int(rate * args.duration) + int(rate * args.per_path)
    ceiling = int(rate * min(args.warmup, CEILING_WARMUP_SECONDS)) + int(
        rate * args.ceiling_seconds
    )
    return max(fleet, ceiling)


if __name__ == "__main__":
    sys.exit(main())
