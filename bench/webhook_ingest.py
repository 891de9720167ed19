"""Webhook ingest throughput: signed Plivo status callbacks into a running `textbridge serve`.

    cd /work/main && uv run python bench/webhook_ingest.py [--requests 20000] [--rounds 5]

Needs wrk (`apt-get install -y wrk`) and PostgreSQL at `--admin-url`. What it does, per
round (rounds alternate the order: ceiling first in odd rounds, textbridge first in even
ones; each round's ratio compares its two runs, and the result is the median over rounds):

1. ceiling: drops and recreates the database `textbridge_bench_ceiling`, migrates it
   (`textbridge db upgrade`), starts `bench/ceiling_app.py` (a bare ASGI app doing one asyncpg
   INSERT per request into that database's `webhook_journal`), replays the warm-up requests
   and then the N measured requests with wrk, stops it, and checks the table holds exactly
   warm-up + N rows.
2. textbridge: the same with `textbridge serve` on the database `textbridge_bench` (Plivo
   credentials set, so not in sandbox mode and every signature is verified), the same
   request files, the same wrk settings.

Each request is a distinct Plivo status callback (own MessageUUID, Status among
queued/sent/delivered), form-encoded and fully signed (V3 and V2 headers, own nonce) for
`{public_url}/webhooks/plivo/status`, so textbridge verifies, parses and journals every one.
wrk (one thread, `--connections` connections) sends each measured request once; the rate is
N divided by the wall time from the first request sent to the N-th answer (taken inside
wrk's Lua script); p50/p99 are wrk's latency percentiles over those answers. Any answer
other than 200, any socket error, or a row count other than expected fails the bench.

Also printed, as a steadier diagnostic: the CPU time (user + system, from /proc) the server
process used per measured request. It leaves out PostgreSQL's own CPU, which is much higher
for the ceiling (one commit per request) than for textbridge (one commit per batch).

Absolute figures drift on a shared machine, so the result is the ratio
textbridge / ceiling of requests per second, measured in the same invocation.

The statuses refer to messages textbridge never sent, so its background JournalApplier
postpones each row and retries it with backoff while the bench runs: that CPU is part of
the textbridge figure (in production it would apply them instead, which is not free either).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import asyncpg

from textbridge.providers.plivo.signature import (
    MA_V2_HEADER,
    MA_V3_HEADER,
    V2_HEADER,
    V2_NONCE_HEADER,
    V3_HEADER,
    V3_NONCE_HEADER,
    signed_headers,
)

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "replay.lua"
CEILING_APP = BENCH / "ceiling_app.py"
WEBHOOK_PATH = "/webhooks/plivo/status"
# Order of the fields in a request-file line; must match HEADER_NAMES in replay.lua.
LINE_HEADERS = (V3_HEADER, MA_V3_HEADER, V3_NONCE_HEADER, V2_HEADER, MA_V2_HEADER,
                V2_NONCE_HEADER)
AUTH_ID = "MABENCHXXXXXXXXXXXXX"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # a throwaway bench credential
API_KEY = "tb_bench_key_0123456789abcdefghijklmnop"
STATUSES = ("queued", "sent", "delivered")
TEXTBRIDGE_DB = "textbridge_bench"
CEILING_DB = "textbridge_bench_ceiling"


# ---------------------------------------------------------------------------- requests


def callback_params(index: int, run: uuid.UUID) -> list[tuple[str, str]]:
    """A Plivo status callback as the simulator (and Plivo) sends it, distinct per index."""
    message_uuid = str(uuid.uuid5(run, str(index)))
    status = STATUSES[index % len(STATUSES)]
    queued = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=index)
    stamp = queued.strftime("%Y-%m-%d %H:%M:%S.%f")
    return [
        ("MessageUUID", message_uuid),
        ("To", "14155550199"),
        ("From", "14155550100"),
        ("Type", "sms"),
        ("Status", status),
        ("Units", "1"),
        ("TotalRate", "0.00500"),
        ("TotalAmount", "0.00500"),
        ("MCC", "310"),
        ("MNC", "410"),
        ("ParentMessageUUID", message_uuid),
        ("PartInfo", "1 of 1"),
        ("Sequence", str(STATUSES.index(status) + 1)),
        ("MessageTime", stamp),
        ("QueuedTime", stamp),
        ("SentTime", stamp if status != "queued" else ""),
        ("DeliveryReportTime", stamp if status == "delivered" else ""),
    ]


def write_requests(path: Path, url: str, first: int, count: int, run: uuid.UUID) -> None:
    """`count` signed callbacks, one per line: the six signature headers, then the body."""
    with path.open("w") as out:
        for index in range(first, first + count):
            params = callback_params(index, run)
            headers = signed_headers(AUTH_TOKEN, "POST", url, params)
            body = urlencode(params)
            fields = [headers[name] for name in LINE_HEADERS] + [body]
            assert not any("\t" in f or "\n" in f for f in fields)
            out.write("\t".join(fields) + "\n")


# ---------------------------------------------------------------------------- database


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


def fresh_database(admin_url: str, name: str, textbridge: Path) -> str:
    asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                       f"CREATE DATABASE {name}"))
    url = database_url(admin_url, name)
    subprocess.run([str(textbridge), "db", "upgrade"], check=True, capture_output=True,
                   env={**os.environ, "TEXTBRIDGE_DATABASE_URL": url})
    return url


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# ---------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; log:\n"
                               + log.read_text()[-3000:])
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path,
            cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until it listens, and always stop it (SIGINT, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(port, process, log, timeout=60)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Graceful uvicorn shutdown (in-flight requests finish first), killed if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------- wrk


@dataclass
class Run:
    target: str
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non200: int
    socket_errors: int
    extra_sent: int
    cpu_us: float = 0.0  # server process CPU (user+system) per measured request
    rows: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def replay(wrk: str, port: int, request_file: Path, count: int, connections: int,
           max_seconds: int, workdir: Path) -> dict[str, str]:
    """Send the first `count` requests of `request_file` once each; wrk's figures by name."""
    marker = workdir / "wrk.done"
    marker.unlink(missing_ok=True)
    command = [
        wrk, "-t1", f"-c{connections}", f"-d{max_seconds}s", "--timeout", "60s",
        "-s", str(LUA), f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        "--", str(request_file), str(count), str(marker),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while process.poll() is None and not marker.exists():
            time.sleep(0.01)
        # wrk sleeps for its whole -d; SIGINT makes it print its summary now.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = stdout.decode()
    figures = dict(line[3:].split("=", 1) for line in text.splitlines() if line.startswith("TB "))
    if process.returncode != 0 or "responses" not in figures:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}\n{stderr.decode()}")
    # wrk.thread:stop() takes effect after the current event-loop pass, so an answer or two
    # more may be counted (duplicates re-sent at the end); the time is taken at the count-th.
    if int(figures["responses"]) < count:
        raise RuntimeError(f"wrk got {figures['responses']} answers of {count} within "
                           f"{max_seconds}s:\n{text}")
    return figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(target: str, round_: int, wrk: str, port: int, files: dict[str, Path],
            args: argparse.Namespace, workdir: Path, pid: int) -> Run:
    if args.warmup:
        warm = replay(wrk, port, files["warmup"], args.warmup, args.connections,
                      args.max_seconds, workdir)
        _check_answers(f"{target} warm-up", warm)
    cpu_before = cpu_seconds(pid)
    figures = replay(wrk, port, files["measured"], args.requests, args.connections,
                     args.max_seconds, workdir)
    cpu = cpu_seconds(pid) - cpu_before
    run = Run(
        target=target,
        round=round_,
        requests=args.requests,
        seconds=float(figures["elapsed_s"]),
        p50_ms=int(figures["p50_us"]) / 1000,
        p99_ms=int(figures["p99_us"]) / 1000,
        non200=int(figures["non200"]),
        socket_errors=int(figures["socket_errors"]),
        extra_sent=int(figures["sent"]) - args.requests,
        cpu_us=cpu / args.requests * 1e6,
    )
    print(f"  {target:<10} round {round_}: {run.rate:8.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
          f"p99 {run.p99_ms:6.1f} ms  non-200 {run.non200}  socket errors "
          f"{run.socket_errors}  server CPU {run.cpu_us:.0f} us/request  "
          f"({run.extra_sent} duplicate re-sends at the end)", flush=True)
    _check_answers(target, figures)
    return run


