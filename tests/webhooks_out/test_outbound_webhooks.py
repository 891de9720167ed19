"""Outbound webhooks end to end: a real `serve` (app, workers, simulator) on SQLite and on
PostgreSQL, a real receiver on 127.0.0.1 (sandbox mode allows loopback), and the README's own
verification snippet run against what arrived."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.runtime import webhook_deliverer

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge, running_textbridge
from .receiver import Received, Receiver, Reply, receiver

OTHER = "+14155550177"
ALL_TYPES = ["message.created", "message.status", "conversation.updated"]
README = Path(__file__).parents[2] / "README.md"

Verify = Callable[[str, dict[str, str], bytes], bool]


def readme_verify() -> Verify:
    """The `verify` function exactly as the README shows it to customers."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    snippet = next(block for block in blocks if "def verify(" in block)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify: Verify = namespace["verify"]
    return verify


@contextmanager
def serving(database: Database, tmp_path: Path, **overrides: Any) -> Iterator[Textbridge]:
    with running_textbridge(database, tmp_path, **overrides) as textbridge:
        yield textbridge


def subscribe(textbridge: Textbridge, url: str, types: list[str] = ALL_TYPES) -> dict[str, Any]:
    response = textbridge.api.post(
        "/api/v1/webhook-subscriptions", json={"url": url, "event_types": types}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries(textbridge: Textbridge, subscription_id: str, **params: str) -> list[Any]:
    response = textbridge.api.get(
        f"/api/v1/webhook-subscriptions/{subscription_id}/deliveries", params=params
    )
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


def events_of(hooks: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for body in hooks.bodies()]


def test_a_send_and_an_inbound_arrive_signed(database: Database, tmp_path: Path) -> None:
    verify = readme_verify()
    with receiver() as hooks, serving(database, tmp_path) as textbridge:
        subscription = subscribe(textbridge, hooks.url)
        sent = textbridge.send(text="outbound hello")
        inbound_id = textbridge.inbound("inbound hello")

        def arrived() -> bool:
            texts = {
                (event["type"], event["data"].get("text"))
                for event in events_of(hooks)
                if event["type"] == "message.created"
            }
            statuses = [e for e in events_of(hooks) if e["type"] == "message.status"]
            return {
                ("message.created", "outbound hello"),
                ("message.created", "inbound hello"),
            } <= texts and bool(statuses)

        wait_until(arrived, timeout=15)
        for request in hooks.received:
            assert verify(subscription["secret"], request.headers, request.body)
            assert request.headers["webhook-signature"].startswith("v1,")
            assert not verify("whsec_" + "A" * 44, request.headers, request.body)
            assert not verify(subscription["secret"], request.headers, request.body + b" ")
        created = [e for e in events_of(hooks) if e["type"] == "message.created"]
        assert {e["data"]["id"] for e in created} >= {sent["id"]}
        assert any(e["data"]["direction"] == "inbound" for e in created), inbound_id
        assert {e["type"] for e in events_of(hooks)} >= {"conversation.updated"}

        logged = wait_until(lambda: _all_delivered(textbridge, subscription["id"], hooks))
        ids = {request.headers["webhook-id"] for request in hooks.received}
        assert ids == {row["webhook_id"] for row in logged}
        assert all(row["last_status_code"] == 200 and row["attempts"] == 1 for row in logged)


def _all_delivered(
    textbridge: Textbridge, subscription_id: str, hooks: Receiver
) -> list[Any] | None:
    rows = deliveries(textbridge, subscription_id)
    received = len(hooks.received)
    done = rows and all(row["status"] == "delivered" for row in rows) and len(rows) == received
    return rows if done else None


def test_retry_after_is_honoured(database: Database, tmp_path: Path) -> None:
    """A 429 with `Retry-After: 1` comes back after a second, though the backoff would wait
    ten minutes: only the header can bring it back in time."""

    def busy_first(request: Received) -> Reply:
        first = len(hooks.received) == 1
        return Reply(429, {"retry-after": "1"}) if first else Reply(200)

    with (
        receiver(busy_first) as hooks,
        serving(database, tmp_path, hooks_retry_base_seconds=600) as textbridge,
    ):
        subscription = subscribe(textbridge, hooks.url, ["message.created"])
        textbridge.send(text="once")
        wait_until(lambda: len(hooks.received) >= 2, timeout=15)
        first, second = hooks.received[:2]
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert second.at - first.at >= 0.9
        [row] = wait_until(lambda: deliveries(textbridge, subscription["id"], status="delivered"))
        assert row["attempts"] == 2
        assert row["last_status_code"] == 200
        assert row["last_error"] is None


def test_a_dead_delivery_is_replayed(database: Database, tmp_path: Path) -> None:
    failing = True

    def down_then_up(_: Received) -> Reply:
        return Reply(503) if failing else Reply(204)

    settings = {"hooks_retry_base_seconds": 0.05, "hooks_max_attempts": 3}
    with receiver(down_then_up) as hooks, serving(database, tmp_path, **settings) as textbridge:
        subscription = subscribe(textbridge, hooks.url, ["message.created"])
        textbridge.send(text="dies first")
        [dead] = wait_until(
            lambda: deliveries(textbridge, subscription["id"], status="dead"), timeout=15
        )
        assert dead["attempts"] == 3
        assert dead["last_status_code"] == 503
        assert dead["last_error"] == "HTTP 503"
        assert len(hooks.received) == 3

        failing = False
        path = f"/api/v1/webhook-subscriptions/{subscription['id']}/deliveries/{dead['id']}"
        replayed = textbridge.api.post(f"{path}/replay")
        assert replayed.status_code == 202, replayed.text
        [row] = wait_until(lambda: deliveries(textbridge, subscription["id"], status="delivered"))
        assert row["id"] == dead["id"]
        assert row["attempts"] == 1
        assert len(hooks.received) == 4
        assert {request.headers["webhook-id"] for request in hooks.received} == {dead["webhook_id"]}


def test_a_client_error_is_final(database: Database, tmp_path: Path) -> None:
    with (
        receiver(lambda _: Reply(410)) as hooks,
        serving(database, tmp_path, hooks_retry_base_seconds=0.05) as textbridge,
    ):
        subscription = subscribe(textbridge, hooks.url, ["message.created"])
        textbridge.send(text="gone")
        [dead] = wait_until(lambda: deliveries(textbridge, subscription["id"], status="dead"))
        assert dead["attempts"] == 1
        assert dead["last_status_code"] == 410
        assert len(hooks.received) == 1


def test_one_subscriber_down_does_not_hold_up_another(database: Database, tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port that refuses connections
        closed.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"
    with receiver() as hooks, serving(database, tmp_path) as textbridge:
        down = subscribe(textbridge, down_url, ["message.created"])
        subscribe(textbridge, hooks.url, ["message.created"])
        texts = [f"number {n}" for n in range(8)]
        for text in texts:
            textbridge.send(text=text)

        def all_texts() -> bool:
            return {e["data"]["text"] for e in events_of(hooks)} >= set(texts)

        wait_until(all_texts, timeout=15)
        # Claiming counts an attempt before it is made: wait for one whose failure is recorded.
        failed = wait_until(
            lambda: [row for row in deliveries(textbridge, down["id"]) if row["last_error"]]
        )
        assert all(row["status"] == "pending" for row in deliveries(textbridge, down["id"]))
        assert failed[0]["last_status_code"] is None
        assert "Connect" in failed[0]["last_error"]


def test_the_secret_is_shown_once_and_never_logged(
    database: Database,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with receiver(lambda _: Reply(500)) as hooks, serving(database, tmp_path) as textbridge:
        subscription = subscribe(textbridge, hooks.url)
        secret = subscription["secret"]
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
        path = f"/api/v1/webhook-subscriptions/{subscription['id']}"
        answers = [
            textbridge.api.get("/api/v1/webhook-subscriptions"),
            textbridge.api.get(path),
            textbridge.api.patch(path, json={"description": "renamed"}),
        ]
        textbridge.send(text="fails, and is logged")
        wait_until(lambda: deliveries(textbridge, subscription["id"])[0]["attempts"] >= 1)
        answers.append(textbridge.api.get(f"{path}/deliveries"))
        answers.append(textbridge.api.get("/api/v1/audit"))
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert secret not in answer.text
            assert "secret" not in answer.text
        seen: list[str] = []

        def logged_the_retry() -> bool:
            out, err = capfd.readouterr()
            seen.append(out + err)
            return "webhook delivery will retry" in "".join(seen)

        wait_until(logged_the_retry)
        assert secret not in "".join(seen) + caplog.text


def test_a_rotated_secret_overlaps_then_the_old_one_stops(
    database: Database, tmp_path: Path
) -> None:
    """After a rotation each delivery carries two signatures, one per secret, so a receiver
    verifying with either accepts it; a rotation with no overlap signs with the new one alone."""
    verify = readme_verify()
    with receiver() as hooks, serving(database, tmp_path) as textbridge:
        first = subscribe(textbridge, hooks.url, ["message.created"])
        path = f"/api/v1/webhook-subscriptions/{first['id']}"
        rotated = textbridge.api.post(f"{path}/rotate-secret", json={"overlap_seconds": 3600})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["secret"] != first["secret"]
        assert second["rotation_overlap_until"] is not None
        listed = textbridge.api.get(path)
        assert listed.json()["rotation_overlap_until"] == second["rotation_overlap_until"]
        assert second["secret"] not in listed.text
        assert first["secret"] not in listed.text

        textbridge.send(text="during the overlap")
        [overlapping] = wait_until(lambda: list(hooks.received), timeout=15)
        assert len(overlapping.headers["webhook-signature"].split()) == 2
        for secret in (first["secret"], second["secret"]):
            assert verify(secret, overlapping.headers, overlapping.body)

        ended = textbridge.api.post(f"{path}/rotate-secret", json={"overlap_seconds": 0})
        assert ended.status_code == 200, ended.text
        third = ended.json()
        assert third["rotation_overlap_until"] is None
        textbridge.send(text="after the overlap")
        wait_until(lambda: len(hooks.received) >= 2, timeout=15)
        after = hooks.received[1]
        assert len(after.headers["webhook-signature"].split()) == 1
        assert verify(third["secret"], after.headers, after.body)
        for old in (first["secret"], second["secret"]):
            assert not verify(old, after.headers, after.body)

        actions = [entry["action"] for entry in textbridge.api.get("/api/v1/audit").json()]
        assert actions.count("webhook_subscription.rotate_secret") == 2


@pytest.mark.parametrize("body", [{"overlap_seconds": -1}, {"overlap_seconds": 700000}, {"x": 1}])
def test_a_rotation_refuses_a_bad_overlap(textbridge: Textbridge, body: dict[str, Any]) -> None:
    created = subscribe(textbridge, "http://127.0.0.1:9/hooks", ["message.created"])
    path = f"/api/v1/webhook-subscriptions/{created['id']}/rotate-secret"
    answer = textbridge.api.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert created["secret"] not in answer.text
    missing = textbridge.api.post(f"/api/v1/webhook-subscriptions/{uuid.uuid4()}/rotate-secret")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://app.example.com/hooks", "https"),
        ("ftp://app.example.com/hooks", "https"),
        ("https://10.0.0.7/hooks", "public"),
        ("https://user:pw@app.example.com/hooks", "credentials"),
    ],
)
def test_urls_are_checked(database: Database, tmp_path: Path, url: str, problem: str) -> None:
    with serving(database, tmp_path) as textbridge:
        response = textbridge.api.post(
            "/api/v1/webhook-subscriptions", json={"url": url, "event_types": ["message.status"]}
        )
        assert response.status_code == 422, response.text
        assert problem in response.text


def test_erasure_deletes_the_deliveries_about_the_person(
    database: Database, tmp_path: Path
) -> None:
    with receiver() as hooks, serving(database, tmp_path) as textbridge:
        subscription = subscribe(textbridge, hooks.url, ["message.created"])
        textbridge.inbound("please forget me", sender=CONTACT)
        textbridge.inbound("keep me", sender=OTHER)
        wait_until(lambda: len(deliveries(textbridge, subscription["id"], status="delivered")) == 2)

        erased = textbridge.api.delete(f"/api/v1/contacts/{CONTACT}")
        assert erased.status_code == 200, erased.text
        assert erased.json()["webhook_deliveries"] == 1
        [left] = deliveries(textbridge, subscription["id"])
        assert left["payload"]["data"]["text"] == "keep me"


@pytest.mark.postgresql_only  # SQLite has one deliverer (a single worker process)
def test_two_deliverers_share_the_queue_without_sending_twice(
    database: Database, tmp_path: Path
) -> None:
    """PostgreSQL: a second deliverer (as in another `worker` process) competes with the one
    `serve` runs; SKIP LOCKED gives each delivery to one of them."""
    with receiver() as hooks, serving(database, tmp_path) as textbridge:
        subscription = subscribe(textbridge, hooks.url, ["message.created"])
        stop = threading.Event()
        claimed: list[int] = []
        competing = _compete(textbridge, stop, claimed)
        thread = threading.Thread(target=asyncio.run, args=(competing,))
        thread.start()
        try:
            for n in range(20):
                textbridge.send(text=f"shared {n}")
            wait_until(
                lambda: len(deliveries(textbridge, subscription["id"], status="delivered")) == 20,
                timeout=20,
            )
        finally:
            stop.set()
            thread.join(10)
        ids = [request.headers["webhook-id"] for request in hooks.received]
        assert len(ids) == len(set(ids)) == 20
        assert 0 < sum(claimed) < 20  # both deliverers took part


async def _compete(textbridge: Textbridge, stop: threading.Event, claimed: list[int]) -> None:
    engine = create_engine(textbridge.settings.database_url)
    deliverer = webhook_deliverer(textbridge.settings, create_session_factory(engine))
    try:
        while not stop.is_set():
            claimed.append(await deliverer.deliver_due())
            if not claimed[-1]:
                await asyncio.sleep(0.01)
    finally:
        await deliverer.aclose()
        await engine.dispose()
