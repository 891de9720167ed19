"""SIGTERM drains a `textbridge worker` (and a `serve`): it claims nothing more, the sends it
has at the provider (held there by the simulator) finish and are recorded as `submitted`, the
messages it never claimed stay `accepted`, and it exits (a worker with 0) within the grace.
Nothing is left in `sending`, nothing becomes `unknown`."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from textbridge.messaging import status

from ..support.database import Database, own_postgres_database
from ..support.live import scaled, wait_until
from ..support.processes import Command
from .deployment import Deployment, Serve, deployment

MESSAGES = 20
CONCURRENCY = 16  # TEXTBRIDGE_DISPATCH_CONCURRENCY's default
SEND_DELAY = 6  # the simulator holds each answer this long (the call deadline is 30 s)
GRACE = 30  # TEXTBRIDGE_SHUTDOWN_GRACE_SECONDS's default


@pytest.fixture
def postgres() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


def _statuses(database: Database) -> dict[str, int]:
    rows = database.rows("SELECT status, count(*) FROM messages GROUP BY status")
    return {name: count for name, count in rows}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_sigterm_finishes_the_sends_in_flight_and_leaves_the_rest_accepted(
    command: str, postgres: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database = postgres
    folder = tmp_path_factory.mktemp("graceful")
    with deployment(folder, database.url, lease_seconds=60) as running:
        front, worker = _start(running, command)
        with running.control() as control:
            faults = {"send_delay_seconds": SEND_DELAY, "callback_delay_seconds": 600}
            control.put("/faults", json={**faults, "record_sends": True}).raise_for_status()
            with front.api() as api:
                for n in range(MESSAGES):  # one recipient each: no order holds any back
                    sent = api.post(
                        "/api/v1/messages", json={"to": f"+1415555{n:04d}", "text": "hi"}
                    )
                    assert sent.status_code == 202, sent.text
            wait_until(lambda: _statuses(database).get(status.SENDING) == CONCURRENCY, 30)
            process = worker.process
            assert process is not None
            stopped_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            # `serve`: uvicorn re-raises the signal once its graceful shutdown is done.
            expected = 0 if command == "worker" else -signal.SIGTERM
            assert process.wait(scaled(GRACE)) == expected, worker.log.read_text()
            took = time.monotonic() - stopped_at
            sent_calls = control.get("/sends").json()
    after = _statuses(database)
    assert status.SENDING not in after, after
    assert status.UNKNOWN not in after, after
    taken = {call["reference"] for call in sent_calls if call["taken"]}
    submitted = {
        str(row[0]) for row in database.rows("SELECT id FROM messages WHERE status = 'submitted'")
    }
    assert submitted == taken, (after, len(taken))
    assert len(submitted) >= CONCURRENCY, after
    assert after == {status.SUBMITTED: len(submitted), status.ACCEPTED: MESSAGES - len(submitted)}
    assert took < GRACE, f"{command} took {took:.1f} s to stop"
    assert "dispatcher stopping" in worker.log.read_text()


def _start(running: Deployment, command: str) -> tuple[Serve, Command]:
    """The serve that takes the API sends, and the process that sends them."""
    running.start_simulator(wait=False)
    if command == "serve":
        serve = running.serve(wait=False)
        running.wait_ready()
        return serve, serve.command
    front = running.serve("--no-workers", wait=False)
    worker = running.worker("worker", front.url, wait=False)
    running.wait_ready()
    return front, worker
