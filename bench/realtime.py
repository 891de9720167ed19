"""Live event latency: a webhook received to its event seen by 100 connected SSE clients.

    uv run python bench/realtime.py [--clients 100] [--webhooks 300] [--modes ceiling,one,two]

Per mode, `--clients` clients (raw sockets, in this process) hold `/api/v1/events` open; then,
one at a time, the bench POSTs a signed Plivo inbound SMS webhook (V2 and V3 signatures over
the public URL, as Plivo signs it) whose text carries a numbered token, and notes when each
client's socket delivers the first event holding that token (the `message.created` of the
inbound message). A sample is that time minus the time just before the POST; the next webhook
goes once every client has seen this one. The first `--warmup` webhooks are not counted.

Modes:

- `ceiling`: a bare ASGI app (this file, `--ceiling-app`, served by uvicorn as `serve` is)
  that answers the POST by putting an SSE event of the same size as textbridge's two (a
  `message.created` and a `conversation.updated`) on every client's queue: no database, no
  signature check, no journal. What the same clients, loop and uvicorn can do at best.
- `one`: one `textbridge serve` (workers in it) on PostgreSQL receives the webhooks and holds
  the streams: journal, applier, `live_events`, relay, bus, SSE.
- `two`: `serve` B (workers in it) receives the webhooks; `serve --no-workers` A holds the
  streams: the event crosses processes through `live_events` and NOTIFY.
- `sqlite`: one `serve` on SQLite (the in-process bus).

Printed: p50, p95 and p99 over every (webhook, client) pair, the p95 of the last client per
webhook, and each mode's p50 and p95 as a ratio to the ceiling's, measured in the same run.
The issue's target: p95 at most 50 ms with 100 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import asyncpg
import httpx
from harness import free_port, stop
from stats import percentile

from textbridge.providers.plivo.signature import signed_headers

AUTH_ID = "MABENCHXXXXXXXXXXXXX"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # a throwaway bench credential
API_KEY = "tb_bench_key_0123456789abcdefghijklmnop"
OUR_NUMBER = "+14155550100"
DATABASE = "textbridge_bench_live_realtime"
TOKEN = re.compile(rb"benchtoken(\d{6})")
TOKEN_LENGTH = len("benchtoken000000")
TARGET_P95_MS = 50.0
CREATED_AT = re.compile(rb'"created_at": ?"([^"]+)"')


# ---------------------------------------------------------------------------- ceiling app


def _ceiling_payloads(text: str) -> list[bytes]:
    """Two events shaped and sized as textbridge's for an inbound SMS."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    message = {
        "id": str(uuid.uuid4()),
        "conversation_id": str(uuid.uuid4()),
        "direction": "inbound",
        "channel": "sms",
        "provider": "plivo",
        "from": "+14155550199",
        "to": OUR_NUMBER,
        "text": text,
        "media": [],
        "template": None,
        "status": "received",
        "error_code": None,
        "error_message": None,
        "provider_message_id": str(uuid.uuid4()),
        "segments": 1,
        "encoding": "GSM-7",
        "price": None,
        "price_currency": None,
        "attempts": 0,
        "scheduled_at": None,
        "created_at": now,
        "updated_at": now,
        "campaign_id": None,
        "idempotency_key": None,
    }
    conversation = {
        "id": message["conversation_id"],
        "channel": "sms",
        "contact_address": "+14155550199",
        "contact_address_kind": "e164",
        "contact_phone": "+14155550199",
        "contact_name": None,
        "replyable": True,
        "not_replyable_reason": None,
        "sender_address": OUR_NUMBER,
        "provider": "plivo",
        "last_message_at": now,
        "last_inbound_at": now,
        "window_expires_at": None,
        "last_message_preview": text,
        "unread_count": 1,
    }
    return [
        f"id: 1\r\nevent: {kind}\r\ndata: {json.dumps(data)}\r\n\r\n".encode()
        for kind, data in (("message.created", message), ("conversation.updated", conversation))
    ]


_queues: set[asyncio.Queue[bytes]] = set()


async def ceiling_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["method"] == "POST":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        text = parse_qs(body.decode())["Text"][0]
        for payload in _ceiling_payloads(text):
            for queue in list(_queues):
                queue.put_nowait(payload)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] != "/api/v1/events":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    _queues.add(queue)
    try:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        ready = b"id: 0\r\nevent: ready\r\ndata: {}\r\n\r\n"
        await send({"type": "http.response.body", "body": ready, "more_body": True})
        while True:
            payload = await queue.get()
            await send({"type": "http.response.body", "body": payload, "more_body": True})
    finally:
        _queues.discard(queue)


