"""API send throughput: `POST /api/v1/messages` into `textbridge serve`, against a ceiling.

    cd /work/wt/api && uv run python bench/api_send.py [--requests 5000] [--rounds 3]
        [--connections 32] [--database postgresql|sqlite]

Needs wrk (`apt-get install -y wrk`) and PostgreSQL at `--admin-url`. Per round (the order
alternates: ceiling first in odd rounds, textbridge first in even ones; each round's ratio
compares its own two runs; the result is the median over rounds):

1. ceiling: a fresh database `textbridge_bench_api_ceiling_<run id>`, migrated, and
   `bench/ceiling_app.py` (bare ASGI, one asyncpg INSERT per request, autocommit) given the very
   same requests at `/api/v1/messages` (it stores each body as a row and answers 200).
2. textbridge: a fresh database `textbridge_bench_api_<run id>` (or a SQLite file with
   `--database sqlite`; the ceiling stays on PostgreSQL) and `textbridge serve` in sandbox mode
   (no provider credentials: the dispatcher runs and sends every accepted message to the
   simulator mounted in the same process, as a user trying textbridge out would have it).

Each request is what a careful client sends: `Authorization: Bearer <key>`, its own
`Idempotency-Key`, and a JSON body `{"to": ..., "text": ...}` to one of `--recipients`
numbers (default 1 000, so most requests find their contact and conversation already there,
as in real traffic; `--recipients 0` gives every request a new number). An answer other than
202 (200 for the ceiling) fails the bench. The 202 is sent after the commit, with the message's
id: the user then sees it through the API. After the run the bench checks that through the
API (a GET of a sample of the answered ids, and the database holds exactly one outbound message
per idempotency key sent, warm-up included).

wrk (one thread, `--connections` connections, bench/replay.lua) sends each request once; the
rate is N divided by the wall time from the first request to the N-th answer. Printed too: the
server process's CPU time (user + system, from /proc) per measured request; in sandbox mode it
includes the dispatcher's and simulator's work for the messages dispatched during the run. And
the CPU time of the PostgreSQL backends connected to the run's database (PostgreSQL on this
machine; a backend that exits during the run is not counted): on two cores the database's
share bounds the ratio as much as the server's does.

The machine is shared: the ratio textbridge / ceiling from the same invocation is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from webhook_ingest import (
    CEILING_APP,
    LUA,
    cpu_seconds,
    drop_database,
    free_port,
    fresh_database,
    running,
)

TARGET = 0.25  # ratio textbridge / ceiling, from issue 7
API_KEY = "tb_bench_api_key_0123456789abcdefghijklmnop"  # throwaway bench credential
PATH = "/api/v1/messages"
HEADERS = ("Content-Type", "Authorization", "Idempotency-Key")
# Each invocation's own databases (the run id appended): two helpers running this bench at
# once on the shared PostgreSQL dropped each other's database mid-run with fixed names.
TEXTBRIDGE_DB = "textbridge_bench_api_{run}"
CEILING_DB = "textbridge_bench_api_ceiling_{run}"
SAMPLE = 50  # ids read back through the API after each textbridge run


@dataclass
class Run:
    target: str
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    pg_cpu_us: float = 0.0  # the database's backends (its connections' server processes)
    dispatched: int = -1  # messages past `accepted` when the run ended (textbridge only)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def recipient(index: int, recipients: int) -> str:
    number = index % recipients if recipients else index
    return f"+14152{number:06d}"


def write_requests(path: Path, first: int, count: int, run_id: str, recipients: int) -> None:
    """replay.lua's request file: header names, then one request a line (values, body)."""
    with path.open("w") as out:
        out.write("\t".join(HEADERS) + "\n")
        for index in range(first, first + count):
            text = f"bench message {index}"
            body = json.dumps({"to": recipient(index, recipients), "text": text})
            key = f"{run_id}-{index}"
            out.write("\t".join(("application/json", f"Bearer {API_KEY}", key, body)) + "\n")


