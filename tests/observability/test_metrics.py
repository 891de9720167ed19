"""`/metrics` over HTTP on both databases: the database gauges after messages sent, delivered,
failed and received through the real app and the simulator; the process-local instruments
(webhook time, provider calls and errors); and who may scrape."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import API_KEY, CONTACT, Textbridge, running_textbridge

FAILING = "+14155550123"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(textbridge: Textbridge) -> Samples:
    response = textbridge.api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_scrape_counts_what_the_app_sent_received_and_failed(textbridge: Textbridge) -> None:
    before = scrape(textbridge)
    delivered = textbridge.send(text="to be delivered")
    textbridge.wait_for_status(delivered["id"], "delivered")
    textbridge.simulator.put(
        f"/control/numbers/{FAILING}", json={"outcome": "undelivered", "error_code": "300"}
    )
    failed = textbridge.send(to=FAILING, text="to fail")
    textbridge.wait_for_status(failed["id"], "undelivered")
    textbridge.inbound("a reply")
    wait_until(lambda: len(textbridge.api.get("/api/v1/conversations").json()) >= 1)
    wait_until(
        lambda: value(scrape(textbridge), "textbridge_messages", **_inbound()) == 1, timeout=10
    )

    after = scrape(textbridge)
    outbound = {"direction": "outbound", "provider": "plivo", "channel": "sms"}
    assert value(after, "textbridge_messages", **outbound, status="delivered") == 1
    assert value(after, "textbridge_messages", **outbound, status="undelivered") == 1
    assert value(after, "textbridge_messages_waiting", state="accepted") == 0
    assert value(after, "textbridge_journal_backlog") == 0
    assert value(after, "textbridge_journal_entries", state="applied") >= 4  # 2 x 2 statuses
    assert value(after, "textbridge_journal_dead") == 0
    calls = "textbridge_provider_call_seconds_count"
    ok = {"provider": "plivo", "outcome": "ok"}
    assert value(after, calls, **ok) - value(before, calls, **ok) == 2
    dispatched = "textbridge_dispatch_seconds_count"
    direct = {"provider": "plivo", "source": "direct"}
    assert value(after, dispatched, **direct) - value(before, dispatched, **direct) == 2
    hooks = "textbridge_webhook_seconds_count"
    inbound = {"provider": "plivo", "kind": "inbound", "status": "200"}
    assert value(after, hooks, **inbound) - value(before, hooks, **inbound) == 1
    status = {"provider": "plivo", "kind": "status", "status": "200"}
    assert value(after, hooks, **status) - value(before, hooks, **status) >= 4


def _inbound() -> dict[str, str]:
    return {"direction": "inbound", "provider": "plivo", "channel": "sms", "status": "received"}


def test_provider_errors_are_counted_by_code(textbridge: Textbridge) -> None:
    errors = "textbridge_provider_errors_total"
    before = value(scrape(textbridge), errors, provider="plivo", code="503")
    textbridge.simulator.put(
        "/control/faults", json={"fail_next_sends": {"status": 503, "count": 1}}
    )
    sent = textbridge.send(text="retried once")
    textbridge.wait_for_status(sent["id"], "delivered", timeout=30)
    after = scrape(textbridge)
    assert value(after, errors, provider="plivo", code="503") - before == 1
    waits = "textbridge_governor_wait_seconds_count"
    assert value(after, waits, provider="plivo") >= 2


def test_a_webhook_for_no_provider_is_labelled_other(textbridge: Textbridge) -> None:
    hooks = "textbridge_webhook_seconds_count"
    labels = {"provider": "other", "kind": "other", "status": "404"}
    before = value(scrape(textbridge), hooks, **labels)
    assert httpx.post(f"{textbridge.url}/webhooks/nobody/anything").status_code == 404
    assert value(scrape(textbridge), hooks, **labels) - before == 1


def test_metrics_need_an_admin_key(textbridge: Textbridge) -> None:
    assert httpx.get(f"{textbridge.url}/metrics").status_code == 401
    created = textbridge.api.post("/api/v1/keys", json={"name": "reader", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    reader = {"Authorization": f"Bearer {created.json()['key']}"}
    assert httpx.get(f"{textbridge.url}/metrics", headers=reader).status_code == 401
    admin = {"Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(f"{textbridge.url}/metrics", headers=admin).status_code == 200


def test_metrics_public_opens_them(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path, metrics_public=True) as textbridge:
        response = httpx.get(f"{textbridge.url}/metrics")
        assert response.status_code == 200
        assert "textbridge_messages_waiting" in response.text
        assert CONTACT not in response.text
