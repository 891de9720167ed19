"""Export and erasure of one person with many messages: time, and the export's peak memory.

    cd /work/wt/rights && uv run python bench/contact_rights.py [--messages 10000 100000]
        [--postgres-admin-url postgresql://postgres@127.0.0.1:5432/postgres]

For each count: a fresh migrated database (SQLite in a temporary folder; with
`--postgres-admin-url`, also a PostgreSQL database `textbridge_bench_rights`) holding one contact
with that many messages (a 120-character text each, every second one outbound with one status
event carrying a 300-byte raw payload). Then, each as its own process, the way an operator runs
them:
- `textbridge contacts export ADDRESS --output FILE`: wall time (after the imports), the
  file's size, and the child's peak resident set (`ru_maxrss`) minus that of `textbridge
  --help` (the interpreter and imports), so the figure is what the export itself holds;
- `textbridge contacts erase ADDRESS --yes`: wall time (one transaction).
Memory that stays flat from 10 000 to 100 000 messages is the bound the export promises.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from textbridge.db import migrate
from textbridge.models import Contact, Conversation, Message, MessageEvent, Sender

ADDRESS = "+14155550177"
CHUNK = 5000
BODY = "Your order 12345 has shipped and will arrive on Thursday between 9 and 11. " * 2


PEAK = (
    "import resource, sys, time\n"
    "from textbridge.cli import app\n"
    "started = time.perf_counter()\n"
    "try:\n"
    "    app(sys.argv[1:], prog_name='textbridge')\n"
    "except SystemExit as exit:\n"
    "    code = exit.code\n"
    "elapsed = time.perf_counter() - started\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print('peak', peak, elapsed, file=sys.stderr)\n"
)


def _child_peak_kib(*args: str, env: dict[str, str]) -> tuple[float, int]:
    """Run `textbridge ARGS` in its own process: the command's wall time (imports excluded:
    they take seconds on a loaded machine) and the process's peak RSS (KiB)."""
    command = [sys.executable, "-c", PEAK, *args]
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    lines = done.stderr.decode().strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("peak "):
        raise SystemExit(done.stderr.decode())
    _, peak, elapsed = lines[-1].split()
    return float(elapsed), int(peak)


async def _seed(url: str, messages: int) -> None:
    engine = create_async_engine(url)
    now = datetime.now(UTC) - timedelta(days=1)
    sender, contact, conversation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            insert(Sender).values(
                id=sender, provider="plivo", channel="sms", address="+14155550100", created_at=now
            )
        )
        await connection.execute(
            insert(Contact).values(
                id=contact, address=ADDRESS, name="Zelda Quintessa", created_at=now
            )
        )
        await connection.execute(
            insert(Conversation).values(
                id=conversation, contact_id=contact, sender_id=sender, channel="sms", created_at=now
            )
        )
        for start in range(0, messages, CHUNK):
            rows, events = _rows(conversation, now, start, min(CHUNK, messages - start))
            await connection.execute(insert(Message), rows)
            if events:
                await connection.execute(insert(MessageEvent), events)
    await engine.dispose()


def _rows(
    conversation: uuid.UUID, now: datetime, start: int, count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, events = [], []
    for index in range(start, start + count):
        outbound = index % 2 == 1
        message = uuid.uuid4()
        moment = now + timedelta(milliseconds=index)
        rows.append(
            {
                "id": message,
                "conversation_id": conversation,
                "direction": "outbound" if outbound else "inbound",
                "channel": "sms",
                "provider": "plivo",
                "provider_message_id": str(uuid.uuid4()),
                "from_address": "+14155550100" if outbound else ADDRESS,
                "to_address": ADDRESS if outbound else "+14155550100",
                "body": f"{index} {BODY}"[:120],
                "status": "delivered" if outbound else "received",
                "created_at": moment,
                "updated_at": moment,
            }
        )
        if outbound:
            raw = {"MessageUUID": str(message), "To": ADDRESS[1:], "Status": "delivered"}
            raw["Padding"] = "x" * 200
            events.append(
                {
                    "id": uuid.uuid4(),
                    "message_id": message,
                    "dedup_key": f"plivo:{message}:delivered",
                    "source": "plivo",
                    "provider_status": "delivered",
                    "status": "delivered",
                    "raw": raw,
                    "received_at": moment,
                }
            )
    return rows, events


def _postgres(admin_url: str) -> str:
    async def recreate() -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text("DROP DATABASE IF EXISTS textbridge_bench_rights"))
            await connection.execute(text("CREATE DATABASE textbridge_bench_rights"))
        await engine.dispose()

    asyncio.run(recreate())
    return admin_url.rsplit("/", 1)[0] + "/textbridge_bench_rights"


def run(url: str, messages: int, folder: Path, baseline_kib: int) -> str:
    migrate.upgrade(url)
    asyncio.run(_seed(url, messages))
    env = {**os.environ, "TEXTBRIDGE_DATABASE_URL": url}
    output = folder / f"export-{messages}.json"
    exported, peak = _child_peak_kib("contacts", "export", ADDRESS, "-o", str(output), env=env)
    erased, _ = _child_peak_kib("contacts", "erase", ADDRESS, "--yes", env=env)
    size = output.stat().st_size / 1e6
    held = (peak - baseline_kib) / 1024
    backend = url.split(":", 1)[0].split("+")[0]
    return (
        f"| {backend} | {messages} | {exported:.1f} s | {size:.1f} MB | {held:.0f} MB "
        f"| {erased:.1f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--postgres-admin-url", default=None)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="textbridge-bench-rights-") as name:
        folder = Path(name)
        env = {**os.environ, "TEXTBRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/none.db"}
        _, baseline = _child_peak_kib("--help", env=env)
        print("| database | messages | export | file | export memory over start-up | erase |")
        print("|---|---:|---:|---:|---:|---:|")
        for count in sorted(arguments.messages):
            url = f"sqlite+aiosqlite:///{folder}/bench-{count}.db"
            print(run(url, count, folder, baseline), flush=True)
            if arguments.postgres_admin_url:
                pg_url = _postgres(arguments.postgres_admin_url)
                print(run(pg_url, count, folder, baseline), flush=True)


if __name__ == "__main__":
    main()
