"""The crash test of issue 7: a 10 000-message campaign to the simulator (its own process) on
PostgreSQL, sent by 2 `textbridge worker` processes that are SIGKILLed at random moments (6
times, each restarted at once) while PostgreSQL itself is restarted once.

The simulator's status callbacks flow throughout, as in production: they reach a `serve
--no-workers` (the only process with HTTP here), which journals them, and the workers' journal
applier applies them; so a kill hits the applier mid-batch as well as the dispatcher mid-send.

Afterwards every message is in a final status (delivered, or the failure its destination was
set to) or `unknown`; the simulator received no message twice; every message not `unknown` was
received exactly once, under the provider id we recorded, and every `unknown` one not at all
(a message the simulator took is settled by its callbacks, which name it); no message's history
holds the same provider report, or the same transition, twice; and the journal has no entry
left pending, dead or otherwise unapplied.

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

from textbridge.cli.worker import READY_LINE
from textbridge.db import migrate

from ..support.ci import skip_or_fail
from ..support.database import Database
from ..support.live import wait_until
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
# The simulator retries a refused callback after 4, 8 and 16 times this: 28 s in all, to
# outlast the PostgreSQL restart (while it is down, `serve` answers callbacks 500).
CALLBACK_DELAY_SECONDS = 1.0
# Some destinations fail, so that failures go through the journal too (Plivo's codes).
FATES = {0: ("failed", "50"), 1: ("undelivered", "30")}  # recipient index % 100 -> fate
FINAL = ("delivered", "read", "failed", "rejected", "undelivered")
# Statuses a message may pass through more than once: a retry of a send that never left (an
# error of ours before the provider call, as when PostgreSQL restarts) goes back to `accepted`.
REPEATABLE = ("accepted", "sending")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


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


@pytest.mark.long
@pytest.mark.timeout(1500)  # beyond the scaled waits: those report what is missing
def test_killed_workers_and_a_restarted_postgres_send_nothing_twice(
    server: PostgresServer, tmp_path: Path
) -> None:
    database = Database("postgresql", server.url)
    # Warnings only: a line per request (3 per message in the simulator and in `serve`) costs
    # CPU the processes under test need.
    quiet = {"TEXTBRIDGE_LOG_LEVEL": "warning"}
    with deployment(tmp_path, server.url, LEASE_SECONDS, **quiet) as processes:
        processes.start_simulator(wait=False)
        front = processes.serve("--no-workers", wait=False)
        processes.wait_ready()
        simulator = processes.control()
        simulator.put("/faults", json={"callback_delay_seconds": CALLBACK_DELAY_SECONDS})
        fates = _set_fates(simulator, MESSAGES)
        enqueue(front, database, MESSAGES)
        started = time.monotonic()
        workers = [processes.worker(f"worker-{n}", front.url, wait=False) for n in (1, 2)]
        processes.wait_ready()
        kills = _chaos(processes, workers, server, database)
        # Long: 30 000 callbacks go through one `serve` and the journal after the last kill.
        wait_until(lambda: _unsettled(database) == 0, timeout=300, interval=0.5)
        elapsed = time.monotonic() - started
        received, provider_ids = _received(simulator)
    statuses = dict(database.rows("SELECT status, count(*) FROM messages GROUP BY status"))
    journal = dict(database.rows("SELECT state, count(*) FROM webhook_journal GROUP BY state"))
    print(f"\n{MESSAGES} messages in {elapsed:.1f} s, {len(kills)} kills: {statuses}")
    print(f"journal: {journal}; pending at each kill: {kills}")
    assert len(kills) >= KILLS
    assert any(kills), "no kill came while the applier had work: the test tests the sender only"
    assert sum(statuses.values()) == MESSAGES
    assert set(statuses) <= {*FINAL, "unknown"}, statuses
    assert set(journal) == {"applied"}, journal
    duplicates = [ref for ref, count in Counter(received).items() if count > 1]
    assert duplicates == [], f"{len(duplicates)} messages received more than once"
    rows = database.rows("SELECT id::text, to_address, status, provider_message_id FROM messages")
    for message_id, to, status, provider_id in rows:
        if status == "unknown":
            assert received[message_id] == 0, (message_id, "taken, yet never settled")
            continue
        assert received[message_id] == 1, (message_id, status)
        assert provider_ids[message_id] == provider_id, (message_id, status)
        assert status == fates.get(to, "delivered"), (message_id, to, status)
    assert _repeated_reports(database) == []
    assert _repeated_transitions(database) == []


def _set_fates(simulator: httpx.Client, count: int) -> dict[str, str]:
    """Make every recipient whose index ends in a `FATES` key fail; returns the number and
    the status each of them must end in."""
    fates: dict[str, str] = {}
    for n in range(count):
        fate = FATES.get(n % 100)
        if fate is None:
            continue
        outcome, code = fate
        number = _number(n)
        body = {"outcome": outcome, "error_code": code, "provider": "plivo"}
        simulator.put(f"/numbers/{number}", json=body).raise_for_status()
        fates[number] = outcome
    return fates


def _repeated_reports(database: Database) -> list[Any]:
    """Provider reports kept twice for one message (the journal or the applier let a
    redelivery or a re-applied batch through)."""
    return database.rows(
        "SELECT message_id, provider_status, count(*) FROM message_events"
        " WHERE source <> 'textbridge' GROUP BY message_id, provider_status HAVING count(*) > 1"
        " LIMIT 5"
    )


def _repeated_transitions(database: Database) -> list[Any]:
    """A message that moved into the same status twice (two `submitted`: sent twice; two
    `delivered`: a report applied twice)."""
    return database.rows(
        "SELECT message_id, status, count(*) FROM message_events"
        f" WHERE applied AND status NOT IN ({_sql_list(REPEATABLE)})"
        " GROUP BY message_id, status HAVING count(*) > 1 LIMIT 5"
    )


def enqueue(front: Serve, database: Database, count: int) -> None:
    """Put `count` messages in the queue as the issue has it: one campaign of `count` distinct
    recipients, created and started through the API (recipients in chunks under the body
    limit), with quiet hours off so that every message is due at once whatever the hour."""
    numbers = [_number(n) for n in range(count)]
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


def _number(n: int) -> str:
    return f"+1{AREAS[n // 10_000]}555{n % 10_000:04d}"


def _chaos(
    processes: Deployment, workers: list[Command], server: PostgresServer, database: Database
) -> list[int]:
    """Kill a random worker at random moments and restart it at once; restart PostgreSQL
    after the `RESTART_POSTGRES_AFTER_KILL`-th kill. Returns, for each kill, how many journal
    entries were waiting for the applier at that moment."""
    chaos = random.Random()
    pending: list[int] = []
    while len(pending) < KILLS:
        # A pause between kills is the point here, not a wait for a condition.
        time.sleep(chaos.uniform(*PAUSE_BETWEEN_KILLS))
        victim = chaos.choice(workers)
        waiting = _pending(database)
        victim.kill()
        pending.append(waiting)
        if len(pending) == RESTART_POSTGRES_AFTER_KILL:
            server.restart()
        victim.start_logged(READY_LINE, timeout=15)
        unsettled = _unsettled(database)
        print(f"kill {len(pending)}: {waiting} journal entries pending, {unsettled} unsettled")
    return pending


def _pending(database: Database) -> int:
    return int(database.scalar("SELECT count(*) FROM webhook_journal WHERE state = 'pending'"))


def _unsettled(database: Database) -> int:
    """Messages not yet final or `unknown`, plus journal entries not yet applied."""
    settled = _sql_list((*FINAL, "unknown"))
    messages = database.scalar(f"SELECT count(*) FROM messages WHERE status NOT IN ({settled})")
    return int(messages) + _pending(database)


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