def replay(
    wrk: str, port: int, request_file: Path, count: int, status: int, args: argparse.Namespace
) -> dict[str, str]:
    marker = request_file.with_suffix(".done")
    marker.unlink(missing_ok=True)
    command = [
        wrk, "-t1", f"-c{args.connections}", f"-d{args.max_seconds}s", "--timeout", "60s",
        "-s", str(LUA), f"http://127.0.0.1:{port}{PATH}",
        "--", str(request_file), str(count), str(marker), str(status),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while process.poll() is None and not marker.exists():
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # wrk prints its summary at once
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = stdout.decode()
    figures = dict(line[3:].split("=", 1) for line in text.splitlines() if line.startswith("TB "))
    if process.returncode != 0 or int(figures.get("responses", "0")) < count:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}\n{stderr.decode()}")
    if int(figures["non200"]) or int(figures["socket_errors"]):
        raise RuntimeError(
            f"{figures['non200']} answers were not {status} (statuses: "
            f"{figures['non200_statuses'].strip()}), {figures['socket_errors']} socket errors"
        )
    return figures


def measure(
    target: str,
    round_: int,
    wrk: str,
    port: int,
    pid: int,
    files: dict[str, Path],
    args,
    database_url: str,
    profile: Path | None = None,
) -> Run:
    status = 202 if target == "textbridge" else 200
    if args.warmup:
        replay(wrk, port, files["warmup"], args.warmup, status, args)
    # The profile covers the measured requests only (the warm-up makes every conversation).
    profiler = start_profiler(pid, profile, native=args.profile == "native") if profile else None
    before = cpu_seconds(pid)
    backends_before = backend_cpu(database_url)
    figures = replay(wrk, port, files["measured"], args.requests, status, args)
    cpu = cpu_seconds(pid) - before
    backends = backend_cpu(database_url)
    pg_cpu = sum(seconds - backends_before.get(pid_, 0.0) for pid_, seconds in backends.items())
    by_name = backend_names(database_url)
    shares: dict[str, float] = {}
    for pid_, seconds in backends.items():
        name = by_name.get(pid_, "?") or "(none)"
        shares[name] = shares.get(name, 0.0) + seconds - backends_before.get(pid_, 0.0)
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=120)
        print(f"  profile: {profile}")
    run = Run(
        target=target,
        round=round_,
        requests=args.requests,
        seconds=float(figures["elapsed_s"]),
        p50_ms=int(figures["p50_us"]) / 1000,
        p99_ms=int(figures["p99_us"]) / 1000,
        cpu_us=cpu / args.requests * 1e6,
        pg_cpu_us=pg_cpu / args.requests * 1e6,
    )
    print(
        f"  {target:<10} round {round_}: {run.rate:7.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
        f"p99 {run.p99_ms:6.1f} ms  server CPU {run.cpu_us:6.0f} us/request  "
        f"PostgreSQL CPU {run.pg_cpu_us:5.0f} us/request",
        flush=True,
    )
    print(
        "             PostgreSQL CPU by application_name: "
        + ", ".join(
            f"{name} {seconds / args.requests * 1e6:.0f} us"
            for name, seconds in sorted(shares.items())
        ),
        flush=True,
    )
    return run