def _check_answers(what: str, figures: dict[str, str]) -> None:
    if int(figures["non200"]) or int(figures["socket_errors"]):
        raise RuntimeError(
            f"{what}: {figures['non200']} answers were not 200 (statuses: "
            f"{figures['non200_statuses'].strip() or '-'}), {figures['socket_errors']} "
            "socket errors"
        )


# ---------------------------------------------------------------------------- rounds


def bench_ceiling(round_: int, wrk: str, files: dict[str, Path], args: argparse.Namespace,
                  workdir: Path, textbridge: Path) -> Run:
    url = fresh_database(args.admin_url, CEILING_DB, textbridge)
    port = free_port()
    env = {**os.environ, "CEILING_DATABASE_URL": url}
    command = [sys.executable, str(CEILING_APP), "--port", str(port)]
    with running(command, env, port, workdir / f"ceiling-{round_}.log", workdir) as server:
        run = measure("ceiling", round_, wrk, port, files, args, workdir, server.pid)
    run.rows = asyncio.run(_count(url, "SELECT count(*) FROM webhook_journal"))
    _check_rows(run, args)
    return run


def bench_textbridge(round_: int, wrk: str, files: dict[str, Path], args: argparse.Namespace,
                     workdir: Path, textbridge: Path, port: int) -> Run:
    url = fresh_database(args.admin_url, TEXTBRIDGE_DB, textbridge)
    env = {
        **os.environ,
        "TEXTBRIDGE_DATABASE_URL": url,
        "TEXTBRIDGE_HOST": "127.0.0.1",
        "TEXTBRIDGE_PORT": str(port),
        "TEXTBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TEXTBRIDGE_API_KEY": API_KEY,
        "TEXTBRIDGE_SECRET_KEY": "bench-session-secret-0123456789abcdef0123456789",
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        # Never called: nothing is sent during the bench.
        "TEXTBRIDGE_PLIVO_API_BASE_URL": "http://127.0.0.1:9/v1/Account",
    }
    if args.log_level:
        env["TEXTBRIDGE_LOG_LEVEL"] = args.log_level
    command = [str(textbridge), "serve"]
    with running(command, env, port, workdir / f"textbridge-{round_}.log",
                 workdir) as server:
        run = measure("textbridge", round_, wrk, port, files, args, workdir, server.pid)
    run.rows = asyncio.run(_count(url, "SELECT count(*) FROM webhook_journal"))
    _check_rows(run, args)
    states = asyncio.run(_count(url, "SELECT count(*) FROM webhook_journal "
                                     "WHERE dedup_key IS NULL OR state <> 'pending'"))
    if states:
        raise RuntimeError(f"textbridge: {states} journal rows are not pending with a key")
    return run


