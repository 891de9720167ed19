"""Journal apply: signed webhooks into `textbridge serve` until every one is applied.

    cd /work/wt/apply && uv run python bench/apply.py [--kind inbound|status|both]
        [--provider plivo|vonage|both] [--requests 10000] [--backend postgresql|sqlite]

Needs wrk (`apt-get install -y wrk`) and PostgreSQL at `--admin-url`. For each kind and
provider (default: both kinds, both providers: four workloads), one round of two runs:

1. textbridge: a fresh database `textbridge_bench_apply` (migrated), `textbridge serve` with
   Plivo and Vonage credentials (not sandbox: every signature is verified; the environment is
   `webhook_ingest.textbridge_env`), then the N signed requests sent once each by wrk (64
   connections; `webhook_ingest.replay`), exactly as `bench/webhook_ingest.py` sends them.
   The clock starts right before wrk starts and stops when every webhook is applied and
   visible: no journal row is `pending` any more, every row is `applied`, and the rows the
   webhooks make exist (inbound: N messages `received`, with their conversations; status:
   every seeded message in its final status). A sample is then read back through the API
   (`GET /api/v1/conversations` and `.../messages` for inbound, `GET /api/v1/messages/{id}`
   for status) and must agree.
2. ceiling: a fresh database `textbridge_bench_apply_ceiling`, `bench/ceiling_app.py` (the
   bare ingest ceiling of `webhook_ingest.py`: one asyncpg INSERT per request, no signature
   check), the same request file through the same wrk; then a bare bulk apply of the same
   journal rows in ONE transaction with asyncpg: read the pending rows, parse each body (form
   or JSON: what any applier must do), and write the result with a handful of set-based
   statements (`unnest` arrays): contacts, conversations and messages for inbound; events
   and message updates for status (same rank rule as textbridge); the journal marked applied.
   Ceiling time = ingest wall time + bulk apply wall time.

Why this ceiling: it is the least work that gets the same webhooks from HTTP to rows an API
can read, with the same tables, indexes and constraints: the fastest ingest we know on this
machine, followed by the fastest apply we could write (no ORM, no per-row statement, no
savepoint, no live events, no signature check, no dedup of anything that is not a constraint).
The two parts run one after the other rather than overlapped: a real applier can overlap them,
so the ceiling is generous to textbridge on that point, but on 2 cores overlapping buys little,
as both are CPU-bound on the same cores (textbridge's server, PostgreSQL and wrk share them).

Workloads. Inbound: N distinct SMS from `--contacts` distinct numbers (a contact writes N /
contacts times: conversations are found as well as created) to one number of ours; Plivo as a
form POST signed V3+V2 (own nonce), Vonage as the Messages API JSON (fixture
`inbound_sms.json`) with its own HS256 JWT. Status: N / 2 outbound messages seeded (status
`submitted`, the provider's id set) before serve starts; each gets two status webhooks, sent
apart (the first half of the requests carries one status of every message, the second half the
other): Plivo `sent` and `delivered`, Vonage `submitted` and `delivered` fixtures, with the
`delivered` one first for every other message so that ranks (never back from delivered) are
exercised; every message must end `delivered`.

Printed per workload: time to all applied for textbridge and the ceiling (and the ingest part
of each), applied per second, the ratio ceiling time / textbridge time (target >= 0.3), and
the CPU (user + system) of the server process per webhook over the whole measured interval,
ingest and apply together (PostgreSQL's own CPU is not counted).

`--backend sqlite` runs textbridge on a SQLite file instead and prints its time and rate only:
there is no bare SQLite ceiling (the bare ingest app is asyncpg only).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import httpx
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import webhook_ingest as ingest

from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine
from textbridge.models import Contact, Conversation, Message, Sender

KINDS = ("inbound", "status")
TARGET = 0.3
DB = "textbridge_bench_apply"
CEILING_DB = "textbridge_bench_apply_ceiling"
OUR_NUMBER = "14155550100"
STATUS_PAIRS = {"plivo": ("sent", "delivered"), "vonage": ("submitted", "delivered")}
POLL_SECONDS = 0.05


@dataclass
class Load:
    kind: str
    provider: str
    requests: int
    file: Path
    message_ids: list[str]  # provider message ids: inbound, or the seeded outbound ones

    @property
    def path(self) -> str:
        return f"/webhooks/{self.provider}/{self.kind}"

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.provider}"


@dataclass
class Result:
    load: Load
    target: str
    ingest_s: float
    total_s: float
    cpu_us: float = 0.0

    @property
    def rate(self) -> float:
        return self.load.requests / self.total_s


# ---------------------------------------------------------------------------- requests


def contact_number(index: int, contacts: int) -> str:
    return f"1415556{index % contacts:04d}"


def plivo_inbound(index: int, run: uuid.UUID, contacts: int) -> list[tuple[str, str]]:
    return [
        ("From", contact_number(index, contacts)),
        ("To", OUR_NUMBER),
        ("Type", "sms"),
        ("Text", f"Is my order {index} ready?"),
        ("MessageUUID", str(uuid.uuid5(run, f"in:{index}"))),
        ("Units", "1"),
        ("TotalRate", "0.00000"),
        ("TotalAmount", "0.00000"),
        ("MessageIntent", ""),
        ("PowerpackUUID", ""),
    ]


def vonage_inbound(index: int, run: uuid.UUID, contacts: int) -> str:
    payload = json.loads((ingest.VONAGE_FIXTURES / "inbound_sms.json").read_text())
    payload["message_uuid"] = str(uuid.uuid5(run, f"in:{index}"))
    payload["from"] = contact_number(index, contacts)
    payload["to"] = OUR_NUMBER
    payload["text"] = f"Is my order {index} ready?"
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index)
    payload["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(payload, separators=(",", ":"))


def status_order(index: int, messages: int) -> tuple[int, int]:
    """Request `index` -> (message, which of its two statuses): the first half of the
    requests carries one status of each message, the second half the other; every other
    message gets its `delivered` first."""
    message, half = index % messages, index // messages
    which = half if message % 2 == 0 else 1 - half
    return message, which


def plivo_status(index: int, message_ids: list[str]) -> list[tuple[str, str]]:
    message, which = status_order(index, len(message_ids))
    params = dict(ingest.plivo_params(index, uuid.UUID(int=0)))
    status = STATUS_PAIRS["plivo"][which]
    params.update(
        MessageUUID=message_ids[message],
        ParentMessageUUID=message_ids[message],
        Status=status,
        Sequence=str(which + 1),
        DeliveryReportTime=params["MessageTime"] if status == "delivered" else "",
    )
    return list(params.items())


def vonage_status(index: int, message_ids: list[str], templates: dict[str, Any]) -> str:
    message, which = status_order(index, len(message_ids))
    payload = dict(templates[STATUS_PAIRS["vonage"][which]])
    payload["message_uuid"] = message_ids[message]
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index)
    payload["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(payload, separators=(",", ":"))


def make_load(kind: str, provider: str, args: argparse.Namespace, port: int, workdir: Path) -> Load:
    run = uuid.uuid4()
    n = args.requests
    if kind == "inbound":
        ids = [str(uuid.uuid5(run, f"in:{i}")) for i in range(n)]
    else:
        ids = [str(uuid.uuid5(run, f"out:{i}")) for i in range(n // 2)]
    url = f"http://127.0.0.1:{port}/webhooks/{provider}/{kind}"
    make: Callable[[int], tuple[list[str], str]]
    if provider == "plivo":
        names = ingest.PLIVO_HEADERS
        params: Callable[[int], list[tuple[str, str]]] = (
            (lambda i: plivo_inbound(i, run, args.contacts))
            if kind == "inbound"
            else (lambda i: plivo_status(i, ids))
        )
        make = lambda i: ingest.plivo_signed(params(i), url, ingest.AUTH_TOKEN)  # noqa: E731
    else:
        names = ingest.VONAGE_HEADERS
        templates = {
            status: json.loads((ingest.VONAGE_FIXTURES / f"status_{status}.json").read_text())
            for status in STATUS_PAIRS["vonage"]
        }
        body: Callable[[int], str] = (
            (lambda i: vonage_inbound(i, run, args.contacts))
            if kind == "inbound"
            else (lambda i: vonage_status(i, ids, templates))
        )
        secret = ingest.VONAGE_SIGNATURE_SECRET
        make = lambda i: ingest.vonage_request(body(i), secret)  # noqa: E731
    file = workdir / f"{kind}-{provider}.txt"
    count = n if kind == "inbound" else 2 * len(ids)
    ingest.write_requests(file, names, (make(i) for i in range(count)))
    return Load(kind, provider, count, file, ids)


# ---------------------------------------------------------------------------- database


async def seed_outbound(url: str, load: Load) -> list[uuid.UUID]:
    """The messages the status webhooks are about: sent, waiting for their statuses."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            contact, sender, conversation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            await connection.execute(
                insert(Contact.__table__), [{"id": contact, "address": "+14155559999"}]
            )
            sender_row = {"id": sender, "provider": load.provider, "channel": "sms"}
            await connection.execute(
                insert(Sender.__table__), [{**sender_row, "address": OUR_NUMBER}]
            )
            await connection.execute(
                insert(Conversation.__table__),
                [
                    {
                        "id": conversation,
                        "contact_id": contact,
                        "sender_id": sender,
                        "channel": "sms",
                    }
                ],
            )
            rows = [
                {
                    "id": uuid.uuid4(),
                    "conversation_id": conversation,
                    "direction": "outbound",
                    "channel": "sms",
                    "provider": load.provider,
                    "provider_message_id": provider_id,
                    "from_address": OUR_NUMBER,
                    "to_address": "+14155559999",
                    "body": "Your order is ready",
                    "status": "submitted",
                    "created_at": utcnow(),
                }
                for provider_id in load.message_ids
            ]
            await connection.execute(insert(Message.__table__), rows)
        return [row["id"] for row in rows]
    finally:
        await engine.dispose()


