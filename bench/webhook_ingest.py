"""Webhook ingest throughput: signed Plivo and Vonage status webhooks into `textbridge serve`.

    cd /work/main && uv run python bench/webhook_ingest.py [--provider plivo|vonage|both]
        [--requests 20000] [--rounds 5]

Needs wrk (`apt-get install -y wrk`) and PostgreSQL at `--admin-url`. What it does, per round
and per provider (rounds alternate the order: ceiling first in odd rounds, textbridge first
in even ones; each round's ratio compares its two runs, and the result is, per provider, the
median over rounds):

1. ceiling: drops and recreates the database `textbridge_bench_ceiling`, migrates it
   (`textbridge db upgrade`), starts `bench/ceiling_app.py` (a bare ASGI app doing one asyncpg
   INSERT per request into that database's `webhook_journal`), replays the warm-up requests
   and then the N measured requests with wrk, stops it, and checks the table holds exactly
   the warm-up + N requests that were sent.
2. textbridge: the same with `textbridge serve` on the database `textbridge_bench` (Plivo and
   Vonage credentials set, so not in sandbox mode and every signature is verified), the same
   request files, the same wrk settings.

Plivo: each request is a distinct status callback (own MessageUUID, Status among
queued/sent/delivered), form-encoded and fully signed (V3 and V2 headers, own nonce) for
`{public_url}/webhooks/plivo/status`. Vonage: each request is a distinct Messages API status
webhook to `/webhooks/vonage/status`, a JSON body made from the package's fixtures
(`providers/vonage/fixtures/status_*.json`: submitted, delivered, read, rejected,
undeliverable in turn) with its own `message_uuid` and `timestamp`, and its own
`Authorization: Bearer <JWT>` from `signature.sign_webhook` (HS256, `payload_hash` of the
exact body, `iat` = signing time, own `jti`). textbridge refuses a token whose `iat` is more
than `TEXTBRIDGE_VONAGE_SIGNATURE_MAX_AGE` (default 300 s, left as it is) away from its clock,
so the Vonage requests are signed afresh right before each round's pair of runs, and again
before a run if they are more than `REFRESH_AFTER` seconds old. The bodies stay the same from
one signing to the next (same ids): only the tokens change. textbridge verifies, parses and
journals every request.

wrk (one thread, `--connections` connections) sends each measured request once; the rate is
N divided by the wall time from the first request sent to the N-th answer (taken inside
wrk's Lua script); p50/p99 are wrk's latency percentiles over those answers. Any answer
other than 200, any socket error, or a journal other than expected (exactly one row per
request sent, with its provider, kind and body; for textbridge also `pending` with a
dedup key) fails the bench. `--wrong-secret` signs with credentials textbridge does not
hold, to check that it does fail.

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
import collections
import contextlib
import copy
import json
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from harness import cpu_seconds, drop_database, free_port, fresh_database, stop

import textbridge.providers.vonage as vonage_package
from textbridge.providers.plivo.signature import (
    MA_V2_HEADER,
    MA_V3_HEADER,
    V2_HEADER,
    V2_NONCE_HEADER,
    V3_HEADER,
    V3_NONCE_HEADER,
    signed_headers,
)
from textbridge.providers.vonage.signature import HEADER as VONAGE_HEADER
from textbridge.providers.vonage.signature import sign_webhook

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "replay.lua"
CEILING_APP = BENCH / "ceiling_app.py"
PROVIDERS = ("plivo", "vonage")
TARGETS = {"plivo": 0.5, "vonage": 0.4}  # ratio textbridge / ceiling, from the issues
PLIVO_HEADERS = (
    "Content-Type",
    V3_HEADER,
    MA_V3_HEADER,
    V3_NONCE_HEADER,
    V2_HEADER,
    MA_V2_HEADER,
    V2_NONCE_HEADER,
)
VONAGE_HEADERS = ("Content-Type", VONAGE_HEADER)
AUTH_ID = "MABENCHXXXXXXXXXXXXX"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # a throwaway bench credential
VONAGE_API_KEY = "benchkey"
VONAGE_API_SECRET = "bench-api-secret"  # throwaway; Basic auth, never used (nothing is sent)
VONAGE_SIGNATURE_SECRET = "bench-signature-secret-0123456789abcdef"  # throwaway, 38 bytes
API_KEY = "tb_bench_key_0123456789abcdefghijklmnop"
PLIVO_STATUSES = ("queued", "sent", "delivered")
VONAGE_STATUSES = ("submitted", "delivered", "read", "rejected", "undeliverable")
VONAGE_FIXTURES = Path(vonage_package.__file__).with_name("fixtures")
# Vonage tokens older than this are signed again before a run (textbridge allows 300 s).
REFRESH_AFTER = 120.0
TEXTBRIDGE_DB = "textbridge_bench"
CEILING_DB = "textbridge_bench_ceiling"


# ---------------------------------------------------------------------------- requests


def plivo_params(index: int, run: uuid.UUID) -> list[tuple[str, str]]:
    """A Plivo status callback as the simulator (and Plivo) sends it, distinct per index."""
    message_uuid = str(uuid.uuid5(run, str(index)))
    status = PLIVO_STATUSES[index % len(PLIVO_STATUSES)]
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
        ("Sequence", str(PLIVO_STATUSES.index(status) + 1)),
        ("MessageTime", stamp),
        ("QueuedTime", stamp),
        ("SentTime", stamp if status != "queued" else ""),
        ("DeliveryReportTime", stamp if status == "delivered" else ""),
    ]


def plivo_request(index: int, run: uuid.UUID, url: str, token: str) -> tuple[list[str], str]:
    """Header values (in `PLIVO_HEADERS` order) and body of one signed Plivo callback."""
    return plivo_signed(plivo_params(index, run), url, token)


def plivo_signed(params: list[tuple[str, str]], url: str, token: str) -> tuple[list[str], str]:
    """Header values (in `PLIVO_HEADERS` order) and form body of a signed Plivo POST."""
    headers = signed_headers(token, "POST", url, params)
    values = ["application/x-www-form-urlencoded"] + [headers[n] for n in PLIVO_HEADERS[1:]]
    return values, urlencode(params)


def _vonage_templates() -> list[dict[str, Any]]:
    return [
        json.loads((VONAGE_FIXTURES / f"status_{status}.json").read_text())
        for status in VONAGE_STATUSES
    ]


def vonage_body(index: int, run: uuid.UUID, templates: list[dict[str, Any]]) -> str:
    """A Vonage status webhook body (a fixture), distinct per index: own uuid and timestamp."""
    payload = copy.deepcopy(templates[index % len(templates)])
    payload["message_uuid"] = str(uuid.uuid5(run, f"vonage:{index}"))
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index)
    payload["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(payload, separators=(",", ":"))


def vonage_request(body: str, secret: str) -> tuple[list[str], str]:
    """Header values (in `VONAGE_HEADERS` order) and body, signed now (`iat`)."""
    token = sign_webhook(secret, body.encode(), api_key=VONAGE_API_KEY)[VONAGE_HEADER]
    return ["application/json", token], body


def write_requests(
    path: Path, names: tuple[str, ...], requests: Iterator[tuple[list[str], str]]
) -> list[str]:
    """The request file replay.lua reads (header names, then one request a line); the bodies."""
    bodies = []
    with path.open("w") as out:
        out.write("\t".join(names) + "\n")
        for values, body in requests:
            fields = [*values, body]
            assert len(values) == len(names)
            assert not any("\t" in f or "\n" in f for f in fields)
            out.write("\t".join(fields) + "\n")
            bodies.append(body)
    return bodies


@dataclass
class Workload:
    """One provider's requests: the warm-up and measured request files, and what they hold."""

    provider: str
    make: Callable[[int], tuple[list[str], str]]  # index -> header values, body
    names: tuple[str, ...]
    files: dict[str, Path]
    expires: bool  # tokens age out (Vonage): sign again before each round
    bodies: list[str] = field(default_factory=list)  # warm-up then measured, as sent
    signed_at: float = 0.0

    @property
    def path(self) -> str:
        return f"/webhooks/{self.provider}/status"

    def sign(self, args: argparse.Namespace) -> None:
        started = time.monotonic()
        warmup = range(args.warmup)
        measured = range(args.warmup, args.warmup + args.requests)
        bodies = write_requests(
            self.files["warmup"], self.names, (self.make(i) for i in warmup)
        ) + write_requests(self.files["measured"], self.names, (self.make(i) for i in measured))
        assert not self.bodies or bodies == self.bodies, "bodies changed between signings"
        assert len(set(bodies)) == len(bodies), "two requests share a body"
        self.bodies = bodies
        self.signed_at = time.monotonic()
        print(
            f"{self.provider}: signed {len(bodies)} distinct requests in "
            f"{self.signed_at - started:.1f}s",
            flush=True,
        )

    def fresh(self, args: argparse.Namespace, force: bool = False) -> None:
        """Sign if never signed, if `force` (Vonage, new round), or if the tokens grew old."""
        stale = time.monotonic() - self.signed_at > REFRESH_AFTER
        if not self.bodies or (self.expires and (force or stale)):
            self.sign(args)


