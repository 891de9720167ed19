"""Dispatch throughput against the simulator's bare accept rate, and the sandbox end to end.

    uv run python bench/dispatch.py [--messages 3000] [--sandbox-messages 600]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

1. The simulator runs in its own process (`textbridge simulator`, callbacks every 0.05 s).
2. Ceiling: a plain httpx client (32 concurrent requests, one pooled client) posts N Plivo
   sends to it, each a distinct recipient; the rate is N over the wall time.
3. Dispatch, PostgreSQL (`textbridge_bench_engine`): one message is accepted the ordinary
   way and cloned in one INSERT into N messages to distinct recipients, none due; then K
   dispatcher processes (K = 1, then 2) start, and one UPDATE makes everything due at t0.
   Printed: the rate from t0 until all N are `submitted` or further (what the simulator
   accepted: the figure compared with the ceiling), and the CPU time of each process (user +
   system, /proc) over the run, with the whole machine's busy cores. Two modes: "dispatch
   only" turns the simulator's status callbacks off (`lost_callbacks: 1`), so that the
   simulator does for each send what it does in the ceiling (sends with no callback URL: it
   accepts and moves the status on, nothing more) and the dispatchers alone are measured;
   "with callbacks" sends them to textbridge (`public_url`), which then also ingests and
   applies them, and the rate until all are `delivered` is printed too. (Until 1 December
   2026 the dispatch-only callbacks went to a sink in this process: the simulator then spent
   about 7 ms of CPU per message calling it back, five to six times its accept work in the
   ceiling, on the same two cores as the dispatcher: RESULTS, "Dispatch without the
   callbacks' confound".) The dispatchers are
   `textbridge serve` processes (the HTTP role's event relay included); `--worker` runs the
   dispatch-only rows with `textbridge worker` instead (no HTTP role: the deployment the
   issue names). "With callbacks" needs `serve` (the callbacks come to the same process).
   The governor is off (`TEXTBRIDGE_GOVERNOR=false`).
4. Sandbox end to end (one `serve` on SQLite, sandbox mode, its simulator in-process): 32 API
   clients post M messages; the time runs from the first request until the event stream
   (`/api/v1/events`, opened before) has shown every one `delivered`. Compared with the
   same ceiling (the simulator's bare accept rate) as the issue does.

The machine is shared: absolute figures drift; the ratios are taken within one invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
from harness import (
    cpu_seconds,
    drop_database,
    free_port,
    machine_busy_seconds,
    stop,
    textbridge_binary,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATABASE = "textbridge_bench_engine"  # --database: one of your own beside others' runs
AUTH_ID = "MABENCHENGINEXXXXXXX"
AUTH_TOKEN = "bench-engine-token-0123456789"  # a throwaway bench credential
API_KEY = "tb_bench_engine_key_0123456789abcdefghij"
FROM_NUMBER = "+14155550100"
CLIENTS = 32
WORKER_READY_LINE = "textbridge worker: running"  # textbridge.cli.worker.READY_LINE
TARGET_ONE = 0.5
DISPATCH_CONCURRENCY = 16  # the default of TEXTBRIDGE_DISPATCH_CONCURRENCY
TARGET_SANDBOX = 1 / 20


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def wait_for_line(log: Path, line: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while line not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"no {line!r} in {log}")
        time.sleep(0.1)


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], port: int | None, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`port` None: a `textbridge worker`, ready when its log says so."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            if port is None:
                wait_for_line(log, WORKER_READY_LINE, process)
            else:
                wait_for_port(port, process)
            yield process
        finally:
            stop(process)


AREAS = ("415", "212", "646", "312", "617", "303", "206", "404")


def recipient(index: int) -> str:
    """A distinct valid US number per index (up to 80 000)."""
    area, line = divmod(index, 10_000)
    return f"+1{AREAS[area]}555{line:04d}"


# ---------------------------------------------------------------------------- ceiling


async def ceiling(simulator: str, count: int, clients: int = CLIENTS) -> float:
    """Plivo sends posted by a plain httpx client: the simulator's bare accept rate."""
    url = f"{simulator}/v1/Account/{AUTH_ID}/Message/"
    auth = httpx.BasicAuth(AUTH_ID, AUTH_TOKEN)
    queue = iter(range(count))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(auth=auth, limits=limits, timeout=30) as client:

        async def one_client() -> None:
            for index in queue:
                body = {"src": FROM_NUMBER[1:], "dst": recipient(index)[1:], "text": "bench"}
                response = await client.post(url, json=body)
                assert response.status_code == 202, response.text

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return count / (time.perf_counter() - started)


# ---------------------------------------------------------------------------- dispatch