Count = Callable[[str], Awaitable[int]]


async def progress(count: Count, load: Load) -> tuple[int, int]:
    """(journal rows not applied yet, rows the webhooks made that are visible)."""
    waiting = await count("SELECT count(*) FROM webhook_journal WHERE state <> 'applied'")
    if load.kind == "inbound":
        done = await count(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.direction = 'inbound'"
        )
    else:
        done = await count("SELECT count(*) FROM messages WHERE status = 'delivered'")
    return waiting, done


async def wait_applied(url: str, load: Load, timeout: float) -> None:
    """Until no journal row waits and every row the webhooks make is there."""
    deadline = time.monotonic() + timeout
    async with _counter(url) as count:
        while True:
            waiting, done = await progress(count, load)
            if waiting == 0 and done == len(load.message_ids):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{load.name}: after {timeout}s, {waiting} journal rows not applied, "
                    f"{done} of {len(load.message_ids)} rows visible"
                )
            await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def _counter(url: str) -> AsyncIterator[Count]:
    """count(sql) on the bench's database, read-only: plain sqlite3 in autocommit for SQLite
    (textbridge's engine would BEGIN IMMEDIATE, taking the write lock at every poll)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)

        async def count_sqlite(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0])

        try:
            yield count_sqlite
        finally:
            connection.close()
        return
    plain = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))

    async def count_postgresql(sql: str) -> int:
        return int(await plain.fetchval(sql))

    try:
        yield count_postgresql
    finally:
        await plain.close()


async def journal_states(url: str) -> collections.Counter[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT state FROM webhook_journal"))
            return collections.Counter(state for (state,) in rows)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------- runs


def send(port: int, load: Load, args: argparse.Namespace, workdir: Path) -> float:
    """Send every request once; the wall time until the last answer."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    figures = ingest.replay(wrk, port, load.path, load.file, load.requests, args, workdir)
    if int(figures["non200"]) or int(figures["socket_errors"]):
        raise RuntimeError(
            f"{load.name}: {figures['non200']} answers not 200 "
            f"({figures['non200_statuses'].strip()}), {figures['socket_errors']} socket errors"
        )
    return float(figures["elapsed_s"])


