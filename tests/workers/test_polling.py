"""Polling alone delivers the work (PostgreSQL): a `textbridge worker` whose LISTEN connection
never gets through (a proxy refuses every connection that names the listener; the pool's pass)
hears no NOTIFY, yet it sends a message a `serve --no-workers` accepted within the dispatcher's
poll interval, and applies the status callbacks that `serve` journaled within the applier's.
NOTIFY is a hint that saves a poll interval, never the only way work arrives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from textbridge.dispatch.dispatcher import IDLE_POLL_SECONDS as DISPATCH_POLL_SECONDS
from textbridge.realtime.listener import APPLICATION_NAME
from textbridge.webhooks.applier import IDLE_POLL_SECONDS as APPLY_POLL_SECONDS

from ..support.database import Database, own_postgres_database
from ..support.live import wait_until
from ..support.proxy import FreezableProxy
from ..support.textbridge import CONTACT
from .deployment import Serve, deployment

MESSAGES = 3
# A pass takes time too: the message is claimed, sent and recorded after the poll that finds it.
PASS_SECONDS = 1.0
LISTENERS = (
    "SELECT count(*) FROM pg_stat_activity"
    f" WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
)


@pytest.fixture
def postgres() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


@pytest.mark.timeout(300)
def test_a_worker_that_cannot_listen_still_sends_and_applies_by_polling(
    postgres: Database, tmp_path: Path
) -> None:
    database = postgres
    url = make_url(database.url)
    proxy = FreezableProxy(url.host or "127.0.0.1", url.port or 5432, APPLICATION_NAME.encode())
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with deployment(tmp_path, database.url) as running:
            running.start_simulator(wait=False)
            front = running.serve("--no-workers", wait=False)
            running.wait_ready()
            running.worker("worker", front.url, database_url=proxied)
            # Its listener tried and was turned away; `front`'s (direct) is the only one.
            wait_until(lambda: proxy.refused >= 1, timeout=30)
            assert database.scalar(LISTENERS) == 1
            picked_up = [_send_and_time(front) for _ in range(MESSAGES)]
            assert database.scalar(LISTENERS) == 1
            assert proxy.refused >= 1
    finally:
        proxy.close()
    print(f"\npicked up after {', '.join(f'{s:.2f}' for s in picked_up)} s (no NOTIFY)")


def _send_and_time(front: Serve) -> float:
    """Send one message through `front`; wait until the worker took it (within a dispatch
    poll interval and a pass) and until its callbacks are applied (an apply poll interval);
    returns how long the worker took to pick it up."""
    with front.api() as api:
        sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": "polled"})
        accepted = time.monotonic()
        assert sent.status_code == 202, sent.text
        message_id = sent.json()["id"]

        def status() -> str:
            return str(api.get(f"/api/v1/messages/{message_id}").json()["status"])

        wait_until(lambda: status() != "accepted", DISPATCH_POLL_SECONDS + PASS_SECONDS, 0.02)
        picked_up = time.monotonic() - accepted
        # The simulator calls back about 0.05 s apart (queued, sent, delivered); `front`
        # journals them, the worker's applier finds them on its next poll.
        wait_until(lambda: status() == "delivered", APPLY_POLL_SECONDS + PASS_SECONDS, 0.02)
    return picked_up
