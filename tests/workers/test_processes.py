"""Several processes on one PostgreSQL database, coordinated only through it: live events
reach the streams of every `serve`, a `serve --no-workers` leaves the sending to a
`textbridge worker`, and a listener whose connection is killed reconnects without losing an
event. On SQLite (and in sandbox mode) `worker` and `serve --no-workers` refuse to start."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from textbridge.cli import app
from textbridge.dispatch.dispatcher import IDLE_POLL_SECONDS
from textbridge.realtime.listener import APPLICATION_NAME

from ..support.database import Database, own_postgres_database
from ..support.live import wait_until
from ..support.processes import Command
from ..support.textbridge import CONTACT
from .deployment import (
    AUTH_ID,
    AUTH_TOKEN,
    READY_LINE,
    Deployment,
    Serve,
    StreamEvent,
    deployment,
    drain,
    event_stream,
)


@dataclass
class Processes:
    """The simulator, two `serve --no-workers` and one `textbridge worker`."""

    deployment: Deployment
    front: Serve
    other: Serve
    worker: Command
    database: Database


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    # One set of processes for the module: each start-up costs seconds on a loaded machine.
    with (
        own_postgres_database() as database,
        deployment(tmp_path_factory.mktemp("processes"), database.url) as running,
    ):
        running.start_simulator(wait=False)
        front = running.serve("--no-workers", wait=False)
        other = running.serve("--no-workers", wait=False)
        worker = running.worker("worker", front.url, wait=False)
        running.wait_ready()
        yield Processes(running, front, other, worker, database)


def _wait_for(events: queue.Queue[StreamEvent], kind: str, **data: object) -> StreamEvent:
    """The first event of `kind` whose data has the given values (others are skipped)."""
    seen: list[StreamEvent] = []

    def found() -> StreamEvent | None:
        seen.extend(drain(events))
        for event in seen:
            if event.event == kind and all(event.data.get(k) == v for k, v in data.items()):
                return event
        return None

    return wait_until(found, timeout=30, interval=0.05)


def _send(serve: Serve, text: str) -> str:
    with serve.api() as api:
        sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": text})
    assert sent.status_code == 202, sent.text
    return str(sent.json()["id"])


@pytest.mark.timeout(300)
def test_events_caused_through_one_serve_or_a_worker_reach_the_stream_of_another(
    processes: Processes,
) -> None:
    with event_stream(processes.other) as events:
        message_id = _send(processes.front, "across")
        created = _wait_for(events, "message.created", id=message_id)
        assert created.data["text"] == "across"
        # Sent by the worker; its callbacks journaled by `front`, applied by the worker.
        delivered = _wait_for(events, "message.status", id=message_id, status="delivered")
        assert delivered.id > created.id


@pytest.mark.timeout(300)
def test_a_message_accepted_by_serve_without_workers_is_sent_by_a_worker(
    processes: Processes,
) -> None:
    processes.worker.kill()  # SIGKILL, waited for: only the two HTTP-only `serve`s run now
    message_id = _send(processes.front, "via a worker")
    with processes.front.api() as api, processes.deployment.control() as simulator:
        # Proving that something does not happen takes a bounded observation: a dispatcher
        # in either `serve` would claim the message on the accept's wake-up (milliseconds) or
        # at the latest on its idle poll (IDLE_POLL_SECONDS), so two polls and a half without
        # a claim show that neither dispatches, at a cost of 2.5 s. Watched throughout, so
        # that a claim that ended back in `accepted` (a retry) is seen too.
        deadline = time.monotonic() + 2.5 * IDLE_POLL_SECONDS
        while time.monotonic() < deadline:
            message = api.get(f"/api/v1/messages/{message_id}").json()
            assert (message["status"], message["attempts"]) == ("accepted", 0), message
            outbound = simulator.get("/messages", params={"direction": "outbound"}).json()
            assert "via a worker" not in [sent["text"] for sent in outbound]
            time.sleep(0.1)
        processes.worker.start_logged(READY_LINE)
        wait_until(
            lambda: api.get(f"/api/v1/messages/{message_id}").json()["status"] == "delivered",
            timeout=30,
            interval=0.1,
        )
        outbound = simulator.get("/messages", params={"direction": "outbound"}).json()
        assert [sent["text"] for sent in outbound].count("via a worker") == 1


@pytest.mark.timeout(300)
def test_a_killed_listener_reconnects_and_no_event_is_lost(processes: Processes) -> None:
    database = processes.database
    listeners = (
        "SELECT count(*) FROM pg_stat_activity"
        f" WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
    )
    wait_until(lambda: database.scalar(listeners) == 3, timeout=30)
    with event_stream(processes.other) as events:
        killed = database.scalar(listeners.replace("count(*)", "count(pg_terminate_backend(pid))"))
        assert killed == 3
        ids = [_send(processes.front, f"m{n}") for n in range(20)]
        seen: list[StreamEvent] = []

        def all_delivered() -> bool:
            seen.extend(drain(events))
            done = {e.data["id"] for e in seen if e.data.get("status") == "delivered"}
            return done >= set(ids)

        wait_until(all_delivered, timeout=60, interval=0.05)
        wait_until(lambda: database.scalar(listeners) == 3, timeout=30)
    numbers = [event.id for event in seen]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "in order, none lost"


@pytest.mark.parametrize(
    "database_url", ["sqlite+aiosqlite:///./t.db", "postgresql+asyncpg://db/x"]
)
def test_worker_and_serve_without_workers_refuse_one_process_setups(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite, or sandbox mode (no provider credentials) on PostgreSQL: one `serve` does all."""
    for name in list(os.environ):
        if name.startswith(("TEXTBRIDGE_", "PLIVO_", "VONAGE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEXTBRIDGE_DATABASE_URL", database_url)
    if database_url.startswith("sqlite"):
        monkeypatch.setenv("PLIVO_AUTH_ID", AUTH_ID)
        monkeypatch.setenv("PLIVO_AUTH_TOKEN", AUTH_TOKEN)
    reason = "needs PostgreSQL" if database_url.startswith("sqlite") else "needs provider"
    for args in (["worker"], ["serve", "--no-workers"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        [line] = result.stderr.strip().splitlines()
        assert reason in line, result.stderr
