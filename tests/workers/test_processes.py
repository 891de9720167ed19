"""Several processes on one PostgreSQL database, coordinated only through it: live events
reach the streams of every `serve`, a `serve --no-workers` leaves the sending to a
`textbridge worker`, and a listener whose connection is killed reconnects without losing an
event. On SQLite (and in sandbox mode) `worker` and `serve --no-workers` refuse to start."""

from __future__ import annotations

import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from textbridge.realtime.listener import APPLICATION_NAME

from ..support.ci import skip_or_fail
from ..support.database import Database, drop_postgres_database, postgres_database
from ..support.live import wait_until
from ..support.processes import TEXTBRIDGE, environment
from ..support.textbridge import CONTACT
from .deployment import Deployment, StreamEvent, deployment, drain, event_stream


@pytest.fixture
def postgres() -> Iterator[Database]:
    outcome = postgres_database()
    if isinstance(outcome, str):
        skip_or_fail(outcome)
    database, name = outcome
    yield database
    drop_postgres_database(name)


@pytest.fixture
def processes(postgres: Database, tmp_path: Path) -> Iterator[Deployment]:
    with deployment(tmp_path, postgres.url) as running:
        running.start_simulator().close()
        yield running


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


@pytest.mark.timeout(300)
def test_an_event_caused_through_one_serve_reaches_the_stream_of_another(
    processes: Deployment,
) -> None:
    first, second = processes.serve(), processes.serve()
    with event_stream(second) as events, first.api() as api:
        sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": "across"})
        assert sent.status_code == 202, sent.text
        created = _wait_for(events, "message.created", id=sent.json()["id"])
        assert created.data["text"] == "across"
        delivered = _wait_for(events, "message.status", id=sent.json()["id"], status="delivered")
        assert delivered.id > created.id


@pytest.mark.timeout(300)
def test_a_message_accepted_by_serve_without_workers_is_delivered_by_a_worker(
    processes: Deployment, postgres: Database
) -> None:
    front = processes.serve("--no-workers")
    with event_stream(front) as events, front.api() as api:
        sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": "via a worker"})
        assert sent.status_code == 202, sent.text
        message_id = sent.json()["id"]
        # Nothing in `serve --no-workers` sends it.
        assert postgres.scalar("SELECT status FROM messages") == "accepted"
        processes.worker("worker", front.url)
        # The worker sends it, the simulator's callbacks are journaled by `serve` and applied
        # by the worker, and the worker's events reach the stream of `serve`.
        _wait_for(events, "message.status", id=message_id, status="delivered")
        assert api.get(f"/api/v1/messages/{message_id}").json()["status"] == "delivered"


@pytest.mark.timeout(300)
def test_a_killed_listener_reconnects_and_no_event_is_lost(
    processes: Deployment, postgres: Database
) -> None:
    first, second = processes.serve(), processes.serve()
    listeners = (
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{APPLICATION_NAME}'"
    )
    wait_until(lambda: postgres.scalar(listeners) == 2, timeout=30)
    with event_stream(second) as events, first.api() as api:
        killed = postgres.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE application_name = '{APPLICATION_NAME}'"
        )
        assert killed == 2
        ids = [
            api.post("/api/v1/messages", json={"to": CONTACT, "text": f"m{n}"}).json()["id"]
            for n in range(20)
        ]
        seen: list[StreamEvent] = []

        def all_created() -> bool:
            seen.extend(drain(events))
            created = {e.data["id"] for e in seen if e.event == "message.created"}
            return created >= set(ids)

        wait_until(all_created, timeout=30, interval=0.05)
        wait_until(lambda: postgres.scalar(listeners) == 2, timeout=30)
    numbers = [event.id for event in seen]
    assert numbers == sorted(numbers), "events arrive in id order"
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "no id is missing"


def test_worker_and_serve_without_workers_refuse_sqlite(tmp_path: Path) -> None:
    env = environment(TEXTBRIDGE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    for args in (["worker"], ["serve", "--no-workers"]):
        done = subprocess.run(
            [*TEXTBRIDGE, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done
        [line] = done.stderr.strip().splitlines()
        assert "needs PostgreSQL" in line, done.stderr