def database(args: argparse.Namespace, name: str, textbridge: Path, workdir: Path) -> str:
    if args.backend == "sqlite":
        path = workdir / f"{name}.db"
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
        env = {**os.environ, "TEXTBRIDGE_DATABASE_URL": url}
        subprocess.run([str(textbridge), "db", "upgrade"], check=True, env=env, capture_output=True)
        return url
    return ingest.fresh_database(args.admin_url, name, textbridge).replace(
        "postgresql://", "postgresql+asyncpg://"
    )


def run_textbridge(
    load: Load, args: argparse.Namespace, port: int, workdir: Path, textbridge: Path
) -> Result:
    url = database(args, DB, textbridge, workdir)
    seeded = asyncio.run(seed_outbound(url, load)) if load.kind == "status" else []
    env = ingest.textbridge_env(url, port, args.log_level)
    log = workdir / f"textbridge-{load.kind}-{load.provider}.log"
    with ingest.running([str(textbridge), "serve"], env, port, log, workdir) as server:
        cpu_before = ingest.cpu_seconds(server.pid)
        started = time.monotonic()
        ingest_s = send(port, load, args, workdir)
        asyncio.run(wait_applied(url, load, args.max_seconds))
        total = time.monotonic() - started
        cpu = ingest.cpu_seconds(server.pid) - cpu_before
        check_api(port, load, seeded)
    states = asyncio.run(journal_states(url))
    if set(states) != {"applied"}:
        raise RuntimeError(f"{load.name}: journal states {dict(states)}")
    return Result(load, "textbridge", ingest_s, total, cpu / load.requests * 1e6)


