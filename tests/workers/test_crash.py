"""The crash test of issue 7: a 10 000-message campaign to the simulator (its own process) on
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
AREAS = (415, 212, 305, 312, 617, 206, 303, 512, 602, 713)  # 10 000 numbers each
CAMPAIGN_CHUNK = 2_000
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
    """Put `count` messages in the queue as the issue has it: one campaign of `count` distinct
    recipients, created and started through the API (recipients in chunks under the body
    limit), with quiet hours off so that every message is due at once whatever the hour."""
    numbers = [f"+1{AREAS[n // 10_000]}555{n % 10_000:04d}" for n in range(count)]
    with front.api() as api:
        created = api.post(
            "/api/v1/campaigns", json={"name": "crash", "text": "crash test", "quiet_hours": False}
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["campaign"]["id"]
        for start in range(0, count, CAMPAIGN_CHUNK):
            chunk = [{"to": number} for number in numbers[start : start + CAMPAIGN_CHUNK]]
            added = api.post(
                f"/api/v1/campaigns/{campaign_id}/recipients", json={"recipients": chunk}
            )
            assert added.status_code == 200, added.text
            assert added.json()["accepted"] == len(chunk), added.json()["invalid"][:3]
        started = api.post(f"/api/v1/campaigns/{campaign_id}/start")
        assert started.status_code == 200, started.text
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