def _check_rows(run: Run, args: argparse.Namespace) -> None:
    expected = args.requests + args.warmup
    if run.rows != expected:
        raise RuntimeError(f"{run.target}: the journal holds {run.rows} rows, expected "
                           f"{expected} ({args.warmup} warm-up + {args.requests} measured)")


def report(runs: list[Run], args: argparse.Namespace) -> None:
    print()
    print(f"{args.requests} measured requests per run (+{args.warmup} warm-up), "
          f"{args.connections} connections, wrk -t1, {args.rounds} round(s)")
    print(f"{'target':<12}{'round':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'non-200':>9}{'rows':>8}{'CPU us/req':>12}")
    for run in runs:
        print(f"{run.target:<12}{run.round:>6}{run.rate:>10.0f}{run.p50_ms:>9.1f}"
              f"{run.p99_ms:>9.1f}{run.non200:>9}{run.rows:>8}{run.cpu_us:>12.0f}")
    ratios = []
    for round_ in range(1, args.rounds + 1):
        ceiling = next(r for r in runs if r.round == round_ and r.target == "ceiling")
        ours = next(r for r in runs if r.round == round_ and r.target == "textbridge")
        ratios.append(ours.rate / ceiling.rate)
    print()
    for target in ("ceiling", "textbridge"):
        mine = [r for r in runs if r.target == target]
        print(f"median {target:<11} {statistics.median(r.rate for r in mine):8.0f} req/s  "
              f"p50 {statistics.median(r.p50_ms for r in mine):6.1f} ms  "
              f"p99 {statistics.median(r.p99_ms for r in mine):6.1f} ms  "
              f"server CPU {statistics.median(r.cpu_us for r in mine):4.0f} us/request")
    print("ratio textbridge/ceiling per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"RATIO (median) = {statistics.median(ratios):.2f}   target >= 0.5")
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def main() -> int:
    parser = argparse.ArgumentParser(description="Webhook ingest throughput vs. a ceiling.")
    parser.add_argument("--requests", type=int, default=20_000,
                        help="distinct measured callbacks per run (default 20000)")
    parser.add_argument("--warmup", type=int, default=2_000,
                        help="distinct warm-up callbacks sent before each measured run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of one ceiling and one textbridge run (order alternates)")
    parser.add_argument("--max-seconds", type=int, default=300,
                        help="give up on a run after this long")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--log-level", default=None,
                        help="TEXTBRIDGE_LOG_LEVEL for serve (default: serve's own, info)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the bench databases and the work folder (server logs)")
    args = parser.parse_args()
    if args.requests < 1 or args.connections < 1 or args.rounds < 1:
        parser.error("--requests, --connections and --rounds must be positive")

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    textbridge = Path(sys.executable).with_name("textbridge")
    workdir = Path(tempfile.mkdtemp(prefix="textbridge-bench-"))
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f", work folder {workdir}",
          flush=True)

    # textbridge verifies against its public URL, so its port is fixed before signing.
    port = free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    run_id = uuid.uuid4()
    files = {"warmup": workdir / "warmup.txt", "measured": workdir / "measured.txt"}
    started = time.monotonic()
    write_requests(files["warmup"], url, 0, args.warmup, run_id)
    write_requests(files["measured"], url, args.warmup, args.requests, run_id)
    print(f"signed {args.warmup + args.requests} distinct callbacks in "
          f"{time.monotonic() - started:.1f}s", flush=True)

    runs: list[Run] = []
    try:
        for round_ in range(1, args.rounds + 1):
            # A B, then B A, ...: a slow drift of the machine does not favour either side.
            ceiling_first = round_ % 2 == 1
            for target in ("ceiling", "textbridge") if ceiling_first else ("textbridge",
                                                                           "ceiling"):
                if target == "ceiling":
                    runs.append(bench_ceiling(round_, wrk, files, args, workdir, textbridge))
                else:
                    runs.append(bench_textbridge(round_, wrk, files, args, workdir,
                                                 textbridge, port))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        print(f"server logs: {workdir}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            for name in (CEILING_DB, TEXTBRIDGE_DB):
                with contextlib.suppress(Exception):
                    drop_database(args.admin_url, name)
    report(runs, args)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