async def fresh_database(admin_url: str, database: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {database}")
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + f"/{database}"


def provider_env(url: str, simulator: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "TEXTBRIDGE_DATABASE_URL": url,
        "TEXTBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TEXTBRIDGE_PORT": str(port),
        "TEXTBRIDGE_API_KEY": API_KEY,
        "TEXTBRIDGE_API_RATE_PER_SECOND": "0",  # the per-key API limit is not measured here
        "TEXTBRIDGE_LOG_LEVEL": "warning",
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "PLIVO_SMS_FROM_NUMBER": FROM_NUMBER,
        "TEXTBRIDGE_PLIVO_API_BASE_URL": f"{simulator}/v1/Account",
        "TEXTBRIDGE_GOVERNOR": "false",  # the issue measures dispatch with the governor off
    }


async def enqueue(env: dict[str, str], count: int) -> None:
    """Accept one message the ordinary way (contact, conversation, sender), then clone it in
    one INSERT into `count` messages to distinct recipients, none due for a day. Dispatch
    reads only the message row, so the clones share the first one's conversation."""
    from textbridge.bootstrap import bootstrap
    from textbridge.config import load_settings
    from textbridge.messaging import outbound
    from textbridge.runtime import build_runtime

    settings = load_settings(
        database_url=env["TEXTBRIDGE_DATABASE_URL"],
        public_url=env["TEXTBRIDGE_PUBLIC_URL"],
        plivo_auth_id=AUTH_ID,
        plivo_auth_token=AUTH_TOKEN,
        plivo_sms_from_number=FROM_NUMBER,
        plivo_api_base_url=env["TEXTBRIDGE_PLIVO_API_BASE_URL"],
    )
    runtime = build_runtime(settings)
    try:
        await bootstrap(runtime)
        async with runtime.unit_of_work() as uow:
            request = outbound.SendRequest(to=recipient(0), text="bench template")
            template = await outbound.send(uow, request, None, runtime.providers)
            await uow.commit()
    finally:
        await runtime.aclose()
    connection = await asyncpg.connect(plain_url(env["TEXTBRIDGE_DATABASE_URL"]))
    try:
        columns = [
            row["column_name"]
            for row in await connection.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'messages' ORDER BY ordinal_position"
            )
        ]
        cloned = {
            "id": "gen_random_uuid()",
            "to_address": "'+1' || (4150000000 + g)::text",
            "body": "'bench ' || g",
            "next_attempt_at": "now() + interval '1 day'",
            "created_at": "clock_timestamp() + g * interval '1 microsecond'",
            "updated_at": "now()",
        }
        select = ", ".join(cloned.get(column, column) for column in columns)
        await connection.execute(
            f"INSERT INTO messages ({', '.join(columns)}) SELECT {select} "
            "FROM messages, generate_series(1, $1) AS g WHERE messages.id = $2",
            count - 1,
            template.id,
        )
        await connection.execute(
            "UPDATE messages SET next_attempt_at = now() + interval '1 day' WHERE id = $1",
            template.id,
        )
    finally:
        await connection.close()


def plain_url(url: str) -> str:
    return url.replace("+asyncpg", "")


async def count_where(url: str, condition: str) -> int:
    connection = await asyncpg.connect(plain_url(url))
    try:
        return await count_on(connection, condition)
    finally:
        await connection.close()


async def count_on(connection: asyncpg.Connection, condition: str) -> int:
    return int(await connection.fetchval(f"SELECT count(*) FROM messages WHERE {condition}"))


async def release(url: str) -> None:
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute("UPDATE messages SET next_attempt_at = now() - interval '1 s'")
    finally:
        await connection.close()


async def wait_count(url: str, condition: str, count: int, timeout: float = 600) -> float:
    """Polls on one connection: a new one per poll forks a PostgreSQL backend twenty times a
    second, CPU the machine's two cores then lack for the processes measured."""
    deadline = time.monotonic() + timeout
    connection = await asyncpg.connect(plain_url(url))
    try:
        while await count_on(connection, condition) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not all messages reached {condition} within {timeout}s")
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return time.perf_counter()


async def wait_delivered(url: str, count: int, patience: float = 15) -> tuple[float, int]:
    """When all `count` are delivered, or when no more arrive for `patience` seconds (a
    callback the simulator gave up on): that moment and how many were delivered."""
    seen, last_change = -1, time.monotonic()
    moment = time.perf_counter()
    connection = await asyncpg.connect(plain_url(url))
    try:
        while True:
            delivered = await count_on(connection, "status = 'delivered'")
            if delivered != seen:
                seen, last_change, moment = delivered, time.monotonic(), time.perf_counter()
            if delivered >= count or time.monotonic() - last_change > patience:
                return moment, delivered
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