def check_api(port: int, load: Load, seeded: list[uuid.UUID]) -> None:
    """What the bench counted in the database is what a client reads through the API."""
    headers = {"Authorization": f"Bearer {ingest.API_KEY}"}
    base = f"http://127.0.0.1:{port}/api/v1"
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        if load.kind == "status":
            for message_id in random.sample(seeded, min(20, len(seeded))):
                answer = client.get(f"/messages/{message_id}").raise_for_status().json()
                assert answer["status"] == "delivered", answer
            return
        conversations = client.get("/conversations", params={"limit": 10}).raise_for_status()
        listed = conversations.json()
        assert listed, "no conversation listed"
        for conversation in listed:
            messages = client.get(f"/conversations/{conversation['id']}/messages")
            assert messages.raise_for_status().json(), conversation
            assert conversation["unread_count"] >= 1, conversation


def run_ceiling(
    load: Load, args: argparse.Namespace, port: int, workdir: Path, textbridge: Path
) -> Result:
    url = database(args, CEILING_DB, textbridge, workdir)
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    if load.kind == "status":
        asyncio.run(seed_outbound(url, load))
    env = {**os.environ, "CEILING_DATABASE_URL": plain}
    command = [sys.executable, str(ingest.CEILING_APP), "--port", str(port)]
    log = workdir / f"ceiling-{load.kind}-{load.provider}.log"
    with ingest.running(command, env, port, log, workdir) as server:
        cpu_before = ingest.cpu_seconds(server.pid)
        started = time.monotonic()
        ingest_s = send(port, load, args, workdir)
        ingest_wall = time.monotonic() - started
        cpu = ingest.cpu_seconds(server.pid) - cpu_before
    apply_started = time.process_time()
    apply_s = asyncio.run(bare_apply(plain, load))
    cpu += time.process_time() - apply_started
    asyncio.run(wait_applied(url, load, 10))
    return Result(load, "ceiling", ingest_s, ingest_wall + apply_s, cpu / load.requests * 1e6)


# ---------------------------------------------------------------------------- bare apply


def fields_of(body: str) -> dict[str, Any]:
    if body.startswith("{"):
        payload: dict[str, Any] = json.loads(body)
        return payload
    return dict(parse_qsl(body, keep_blank_values=True))