def workloads(args: argparse.Namespace, port: int, workdir: Path) -> list[Workload]:
    run_id = uuid.uuid4()
    # textbridge verifies Plivo's signatures against its public URL: the port is fixed first.
    plivo_url = f"http://127.0.0.1:{port}/webhooks/plivo/status"
    plivo_token = "not-" + AUTH_TOKEN if args.wrong_secret else AUTH_TOKEN
    vonage_secret = (
        "not-" + VONAGE_SIGNATURE_SECRET if args.wrong_secret else VONAGE_SIGNATURE_SECRET
    )
    templates = _vonage_templates()
    makers: dict[str, Callable[[int], tuple[list[str], str]]] = {
        "plivo": lambda i: plivo_request(i, run_id, plivo_url, plivo_token),
        "vonage": lambda i: vonage_request(vonage_body(i, run_id, templates), vonage_secret),
    }
    chosen = PROVIDERS if args.provider == "both" else (args.provider,)
    return [
        Workload(
            provider=name,
            make=makers[name],
            names=PLIVO_HEADERS if name == "plivo" else VONAGE_HEADERS,
            files={k: workdir / f"{name}-{k}.txt" for k in ("warmup", "measured")},
            expires=name == "vonage",
        )
        for name in chosen
    ]


# ---------------------------------------------------------------------------- database


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