@contextlib.contextmanager
def profiled(pid: int, output: Path) -> Iterator[None]:
    """py-spy samples `pid` while the block runs (raw, collapsed stacks) into `output`."""
    command = ["uv", "run", "--with", "py-spy", "py-spy", "record", "--pid", str(pid)]
    command += ["--format", "raw", "--output", str(output), "--nonblocking", "--rate", "50"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    time.sleep(3)  # py-spy attaches
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def run_dispatch(
    args: argparse.Namespace, simulator: str, workers: int, logs: Path, callbacks: bool
) -> dict:
    url = asyncio.run(fresh_database(args.admin_url, args.database))
    url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    binary = textbridge_binary()
    ports = [free_port() for _ in range(workers)]
    as_worker = args.worker and not callbacks  # callbacks need serve's HTTP
    env0 = provider_env(url, simulator, ports[0])
    subprocess.run([binary, "db", "upgrade"], env=env0, check=True, capture_output=True)
    asyncio.run(enqueue(env0, args.messages))
    with contextlib.ExitStack() as stack:
        processes = [
            stack.enter_context(
                running(
                    [binary, "worker" if as_worker else "serve"],
                    provider_env(url, simulator, port),
                    None if as_worker else port,
                    logs / f"worker{workers}-{n}-{'tb' if callbacks else 'lost'}.log",
                )
            )
            for n, port in enumerate(ports)
        ]
        if args.profile:
            for n, process in enumerate(processes):
                stack.enter_context(profiled(process.pid, logs / f"profile{workers}-{n}.txt"))
        cpu_before = [cpu_seconds(process.pid) for process in processes]
        own_before, busy_before = cpu_seconds(os.getpid()), machine_busy_seconds()
        asyncio.run(release(url))
        started = time.perf_counter()
        submitted = asyncio.run(
            wait_count(url, "status NOT IN ('accepted', 'sending')", args.messages)
        )
        delivered, settled = (
            asyncio.run(wait_delivered(url, args.messages)) if callbacks else (submitted, 0)
        )
        cpu = [cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True)]
        own, busy = cpu_seconds(os.getpid()) - own_before, machine_busy_seconds() - busy_before
        wall = time.perf_counter() - started
    return {
        "machine_busy": busy / wall,  # cores busy on average, of os.cpu_count()
        "bench_cpu_seconds": own,  # this process: the polls
        "workers": workers,
        "submitted_rate": args.messages / (submitted - started),
        "delivered_rate": settled / (delivered - started),
        "delivered": settled,
        "unknown": asyncio.run(count_where(url, "status = 'unknown'")),
        "cpu_seconds": cpu,
        "cpu_ms_per_message": 1000 * sum(cpu) / args.messages,
    }


# ---------------------------------------------------------------------------- sandbox