def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the database (PostgreSQL
    on this machine; empty for SQLite). A backend that exits during the run is not counted."""
    if database_url.startswith("sqlite"):
        return {}
    sql = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    seconds = {}
    for row in asyncio.run(_fetch(database_url, sql)):
        with contextlib.suppress(OSError, ValueError):
            seconds[row["pid"]] = cpu_seconds(row["pid"])
    return seconds


def backend_names(database_url: str) -> dict[int, str]:
    """Each backend's application_name (which of serve's pools, the listener, ...)."""
    if database_url.startswith("sqlite"):
        return {}
    sql = "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()"
    return {row["pid"]: row["application_name"] for row in asyncio.run(_fetch(database_url, sql))}


async def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


def bench_ceiling(round_: int, wrk: str, files: dict[str, Path], args, workdir: Path) -> Run:
    url = fresh_database(args.admin_url, CEILING_DB.format(run=args.run), args.textbridge)
    port = free_port()
    env = {**os.environ, "CEILING_DATABASE_URL": url}
    command = [sys.executable, str(CEILING_APP), "--port", str(port)]
    with running(command, env, port, workdir / f"ceiling-{round_}.log", workdir) as server:
        run = measure("ceiling", round_, wrk, port, server.pid, files, args, url)
    rows = asyncio.run(_fetch(url, "SELECT count(*) AS n FROM webhook_journal"))[0]["n"]
    if rows != args.warmup + args.requests:
        raise RuntimeError(f"ceiling stored {rows} rows, {args.warmup + args.requests} sent")
    return run


def textbridge_env(args, port: int, workdir: Path) -> tuple[dict[str, str], str]:
    if args.database == "sqlite":
        path = workdir / "bench.db"
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
        subprocess.run(
            [str(args.textbridge), "db", "upgrade"],
            check=True,
            capture_output=True,
            env={**os.environ, "TEXTBRIDGE_DATABASE_URL": url},
        )
    else:
        url = fresh_database(args.admin_url, TEXTBRIDGE_DB.format(run=args.run), args.textbridge)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PLIVO_", "VONAGE_", "TEXTBRIDGE_"))  # sandbox mode
    }
    env.update(
        TEXTBRIDGE_DATABASE_URL=url,
        TEXTBRIDGE_HOST="127.0.0.1",
        TEXTBRIDGE_PORT=str(port),
        TEXTBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        TEXTBRIDGE_API_KEY=API_KEY,
        TEXTBRIDGE_API_RATE_PER_SECOND="0",  # the bench measures the engine, not the limit
        TEXTBRIDGE_SECRET_KEY="bench-session-secret-0123456789abcdef0123456789",
    )
    if args.log_level:
        env["TEXTBRIDGE_LOG_LEVEL"] = args.log_level
    return env, url


def bench_textbridge(round_: int, wrk: str, files: dict[str, Path], args, workdir: Path) -> Run:
    port = free_port()
    env, url = textbridge_env(args, port, workdir)
    command = serve_command(args)
    log = workdir / f"textbridge-{round_}.log"
    with running(command, env, port, log, workdir) as server:
        profile = workdir / f"profile-{round_}.txt" if args.profile else None
        run = measure("textbridge", round_, wrk, port, server.pid, files, args, url, profile)
        run.dispatched = check_visible(port, url, args)
    return run


# `serve --no-workers` (HTTP only: the API, webhooks, the event relay and its listener; the
# dispatcher, applier and media fetcher belong to `textbridge worker` processes). The CLI refuses
# it in sandbox mode and on SQLite (one process must do everything there, since the simulator's
# credentials and SQLite's single writer cannot be shared): the bench runs the same command with
# that refusal lifted, so that it measures the accept path alone, and nothing dispatches.
HTTP_ONLY = (
    "import sys; import textbridge.cli.serve as serve; "
    "serve.refuse_single_process = lambda current, command: None; "
    "from textbridge.cli import app; sys.argv = ['textbridge', 'serve', '--no-workers']; app()"
)


def serve_command(args) -> list[str]:
    if args.dispatch == "in-process":
        return [str(args.textbridge), "serve"]
    return [sys.executable, "-c", HTTP_ONLY]


def start_profiler(pid: int, out: Path, native: bool) -> subprocess.Popen[bytes]:
    # Collapsed stacks (one line per stack and its count): greppable, and flamegraph.pl or
    # speedscope draws them.
    command = ["py-spy", "record", "--pid", str(pid), "-o", str(out), "--format", "raw"]
    if native:
        command.append("--native")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def check_visible(port: int, url: str, args) -> int:
    """Every key sent is one message, visible through the API. Returns how many of a sample
    of them the dispatcher had moved past `accepted` when the run ended."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    sent = args.warmup + args.requests
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as api:
        moved = 0
        for index in random.sample(range(sent), min(SAMPLE, sent)):
            # The same key and body answers the stored message (idempotent replay).
            answer = api.post(
                PATH,
                json={"to": recipient(index, args.recipients), "text": f"bench message {index}"},
                headers={"Idempotency-Key": f"{args.run}-{index}"},
            )
            if answer.status_code != 202:
                raise RuntimeError(f"replay of {index}: {answer.status_code} {answer.text[:200]}")
            shown = api.get(answer.headers["Location"])
            shown.raise_for_status()
            moved += shown.json()["status"] != "accepted"
    count = stored_messages(url)
    if count != sent:
        raise RuntimeError(f"textbridge stored {count} messages, {sent} keys were sent")
    return moved