async def bare_apply(url: str, load: Load) -> float:
    """Apply every pending journal row in one transaction with a few set-based statements;
    returns the wall time, from reading the journal to the commit."""
    connection = await asyncpg.connect(url)
    try:
        started = time.monotonic()
        async with connection.transaction():
            rows = await connection.fetch(
                "SELECT id, body FROM webhook_journal WHERE state = 'pending' ORDER BY id"
                " FOR UPDATE"
            )
            parsed = [fields_of(row["body"]) for row in rows]
            if load.kind == "inbound":
                await _bare_inbound(connection, load.provider, parsed)
            else:
                await _bare_status(connection, load.provider, parsed)
            await connection.execute(
                "UPDATE webhook_journal SET state = 'applied', processed_at = now()"
                " WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        return time.monotonic() - started
    finally:
        await connection.close()


def _inbound_fields(provider: str, fields: dict[str, Any]) -> tuple[str, str, str]:
    """(provider message id, sender address, text)."""
    if provider == "plivo":
        return fields["MessageUUID"], "+" + fields["From"], fields["Text"]
    return fields["message_uuid"], "+" + fields["from"], fields["text"]


async def _bare_inbound(
    connection: asyncpg.Connection, provider: str, parsed: list[dict[str, Any]]
) -> None:
    now = datetime.now(UTC)
    messages = [_inbound_fields(provider, fields) for fields in parsed]
    sender = await connection.fetchval(
        "INSERT INTO senders (id, provider, channel, address, created_at)"
        " VALUES ($1, $2, 'sms', $3, $4) ON CONFLICT DO NOTHING RETURNING id",
        uuid.uuid4(),
        provider,
        OUR_NUMBER,
        now,
    )
    addresses = list(dict.fromkeys(address for _, address, _ in messages))
    await connection.execute(
        "INSERT INTO contacts (id, address, address_kind, created_at)"
        " SELECT gen_random_uuid(), a, 'e164', $2 FROM unnest($1::text[]) AS a"
        " ON CONFLICT (address) DO NOTHING",
        addresses,
        now,
    )
    await connection.execute(
        "INSERT INTO conversations (id, contact_id, sender_id, channel, unread_count, created_at)"
        " SELECT gen_random_uuid(), c.id, $2, 'sms', 0, $3 FROM contacts c"
        " WHERE c.address = ANY($1::text[]) ON CONFLICT DO NOTHING",
        addresses,
        sender,
        now,
    )
    conversation_of = {
        row["address"]: row["id"]
        for row in await connection.fetch(
            "SELECT c.address, v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id"
            " WHERE v.sender_id = $1",
            sender,
        )
    }
    await connection.execute(
        "INSERT INTO messages (id, conversation_id, direction, channel, provider,"
        " provider_message_id, from_address, to_address, body, content_type, status, attempts,"
        " created_at, updated_at)"
        " SELECT gen_random_uuid(), v, 'inbound', 'sms', $1, p, f, $2, b, 'text', 'received', 0,"
        " $3, $3 FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[]) AS u(v, p, f, b)",
        provider,
        OUR_NUMBER,
        now,
        [conversation_of[address] for _, address, _ in messages],
        [provider_id for provider_id, _, _ in messages],
        [address for _, address, _ in messages],
        [body for _, _, body in messages],
    )
    last: dict[str, tuple[str, int]] = {}
    for _, address, body in messages:
        count = last.get(address, ("", 0))[1]
        last[address] = (body, count + 1)
    await connection.execute(
        "UPDATE conversations v SET last_message_at = $1, last_inbound_at = $1,"
        " last_message_preview = u.preview, unread_count = v.unread_count + u.n"
        " FROM unnest($2::uuid[], $3::text[], $4::int[]) AS u(id, preview, n) WHERE v.id = u.id",
        now,
        [conversation_of[address] for address in last],
        [body for body, _ in last.values()],
        [count for _, count in last.values()],
    )


RANK = {"submitted": 30, "sent": 40, "delivered": 60}


async def _bare_status(
    connection: asyncpg.Connection, provider: str, parsed: list[dict[str, Any]]
) -> None:
    key = "MessageUUID" if provider == "plivo" else "message_uuid"
    status_key = "Status" if provider == "plivo" else "status"
    ids = list(dict.fromkeys(fields[key] for fields in parsed))
    current = {
        row["provider_message_id"]: [row["id"], row["status"]]
        for row in await connection.fetch(
            "SELECT id, provider_message_id, status FROM messages"
            " WHERE provider = $1 AND provider_message_id = ANY($2::text[]) FOR UPDATE",
            provider,
            ids,
        )
    }
    events = []
    for fields in parsed:
        message = current[fields[key]]
        status = fields[status_key]
        applies = RANK[status] > RANK[message[1]]
        if applies:
            message[1] = status
        dedup = f"{provider}:{fields[key]}:{status}:"
        events.append((message[0], dedup, status, applies, json.dumps(fields)))
    await connection.execute(
        "INSERT INTO message_events (id, message_id, dedup_key, source, provider_status, status,"
        " applied, raw, received_at)"
        " SELECT gen_random_uuid(), m, d, $1, s, s, a, r::jsonb, now()"
        " FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[])"
        " AS u(m, d, s, a, r) ON CONFLICT (dedup_key) DO NOTHING",
        provider,
        *map(list, zip(*events, strict=True)),
    )
    await connection.execute(
        "UPDATE messages m SET status = u.s, updated_at = now()"
        " FROM unnest($1::uuid[], $2::text[]) AS u(id, s) WHERE m.id = u.id AND m.status <> u.s",
        [message_id for message_id, _ in current.values()],
        [status for _, status in current.values()],
    )


# ---------------------------------------------------------------------------- report


def report(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(f"backend {args.backend}, {args.connections} wrk connections, {args.contacts} contacts")
    print(
        f"{'workload':<16}{'target':<12}{'webhooks':>9}{'ingest s':>10}{'applied s':>11}"
        f"{'applied/s':>11}{'CPU us/webhook':>16}"
    )
    for result in results:
        print(
            f"{result.load.name:<16}{result.target:<12}{result.load.requests:>9}"
            f"{result.ingest_s:>10.2f}{result.total_s:>11.2f}{result.rate:>11.0f}"
            f"{result.cpu_us:>16.0f}"
        )
    if args.backend == "sqlite":
        return
    print()
    for name in dict.fromkeys(r.load.name for r in results):
        pair = {r.target: r for r in results if r.load.name == name}
        ratio = pair["ceiling"].total_s / pair["textbridge"].total_s
        verdict = "met" if ratio >= TARGET else "NOT MET"
        print(
            f"{name.upper()} RATIO ceiling/textbridge = {ratio:.3f}   target >= {TARGET}: {verdict}"
        )
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def main() -> int:
    parser = argparse.ArgumentParser(description="Journal apply time vs. a ceiling.")
    parser.add_argument("--kind", choices=(*KINDS, "both"), default="both")
    parser.add_argument("--provider", choices=(*ingest.PROVIDERS, "both"), default="both")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=1_000, help="distinct inbound senders")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--max-seconds", type=int, default=300)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--log-level", default="warning", help="TEXTBRIDGE_LOG_LEVEL for serve")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    args = parser.parse_args()
    if args.requests < 2 or args.contacts < 1:
        parser.error("--requests must be at least 2, --contacts at least 1")
    textbridge = Path(sys.executable).with_name("textbridge")
    workdir = Path(tempfile.mkdtemp(prefix="textbridge-bench-apply-"))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, work folder {workdir}",
        flush=True,
    )
    kinds = KINDS if args.kind == "both" else (args.kind,)
    providers = ingest.PROVIDERS if args.provider == "both" else (args.provider,)
    results: list[Result] = []
    try:
        for kind in kinds:
            for provider in providers:
                port = ingest.free_port()
                load = make_load(kind, provider, args, port, workdir)
                targets = ("textbridge",) if args.backend == "sqlite" else ("ceiling", "textbridge")
                for target in targets:
                    run = run_ceiling if target == "ceiling" else run_textbridge
                    result = run(load, args, port, workdir, textbridge)
                    print(
                        f"  {load.name:<16} {target:<10} {result.total_s:7.2f} s to all applied "
                        f"(ingest {result.ingest_s:.2f} s), {result.rate:6.0f}/s, "
                        f"CPU {result.cpu_us:.0f} us/webhook",
                        flush=True,
                    )
                    results.append(result)
    except (RuntimeError, AssertionError, subprocess.CalledProcessError) as exc:
        print(f"\nBENCH FAILED: {exc!r}\nlogs: {workdir}", file=sys.stderr)
        return 1
    finally:
        if not args.keep and args.backend == "postgresql":
            for name in (DB, CEILING_DB):
                ingest.drop_database(args.admin_url, name)
    report(results, args)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