def run_sandbox(args: argparse.Namespace, logs: Path, workdir: Path) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "TEXTBRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/sandbox.db",
        "TEXTBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TEXTBRIDGE_PORT": str(port),
        "TEXTBRIDGE_API_KEY": API_KEY,
        "TEXTBRIDGE_API_RATE_PER_SECOND": "0",  # the per-key API limit is not measured here
        "TEXTBRIDGE_LOG_LEVEL": "warning",
    }
    for name in ("PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "VONAGE_APPLICATION_ID"):
        env.pop(name, None)
    binary = textbridge_binary()
    subprocess.run([binary, "db", "upgrade"], env=env, check=True, capture_output=True)
    with running([binary, "serve"], env, port, logs / "sandbox.log") as process:
        before = cpu_seconds(process.pid)
        seconds = asyncio.run(sandbox_send(f"http://127.0.0.1:{port}", args.sandbox_messages))
        cpu = cpu_seconds(process.pid) - before
    return {
        "rate": args.sandbox_messages / seconds,
        "cpu_ms_per_message": 1000 * cpu / args.sandbox_messages,
    }


async def sandbox_send(base: str, count: int) -> float:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    delivered: set[str] = set()
    all_delivered = asyncio.Event()
    stream_ready = asyncio.Event()
    timeout = httpx.Timeout(30, read=None)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as client:

        async def watch() -> None:
            async with client.stream("GET", "/api/v1/events") as response:
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                        stream_ready.set()
                    elif line.startswith("data:") and event == "message.status":
                        data = json.loads(line.split(":", 1)[1])
                        if data.get("status") == "delivered":
                            delivered.add(data["id"])
                            if len(delivered) >= count:
                                all_delivered.set()
                                return

        watcher = asyncio.create_task(watch())
        await asyncio.wait_for(stream_ready.wait(), 30)
        queue = iter(range(count))

        async def one_client() -> None:
            for index in queue:
                body = {"to": recipient(index), "text": f"sandbox {index}"}
                response = await client.post("/api/v1/messages", json=body)
                assert response.status_code == 202, response.text

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
        await asyncio.wait_for(all_delivered.wait(), 600)
        seconds = time.perf_counter() - started
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return seconds


# ---------------------------------------------------------------------------- main


def report(mode: str, result: dict, bare: float) -> None:
    delivered = (
        f", delivered {result['delivered_rate']:.0f}/s ({result['delivered']} delivered)"
        if result["delivered"]
        else ""
    )
    print(
        f"{mode}, {result['workers']} dispatcher process(es): submitted "
        f"{result['submitted_rate']:.0f}/s ({result['submitted_rate'] / bare:.2f} of the "
        f"ceiling){delivered}, {result['unknown']} unknown; CPU s per process "
        f"{[round(c, 2) for c in result['cpu_seconds']]} "
        f"({result['cpu_ms_per_message']:.2f} ms/message), simulator "
        f"{result['simulator_cpu_seconds']:.2f} s, this bench (polls) "
        f"{result['bench_cpu_seconds']:.2f} s; machine {result['machine_busy']:.2f} of "
        f"{os.cpu_count()} cores busy",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sandbox-messages", type=int, default=600)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default=DATABASE, help="PostgreSQL database to (re)create")
    parser.add_argument("--skip-sandbox", action="store_true")
    parser.add_argument("--skip-callbacks", action="store_true", help="dispatch only")
    parser.add_argument(
        "--worker", action="store_true", help="dispatch only: `textbridge worker`, not `serve`"
    )
    parser.add_argument("--one-process", action="store_true", help="no run with two processes")
    parser.add_argument("--profile", action="store_true", help="py-spy each dispatcher process")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    logs = workdir
    sim_port = free_port()
    simulator = f"http://127.0.0.1:{sim_port}"
    sim_env = {**os.environ, "PLIVO_AUTH_ID": AUTH_ID, "PLIVO_AUTH_TOKEN": AUTH_TOKEN}
    sim_command = [textbridge_binary(), "simulator", "--port", str(sim_port)]
    print(f"logs in {workdir}", flush=True)
    with running(sim_command, sim_env, sim_port, logs / "simulator.log") as sim:
        reset = httpx.post(f"{simulator}/control/reset")
        assert reset.status_code == 200, reset.text
        sim_cpu = cpu_seconds(sim.pid)
        bare = asyncio.run(ceiling(simulator, args.messages))
        print(f"ceiling: simulator bare accept rate {bare:.0f}/s "
              f"(simulator CPU {1000 * (cpu_seconds(sim.pid) - sim_cpu) / args.messages:.2f} "
              "ms/message)", flush=True)  # fmt: skip
        # The dispatcher sends `TEXTBRIDGE_DISPATCH_CONCURRENCY` at a time: is 32 a fair ceiling?
        concurrency = int(os.environ.get("TEXTBRIDGE_DISPATCH_CONCURRENCY", DISPATCH_CONCURRENCY))
        at_concurrency = asyncio.run(ceiling(simulator, args.messages, concurrency))
        print(f"(for reference, not the ceiling: {concurrency} concurrent requests "
              f"{at_concurrency:.0f}/s)", flush=True)  # fmt: skip
        results = {}
        modes = (("dispatch only", False), ("with callbacks", True))
        for mode, callbacks in modes[: 1 if args.skip_callbacks else 2]:
            for workers in (1,) if args.one_process else (1, 2):
                httpx.post(f"{simulator}/control/reset")
                sim_cpu = cpu_seconds(sim.pid)
                if not callbacks:  # the simulator's work per send is then the ceiling's
                    lost = httpx.put(f"{simulator}/control/faults", json={"lost_callbacks": 1})
                    assert lost.status_code == 200, lost.text
                result = run_dispatch(args, simulator, workers, logs, callbacks)
                result["simulator_cpu_seconds"] = cpu_seconds(sim.pid) - sim_cpu
                results[mode, workers] = result
                report(mode, result, bare)
    for mode in ("dispatch only", "with callbacks")[: 1 if args.skip_callbacks else 2]:
        one, two = results[mode, 1], results.get((mode, 2))
        scaling = (
            f"; two / one = {two['submitted_rate'] / one['submitted_rate']:.2f} (target >= 1.0)"
            if two
            else ""
        )
        print(
            f"RESULT {mode}: one process {one['submitted_rate'] / bare:.2f} of the ceiling "
            f"(target >= {TARGET_ONE}){scaling}"
        )
    if not args.skip_sandbox:
        sandbox = run_sandbox(args, logs, workdir)
        print(
            f"RESULT sandbox end to end (SQLite): {sandbox['rate']:.1f} delivered/s = "
            f"1/{bare / sandbox['rate']:.0f} of the ceiling (target >= 1/20); serve CPU "
            f"{sandbox['cpu_ms_per_message']:.1f} ms/message"
        )
    drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
