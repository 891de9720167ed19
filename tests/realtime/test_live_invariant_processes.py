"""The live-update invariant across processes (PostgreSQL): a client of `serve` A, while random
actions go through `serve` B and the provider simulator (sends, replies, conversations marked
read) and its stream is cut and resumed by `Last-Event-ID` now and then, and the serves'
PostgreSQL listeners are killed now and then (each reconnects): the state it fetched at the
start plus the events pushed to it equals a fresh fetch, and no event came twice."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textbridge.realtime.listener import APPLICATION_NAME

from ..support.database import Database, own_postgres_database
from ..support.inbox_state import State, apply, differences, fetch
from ..support.live import wait_until
from ..support.processes import free_port
from ..support.stream import Received, Stream
from ..support.textbridge import API_KEY, SANDBOX_NUMBER
from ..workers.deployment import Deployment, Serve, deployment

CONTACTS = ("+14155550181", "+14155550182", "+14155550183")
SETTLED = ("delivered", "received")
texts = itertools.count()


@dataclass
class TwoServes:
    deployment: Deployment
    watched: Serve  # A: the client's stream, no workers
    acting: Serve  # B: takes the actions, sends, applies the simulator's webhooks
    database: Database


@pytest.fixture(scope="module")
def two_serves(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoServes]:
    with (
        own_postgres_database() as database,
        deployment(tmp_path_factory.mktemp("invariant"), database.url) as running,
    ):
        port = free_port()
        inbound = f"http://127.0.0.1:{port}/webhooks/plivo/inbound"
        running.start_simulator(wait=False, message_url=inbound)
        watched = running.serve("--no-workers", wait=False)
        acting = running.serve(wait=False, port=port)
        running.wait_ready()
        yield TwoServes(running, watched, acting, database)


Action = tuple[str, int]
actions = st.lists(
    st.tuples(st.sampled_from(["send", "inbound", "read", "reconnect", "kill"]), st.integers(0, 2)),
    min_size=1,
    max_size=6,
)


class Watcher:
    """The client: its state, fetched once, and every event pushed since, applied."""

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.stream = Stream(serve.url, API_KEY)
        self.last_id = self.stream.wait_for("ready").id
        self.applied = 0  # how many of the stream's events are applied
        self.events: list[Received] = []
        with serve.api() as api:
            self.state: State = fetch(api)

    def apply_pushed(self) -> None:
        self.stream.take()
        new = self.stream.taken[self.applied :]
        self.applied += len(new)
        for event in new:
            assert event.event != "reset", "the resume point should still be there"
            self.events.append(event)
            self.last_id = event.id or self.last_id
            apply(self.state, event.event, event.data)

    def reconnect(self, by: str) -> None:
        """Cut the stream (what was in flight is lost), resume from the last id applied."""
        self.stream.close()
        self.apply_pushed()
        self.stream = Stream(self.serve.url, API_KEY, self.last_id, by=by)
        self.applied = 0
        assert self.stream.wait_for("ready").id == self.last_id


def _act(setup: TwoServes, api: httpx.Client, watcher: Watcher, action: Action) -> None:
    kind, who = action
    contact = CONTACTS[who]
    if kind == "send":
        sent = api.post("/api/v1/messages", json={"to": contact, "text": f"out {next(texts)}"})
        assert sent.status_code == 202, sent.text
    elif kind == "inbound":
        with setup.deployment.control() as control:
            body = {"from": contact, "to": SANDBOX_NUMBER, "text": f"in {next(texts)}"}
            posted = control.post("/plivo/inbound", json=body)
        assert posted.status_code == 200, posted.text
        # Not waited for: the reply is applied while the next actions go on (a send's or a
        # mark-read's event must not miss it: `messaging.repository._ANNOUNCE`).
        assert posted.json()["status_code"] == 200, posted.text
    elif kind == "read":
        for conversation in api.get("/api/v1/conversations").json():
            if conversation["contact_address"] == contact:
                api.post(f"/api/v1/conversations/{conversation['id']}/read")
    elif kind == "kill":  # both serves' LISTEN connections: each reconnects and catches up
        setup.database.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
        )
    else:
        watcher.reconnect(by="header" if who % 2 else "query")


@pytest.mark.postgresql_only
@pytest.mark.timeout(300)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions)
def test_pushed_events_across_processes_rebuild_a_fresh_fetch(
    two_serves: TwoServes, actions: list[Action]
) -> None:
    watcher = Watcher(two_serves.watched)
    try:
        with two_serves.acting.api() as api:
            for number, action in enumerate(actions):
                _act(two_serves, api, watcher, action)
                watcher.apply_pushed()
                if number == len(actions) // 2:  # at least once, with events in flight
                    _act(two_serves, api, watcher, ("kill", 0))
                    watcher.reconnect(by="header")
            fresh: State = {}

            def rebuilt() -> bool:
                nonlocal fresh
                watcher.apply_pushed()
                fresh = fetch(api)
                settled = all(m["status"] in SETTLED for m in fresh["messages"].values())
                return settled and watcher.state == fresh

            try:
                wait_until(rebuilt, timeout=20, interval=0.1)
            except BaseException:
                print("DIFF", differences(watcher.state, fresh))
                raise
    finally:
        watcher.stream.close()
    ids = [event.id for event in watcher.events if event.id is not None and event.event != "ready"]
    assert ids == sorted(set(ids)), "every event once, in id order"