def stored_messages(url: str) -> int:
    sql = "SELECT count(*) AS n FROM messages WHERE direction = 'outbound'"
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.split("///", 1)[1])) as db:
            return int(db.execute(sql).fetchone()[0])
    return int(asyncio.run(_fetch(url, sql))[0]["n"])


def report(runs: list[Run], args) -> None:
    print()
    print(
        f"{args.requests} measured requests per run (+{args.warmup} warm-up), "
        f"{args.connections} connections, wrk -t1, {args.rounds} round(s), textbridge on "
        f"{args.database} in sandbox mode, dispatcher {args.dispatch}, "
        f"{args.recipients or 'all new'} recipients"
    )
    ratios = []
    for round_ in range(1, args.rounds + 1):
        pair = {r.target: r for r in runs if r.round == round_}
        ratios.append(pair["textbridge"].rate / pair["ceiling"].rate)
    for target in ("ceiling", "textbridge"):
        of = [r for r in runs if r.target == target]
        print(
            f"median {target:<11} {statistics.median(r.rate for r in of):7.0f} req/s  "
            f"p50 {statistics.median(r.p50_ms for r in of):6.1f} ms  "
            f"p99 {statistics.median(r.p99_ms for r in of):6.1f} ms  "
            f"server CPU {statistics.median(r.cpu_us for r in of):5.0f} us/request  "
            f"PostgreSQL CPU {statistics.median(r.pg_cpu_us for r in of):5.0f} us/request"
        )
    dispatched = [r.dispatched for r in runs if r.target == "textbridge"]
    print(f"dispatched at the end, of {SAMPLE} sampled messages per run: {dispatched}")
    print("ratio textbridge/ceiling per round: " + ", ".join(f"{r:.3f}" for r in ratios))
    ratio = statistics.median(ratios)
    verdict = "met" if ratio >= TARGET else "NOT MET"
    print(f"API SEND RATIO (median) = {ratio:.3f}   target >= {TARGET}: {verdict}")
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="POST /api/v1/messages vs. a ceiling.")
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--recipients", type=int, default=1000, help="distinct numbers (0: each request a new one)"
    )
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--dispatch",
        choices=("elsewhere", "in-process"),
        default="elsewhere",
        help="elsewhere: serve answers HTTP only (`serve --no-workers`); in-process: plain "
        "`serve`, its dispatcher sending every accepted message to the in-process simulator",
    )
    parser.add_argument("--max-seconds", type=int, default=600)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--log-level", default=None, help="TEXTBRIDGE_LOG_LEVEL for serve")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="python",
        choices=("python", "native"),
        help="py-spy record serve's measured run (uv run --with py-spy ...); native: C frames too",
    )
    parser.add_argument("--keep", action="store_true", help="keep databases and work folder")
    args = parser.parse_args()
    if min(args.requests, args.connections, args.rounds) < 1 or args.warmup < 0:
        parser.error("--requests, --connections and --rounds must be positive")
    args.textbridge = Path(sys.executable).with_name("textbridge")
    args.run = uuid.uuid4().hex[:12]
    return args


def main() -> int:
    args = parse()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="textbridge-api-bench-"))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f", work folder {workdir}",
        flush=True,
    )
    files = {"warmup": workdir / "warmup.txt", "measured": workdir / "measured.txt"}
    write_requests(files["warmup"], 0, args.warmup, args.run, args.recipients)
    write_requests(files["measured"], args.warmup, args.requests, args.run, args.recipients)
    runs: list[Run] = []
    try:
        for round_ in range(1, args.rounds + 1):
            order = ("ceiling", "textbridge") if round_ % 2 else ("textbridge", "ceiling")
            for target in order:
                bench = bench_ceiling if target == "ceiling" else bench_textbridge
                runs.append(bench(round_, wrk, files, args, workdir))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        print(f"server logs: {workdir}", file=sys.stderr)
        return 1
    finally:
        kept = [name.format(run=args.run) for name in (CEILING_DB, TEXTBRIDGE_DB)]
        if args.keep:
            print(f"kept databases: {' '.join(kept)}, work folder {workdir}", flush=True)
        else:
            for name in kept:
                with contextlib.suppress(Exception):
                    drop_database(args.admin_url, name)
    report(runs, args)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