def run_ceiling_app(port: int) -> None:
    import uvicorn

    uvicorn.run(ceiling_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------- clients


@dataclass
class Seen:
    """When each client first saw each token."""

    clients: int
    at: dict[int, dict[int, float]] = field(default_factory=dict)
    stored: dict[int, float] = field(default_factory=dict)  # the message's created_at
    complete: dict[int, asyncio.Event] = field(default_factory=dict)

    def expect(self, number: int) -> asyncio.Event:
        self.at[number] = {}
        self.complete[number] = asyncio.Event()
        return self.complete[number]

    def saw(self, client: int, number: int, moment: float) -> None:
        times = self.at.get(number)
        if times is None or client in times:
            return
        times[client] = moment
        if len(times) == self.clients:
            self.complete[number].set()


async def sse_client(port: int, index: int, seen: Seen, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {API_KEY}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    buffer = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            moment = time.perf_counter()
            buffer += chunk
            if not ready.is_set() and b"event: ready" in buffer:
                ready.set()
            for match in TOKEN.finditer(buffer):
                seen.saw(index, int(match.group(1)), moment)
                stamp = CREATED_AT.search(buffer, match.end())
                if index == 0 and stamp is not None:
                    when = datetime.fromisoformat(stamp.group(1).decode().replace("Z", "+00:00"))
                    seen.stored.setdefault(int(match.group(1)), when.timestamp())
            buffer = buffer[-(TOKEN_LENGTH - 1) :]
    finally:
        writer.close()


# ---------------------------------------------------------------------------- webhooks


def inbound_webhook(number: int, receiver: str) -> tuple[bytes, dict[str, str]]:
    params = {
        "MessageUUID": str(uuid.uuid4()),
        "From": f"1415555{number % 50:04d}",
        "To": OUR_NUMBER.lstrip("+"),
        "Type": "sms",
        "Text": f"hello benchtoken{number:06d} there",
        "Units": "1",
    }
    url = f"{receiver}/webhooks/plivo/inbound"
    headers = signed_headers(AUTH_TOKEN, "POST", url, params)
    headers["content-type"] = "application/x-www-form-urlencoded"
    return urlencode(params).encode(), headers


async def measure(
    receiver: str, streams_port: int, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    """Per (webhook, client) latencies and per-webhook last-client latencies, in ms."""
    seen = Seen(args.clients)
    readies = [asyncio.Event() for _ in range(args.clients)]
    clients = [
        asyncio.create_task(sse_client(streams_port, n, seen, readies[n]))
        for n in range(args.clients)
    ]
    samples: list[float] = []
    last: list[float] = []
    acks: list[float] = []
    stored: list[float] = []
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(ready.wait() for ready in readies))
        async with httpx.AsyncClient(base_url=receiver, timeout=30) as http:
            for number in range(args.warmup + args.webhooks):
                body, headers = inbound_webhook(number, receiver)
                complete = seen.expect(number)
                started = time.perf_counter()
                wall = time.time()
                answer = await http.post("/webhooks/plivo/inbound", content=body, headers=headers)
                answered = time.perf_counter()
                if answer.status_code != 200:
                    raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text}")
                async with asyncio.timeout(30):
                    await complete.wait()
                if number >= args.warmup:
                    times = [1000 * (t - started) for t in seen.at[number].values()]
                    samples += times
                    last.append(max(times))
                    acks.append(1000 * (answered - started))
                    if number in seen.stored:
                        stored.append(1000 * (seen.stored[number] - wall))
                await asyncio.sleep(args.pause)
    finally:
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    answered = f"p50 {percentile(acks, 0.5):.1f} ms, p95 {percentile(acks, 0.95):.1f} ms"
    print(f"  webhook answered: {answered}")
    if stored:
        applied = f"p50 {percentile(stored, 0.5):.1f} ms, p95 {percentile(stored, 0.95):.1f} ms"
        print(f"  message stored (its created_at): {applied}")
    return samples, last


# ---------------------------------------------------------------------------- processes


def serve_env(database_url: str, port: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTBRIDGE_", "PLIVO_"))}
    return {
        **keep,
        "TEXTBRIDGE_DATABASE_URL": database_url,
        "TEXTBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TEXTBRIDGE_API_KEY": API_KEY,
        "TEXTBRIDGE_API_RATE_PER_SECOND": "0",
        "TEXTBRIDGE_SECRET_KEY": "bench-session-secret-0123456789abcdef0123456789",
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "PLIVO_SMS_FROM_NUMBER": OUR_NUMBER,
        "TEXTBRIDGE_PLIVO_API_BASE_URL": "http://127.0.0.1:9/v1/Account",  # nothing is sent
        "TEXTBRIDGE_LOG_LEVEL": "warning",
    }


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Start a server, wait until it answers, always stop it; yields its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process.pid
    finally:
        stop(process)


def serve(
    database_url: str, port: int, log: Path, *flags: str
) -> contextlib.AbstractContextManager[int]:
    command = [sys.executable, "-m", "textbridge", "serve", "--port", str(port), *flags]
    return running(command, serve_env(database_url, port), port, log)


def fresh_postgres(admin_url: str) -> str:
    async def admin(*statements: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(
        admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}")
    )
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return migrated(f"{url}/{DATABASE}")


def migrated(database_url: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "textbridge", "db", "upgrade"],
        check=True,
        capture_output=True,
        env={**os.environ, "TEXTBRIDGE_DATABASE_URL": database_url},
    )
    return database_url


def run_mode(mode: str, args: argparse.Namespace, folder: Path) -> tuple[list[float], list[float]]:
    receiver_port = free_port()
    receiver = f"http://127.0.0.1:{receiver_port}"
    log = folder / f"{mode}.log"
    if mode == "ceiling":
        command = [sys.executable, __file__, "--ceiling-app", str(receiver_port)]
        with running(command, dict(os.environ), receiver_port, log):
            return asyncio.run(measure(receiver, receiver_port, args))
    if mode == "sqlite":
        url = migrated(f"sqlite+aiosqlite:///{folder / 'realtime.db'}")
        with serve(url, receiver_port, log):
            return asyncio.run(measure(receiver, receiver_port, args))
    url = fresh_postgres(args.admin_url)
    if mode == "one":
        with serve(url, receiver_port, log) as pid:
            profile(args, pid, folder, mode)
            return asyncio.run(measure(receiver, receiver_port, args))
    streams_port = free_port()
    with (
        serve(url, receiver_port, log),
        serve(url, streams_port, folder / f"{mode}-streams.log", "--no-workers") as pid,
    ):
        profile(args, pid, folder, mode)
        return asyncio.run(measure(receiver, streams_port, args))


def profile(args: argparse.Namespace, pid: int, folder: Path, mode: str) -> None:
    """`--profile`: py-spy records the process that holds the streams while it is measured."""
    if not args.profile:
        return
    out = Path(args.profile) / f"realtime-{mode}.txt"
    subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--output",
            str(out),
            "--format",
            "raw",
            "--duration",
            str(args.profile_seconds),
            "--rate",
            "250",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------------------- report


def report(results: dict[str, tuple[list[float], list[float]]], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.clients} clients, {args.webhooks} webhooks (+{args.warmup} warm-up), one at a "
        f"time, {args.pause * 1000:.0f} ms apart; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'mode':<10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'last p95':>10}"
        f"{'p50/ceil':>10}{'p95/ceil':>10}{'target':>9}"
    )
    ceiling = results.get("ceiling")
    for mode, (samples, last) in results.items():
        p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        ratios = ("", "")
        if ceiling is not None:
            ratios = (
                f"{p50 / percentile(ceiling[0], 0.5):.1f}x",
                f"{p95 / percentile(ceiling[0], 0.95):.1f}x",
            )
        verdict = "" if mode == "ceiling" else ("ok" if p95 <= TARGET_P95_MS else "MISSED")
        print(
            f"{mode:<10}{p50:>9.1f}{p95:>9.1f}{percentile(samples, 0.99):>9.1f}"
            f"{percentile(last, 0.95):>10.1f}{ratios[0]:>10}{ratios[1]:>10}{verdict:>9}"
        )
    means = ", ".join(f"{mode} {statistics.fmean(r[0]):.1f} ms" for mode, r in results.items())
    print(f"(means: {means})")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--ceiling-app":
        run_ceiling_app(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--webhooks", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between webhooks")
    parser.add_argument("--modes", default="ceiling,one,two,sqlite")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--profile", help="a folder: py-spy flame graphs of the stream holder")
    parser.add_argument("--profile-seconds", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as folder:
        for mode in args.modes.split(","):
            print(f"{mode} ...", flush=True)
            results[mode] = run_mode(mode, args, Path(folder))
    report(results, args)


if __name__ == "__main__":
    main()
