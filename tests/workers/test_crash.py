"""The crash test of issue 7: 10 000 messages to the simulator (its own process) on
PostgreSQL, sent by 2 `textbridge worker` processes that are SIGKILLed at random moments (6
times, each restarted at once) while PostgreSQL itself is restarted once.

Afterwards every message is past the dispatcher (a final status of the send: `submitted` or a
failure) or `unknown`; the simulator received no message twice; every message not `unknown`
was received exactly once, under the provider id we recorded. The simulator's status callbacks
are held back for the length of the test: what is under test is the send, not the journal.

PostgreSQL is a server of the test's own (`support/postgres_server.py`), so that restarting it
cuts no one else's connections. `TEXTBRIDGE_CRASH_MESSAGES` sets the number of messages (for a
quick run while developing); the issue's figure is the default.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from textbridge.db import migrate

from ..support.ci import skip_or_fail
from ..support.database import Database
from ..support.live import scaled, wait_until
from ..support.postgres_server import PostgresServer, unavailable
from ..support.processes import Command
from .deployment import Deployment, Serve, deployment

MESSAGES = int(os.environ.get("TEXTBRIDGE_CRASH_MESSAGES", "10000"))
RECIPIENTS = 100
KILLS = 6
RESTART_POSTGRES_AFTER_KILL = 2
LEASE_SECONDS = 5  # so that the sends interrupted by a kill settle as `unknown` quickly
PAUSE_BETWEEN_KILLS = (0.5, 4.0)
SETTLED = ("submitted", "sent", "delivered", "read", "failed", "rejected", "undelivered")


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    reason = unavailable()
    if reason is not None:
        skip_or_fail(reason)
    own = PostgresServer()
    try:
        own.start()
        migrate.upgrade(own.url)
        yield own
    finally:
        own.stop()


@pytest.mark.timeout(900)
def test_killed_workers_and_a_restarted_postgres_send_nothing_twice(
    server: PostgresServer, tmp_path: Path
) -> None:
    database = Database("postgresql", server.url)
    with deployment(tmp_path, server.url, lease_seconds=LEASE_SECONDS) as processes:
        processes.start_simulator(wait=False)
        front = processes.serve("--no-workers", wait=False)
        processes.wait_ready()
        simulator = processes.control()
        # Callbacks after the test: the sends alone decide each message's status.
        simulator.put("/faults", json={"callback_delay_seconds": 3600})
        enqueue(front, database, MESSAGES)
        started = time.monotonic()
        workers = [processes.worker(f"worker-{n}", front.url, wait=False) for n in (1, 2)]
        processes.wait_ready()
        kills = _chaos(processes, workers, server, database)
        wait_until(lambda: _in_flight(database) == 0, timeout=300, interval=0.5)
        elapsed = time.monotonic() - started
        received, provider_ids = _received(simulator)
    statuses = dict(database.rows("SELECT status, count(*) FROM messages GROUP BY status"))
    print(f"\n{MESSAGES} messages in {elapsed:.1f} s, {kills} kills: {statuses}")
    assert kills >= KILLS
    assert sum(statuses.values()) == MESSAGES
    assert set(statuses) <= {*SETTLED, "unknown"}, statuses
    duplicates = [ref for ref, count in Counter(received).items() if count > 1]
    assert duplicates == [], f"{len(duplicates)} messages received more than once"
    rows = database.rows("SELECT id::text, status, provider_message_id FROM messages")
    for message_id, status, provider_id in rows:
        if status != "unknown":
            assert received[message_id] == 1, (message_id, status)
            assert provider_ids[message_id] == provider_id, (message_id, status)


def enqueue(front: Serve, database: Database, count: int) -> None:
    """Put `count` messages to `RECIPIENTS` recipients in the queue, fast: one through the API
    for each recipient (contact, conversation, sender), the rest copied from those in one
    INSERT. The one place to switch to a campaign once campaigns exist."""
    with front.api() as api:
        for n in range(RECIPIENTS):
            sent = api.post("/api/v1/messages", json={"to": f"+1415555{2000 + n}", "text": "#0"})
            assert sent.status_code == 202, sent.text
    columns = [
        name
        for (name,) in database.rows(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'messages' ORDER BY ordinal_position"
        )
    ]
    made = {
        "id": "gen_random_uuid()",
        "body": "'#' || n",
        "idempotency_key": "NULL",
        "created_at": "clock_timestamp()",
        "updated_at": "clock_timestamp()",
    }
    values = ", ".join(made.get(column, column) for column in columns)
    copies = -(-count // RECIPIENTS) - 1
    database.rows(
        f"INSERT INTO messages ({', '.join(columns)})"
        f" SELECT {values} FROM messages, generate_series(1, {copies}) AS n"
        f" ORDER BY n LIMIT {count - RECIPIENTS}"
    )
    assert database.scalar("SELECT count(*) FROM messages WHERE status = 'accepted'") == count


def _chaos(
    processes: Deployment, workers: list[Command], server: PostgresServer, database: Database
) -> int:
    """Kill a random worker at random moments and restart it at once; restart PostgreSQL
    after the `RESTART_POSTGRES_AFTER_KILL`-th kill. Returns how many kills there were."""
    chaos = random.Random()
    kills = 0
    while kills < KILLS:
        # A pause between kills is the point here, not a wait for a condition.
        time.sleep(chaos.uniform(*PAUSE_BETWEEN_KILLS))
        victim = chaos.choice(workers)
        victim.kill()
        kills += 1
        if kills == RESTART_POSTGRES_AFTER_KILL:
            server.restart()
        victim.start_logged("textbridge worker: running", timeout=scaled(15))
        print(f"kill {kills}: {MESSAGES - _in_flight(database)} of {MESSAGES} settled")
    return kills


def _in_flight(database: Database) -> int:
    return int(
        database.scalar("SELECT count(*) FROM messages WHERE status IN ('accepted', 'sending')")
    )


def _received(simulator: httpx.Client) -> tuple[Counter[str], dict[str, str]]:
    """How often the simulator received each message, by our reference (the status callback
    URL names the message), and the simulator's uuid for each."""
    answer = simulator.get("/messages", params={"direction": "outbound"})
    answer.raise_for_status()
    messages: list[dict[str, Any]] = answer.json()
    counts: Counter[str] = Counter()
    uuids: dict[str, str] = {}
    for message in messages:
        ref = parse_qs(urlsplit(str(message["callback_url"])).query)["ref"][0]
        counts[ref] += 1
        uuids[ref] = str(message["message_uuid"])
    return counts, uuids