# ---------------------------------------------------------------------------- processes


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}; log:\n" + log.read_text()[-3000:]
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], port: int, log: Path, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until it listens, and always stop it (SIGINT, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_port(port, process, log, timeout=60)
            yield process
        finally:
            stop(process)


# ---------------------------------------------------------------------------- wrk


@dataclass
class Run:
    provider: str
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


def replay(
    wrk: str,
    port: int,
    path: str,
    request_file: Path,
    count: int,
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, str]:
    """Send the first `count` requests of `request_file` once each; wrk's figures by name."""
    marker = workdir / "wrk.done"
    marker.unlink(missing_ok=True)
    command = [
        wrk, "-t1", f"-c{args.connections}", f"-d{args.max_seconds}s", "--timeout", "60s",
        "-s", str(LUA), f"http://127.0.0.1:{port}{path}",
        "--", str(request_file), str(count), str(marker),
    ]  # fmt: skip
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
        raise RuntimeError(
            f"wrk got {figures['responses']} answers of {count} within {args.max_seconds}s:\n"
            + text
        )
    return figures


def measure(
    target: str,
    round_: int,
    wrk: str,
    port: int,
    load: Workload,
    args: argparse.Namespace,
    workdir: Path,
    pid: int,
) -> Run:
    what = f"{load.provider} {target}"
    if args.warmup:
        warm = replay(wrk, port, load.path, load.files["warmup"], args.warmup, args, workdir)
        _check_answers(f"{what} warm-up", warm)
    cpu_before = cpu_seconds(pid)
    figures = replay(wrk, port, load.path, load.files["measured"], args.requests, args, workdir)
    cpu = cpu_seconds(pid) - cpu_before
    run = Run(
        provider=load.provider,
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
    print(
        f"  {load.provider:<6} {target:<10} round {round_}: {run.rate:8.0f} req/s  "
        f"p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms  non-200 {run.non200}  "
        f"socket errors {run.socket_errors}  server CPU {run.cpu_us:.0f} us/request  "
        f"({run.extra_sent} duplicate re-sends at the end)",
        flush=True,
    )
    _check_answers(what, figures)
    return run


def _check_answers(what: str, figures: dict[str, str]) -> None:
    if int(figures["non200"]) or int(figures["socket_errors"]):
        raise RuntimeError(
            f"{what}: {figures['non200']} answers were not 200 (statuses: "
            f"{figures['non200_statuses'].strip() or '-'}), {figures['socket_errors']} "
            "socket errors"
        )


# ---------------------------------------------------------------------------- rounds


def bench_ceiling(
    round_: int,
    wrk: str,
    load: Workload,
    args: argparse.Namespace,
    workdir: Path,
    textbridge: Path,
    avoid_port: int,
) -> Run:
    url = fresh_database(args.admin_url, CEILING_DB, textbridge)
    port = free_port()
    while port == avoid_port:  # textbridge's port (signed into the Plivo requests)
        port = free_port()
    env = {**os.environ, "CEILING_DATABASE_URL": url}
    command = [sys.executable, str(CEILING_APP), "--port", str(port)]
    log = workdir / f"ceiling-{load.provider}-{round_}.log"
    load.fresh(args)
    with running(command, env, port, log, workdir) as server:
        run = measure("ceiling", round_, wrk, port, load, args, workdir, server.pid)
    _check_journal(run, load, url, textbridge=False)
    return run


def bench_textbridge(
    round_: int,
    wrk: str,
    load: Workload,
    args: argparse.Namespace,
    workdir: Path,
    textbridge: Path,
    port: int,
) -> Run:
    url = fresh_database(args.admin_url, TEXTBRIDGE_DB, textbridge)
    env = textbridge_env(url, port, args.log_level)
    command = [str(textbridge), "serve"]
    log = workdir / f"textbridge-{load.provider}-{round_}.log"
    load.fresh(args)
    with running(command, env, port, log, workdir) as server:
        run = measure("textbridge", round_, wrk, port, load, args, workdir, server.pid)
    _check_journal(run, load, url, textbridge=True)
    return run


def textbridge_env(url: str, port: int, log_level: str | None) -> dict[str, str]:
    """`serve`'s environment: Plivo and Vonage configured (not sandbox: every signature is
    verified), nothing ever sent."""
    env = {
        **os.environ,
        "TEXTBRIDGE_DATABASE_URL": url,
        "TEXTBRIDGE_HOST": "127.0.0.1",
        "TEXTBRIDGE_PORT": str(port),
        "TEXTBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TEXTBRIDGE_API_KEY": API_KEY,
        "TEXTBRIDGE_API_RATE_PER_SECOND": "0",  # the per-key API limit is not measured here
        "TEXTBRIDGE_SECRET_KEY": "bench-session-secret-0123456789abcdef0123456789",
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "VONAGE_API_KEY": VONAGE_API_KEY,
        "VONAGE_API_SECRET": VONAGE_API_SECRET,
        "VONAGE_SIGNATURE_SECRET": VONAGE_SIGNATURE_SECRET,
        # Never called: nothing is sent during the bench.
        "TEXTBRIDGE_PLIVO_API_BASE_URL": "http://127.0.0.1:9/v1/Account",
        "TEXTBRIDGE_VONAGE_API_BASE_URL": "http://127.0.0.1:9",
    }
    for name in ("TEXTBRIDGE_VONAGE_SIGNATURE_MAX_AGE", "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION"):
        env.pop(name, None)  # serve's defaults: 300 s, verification on
    if log_level:
        env["TEXTBRIDGE_LOG_LEVEL"] = log_level
    return env


async def _journal(url: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(
            "SELECT provider, kind, body, state, dedup_key FROM webhook_journal"
        )
    finally:
        await connection.close()


def _check_journal(run: Run, load: Workload, url: str, textbridge: bool) -> None:
    """Exactly one row per request sent (warm-up and measured): its provider, kind and body;
    for textbridge also accepted (`pending`) with a dedup key."""
    rows = asyncio.run(_journal(url))
    run.rows = len(rows)
    what = f"{load.provider} {run.target}"
    expected = collections.Counter((load.provider, "status", body) for body in load.bodies)
    found = collections.Counter((r["provider"], r["kind"], r["body"]) for r in rows)
    if found != expected:
        raise RuntimeError(
            f"{what}: the journal holds {len(rows)} rows, expected {len(load.bodies)} "
            f"({len(expected - found)} expected rows missing, {len(found - expected)} "
            "unexpected)"
        )
    if textbridge:
        odd = [r for r in rows if r["state"] != "pending" or r["dedup_key"] is None]
        if odd:
            raise RuntimeError(f"{what}: {len(odd)} journal rows are not pending with a key")


def report(runs: list[Run], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.requests} measured requests per run (+{args.warmup} warm-up), "
        f"{args.connections} connections, wrk -t1, {args.rounds} round(s)"
    )
    print(
        f"{'provider':<10}{'target':<12}{'round':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'non-200':>9}{'rows':>8}{'CPU us/req':>12}"
    )
    for run in runs:
        print(
            f"{run.provider:<10}{run.target:<12}{run.round:>6}{run.rate:>10.0f}"
            f"{run.p50_ms:>9.1f}{run.p99_ms:>9.1f}{run.non200:>9}{run.rows:>8}"
            f"{run.cpu_us:>12.0f}"
        )
    for provider in dict.fromkeys(r.provider for r in runs):
        print()
        mine = [r for r in runs if r.provider == provider]
        ratios = []
        for round_ in range(1, args.rounds + 1):
            pair = {r.target: r for r in mine if r.round == round_}
            ratios.append(pair["textbridge"].rate / pair["ceiling"].rate)
        for target in ("ceiling", "textbridge"):
            of = [r for r in mine if r.target == target]
            print(
                f"{provider} median {target:<11} {statistics.median(r.rate for r in of):8.0f} "
                f"req/s  p50 {statistics.median(r.p50_ms for r in of):6.1f} ms  "
                f"p99 {statistics.median(r.p99_ms for r in of):6.1f} ms  "
                f"server CPU {statistics.median(r.cpu_us for r in of):4.0f} us/request"
            )
        print(
            f"{provider} ratio textbridge/ceiling per round: "
            + ", ".join(f"{r:.2f}" for r in ratios)
        )
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= TARGETS[provider] else "NOT MET"
        print(
            f"{provider.upper()} RATIO (median) = {ratio:.2f}   target >= {TARGETS[provider]}: "
            + verdict
        )
    print()
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def main() -> int:
    parser = argparse.ArgumentParser(description="Webhook ingest throughput vs. a ceiling.")
    parser.add_argument(
        "--provider",
        choices=(*PROVIDERS, "both"),
        default="both",
        help="whose status webhooks to send (default both, one pair of runs each per round)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=20_000,
        help="distinct measured requests per run (default 20000)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2_000,
        help="distinct warm-up requests sent before each measured run",
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of one ceiling and one textbridge run per provider (order alternates)",
    )
    parser.add_argument(
        "--max-seconds", type=int, default=300, help="give up on a run after this long"
    )
    parser.add_argument(
        "--admin-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help="TEXTBRIDGE_LOG_LEVEL for serve (default: serve's own, info)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the bench databases and the work folder (server logs)",
    )
    parser.add_argument(
        "--wrong-secret",
        action="store_true",
        help="sign with credentials textbridge does not hold: the bench must fail (self-check)",
    )
    args = parser.parse_args()
    if args.requests < 1 or args.connections < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--requests, --connections and --rounds must be positive")

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    textbridge = Path(sys.executable).with_name("textbridge")
    workdir = Path(tempfile.mkdtemp(prefix="textbridge-bench-"))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f", work folder {workdir}",
        flush=True,
    )

    port = free_port()
    loads = workloads(args, port, workdir)
    runs: list[Run] = []
    try:
        for round_ in range(1, args.rounds + 1):
            for load in loads:
                load.fresh(args, force=True)  # Vonage: new tokens for every round
                # A B, then B A, ...: a slow drift of the machine does not favour either side.
                order = ("ceiling", "textbridge") if round_ % 2 else ("textbridge", "ceiling")
                for target in order:
                    if target == "ceiling":
                        run = bench_ceiling(round_, wrk, load, args, workdir, textbridge, port)
                    else:
                        run = bench_textbridge(round_, wrk, load, args, workdir, textbridge, port)
                    runs.append(run)
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
