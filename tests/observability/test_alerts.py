"""Alert conditions on both databases: each fires when its condition holds, and clears by
itself when it no longer does, in `GET /api/v1/alerts` and in `/metrics` alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, insert, update

from textbridge.alerts import without_receipt_query
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine
from textbridge.models import Message, WebhookJournalEntry
from textbridge.webhooks import journal

from ..support.database import Database, run_sync
from ..support.live import wait_until
from ..support.plans import generic_plan_indexes
from ..support.textbridge import Textbridge, running_textbridge
from .test_metrics import scrape, value


@pytest.fixture
def alerting(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    with running_textbridge(
        database,
        tmp_path,
        alert_no_receipt_minutes=1,
        alert_refused_window_minutes=1,
        alert_refused_signatures=2,
        alert_journal_backlog=1,
    ) as running:
        yield running


def firing(textbridge: Textbridge) -> dict[str, int]:
    response = textbridge.api.get("/api/v1/alerts")
    assert response.status_code == 200, response.text
    return {alert["name"]: alert["value"] for alert in response.json()["alerts"]}


def metric_firing(textbridge: Textbridge, name: str) -> float:
    return value(scrape(textbridge), "textbridge_alert_firing", alert=name)


def test_nothing_fires_on_a_quiet_service(alerting: Textbridge) -> None:
    assert firing(alerting) == {}
    assert metric_firing(alerting, "journal_backlog") == 0


def test_a_message_with_no_receipt_fires_until_its_receipt_comes(alerting: Textbridge) -> None:
    alerting.simulator.put("/control/faults", json={"callback_delay_seconds": 5})
    sent = alerting.send(text="slow receipt")
    alerting.wait_for_status(sent["id"], "submitted", "sent", "delivered")
    age(alerting, sent["id"], timedelta(minutes=2))  # as if the provider took it 2 min ago
    if alerting.message(sent["id"])["status"] == "delivered":
        pytest.fail("the delayed receipt came before the test could age the message")
    assert firing(alerting) == {"messages_without_receipt": 1}
    assert value(scrape(alerting), "textbridge_messages_without_receipt") == 1
    assert metric_firing(alerting, "messages_without_receipt") == 1
    age(alerting, sent["id"], timedelta(days=2))  # past the lookback: a carrier that never tells
    assert firing(alerting) == {}

    alerting.wait_for_status(sent["id"], "delivered", timeout=15)
    assert firing(alerting) == {}
    assert metric_firing(alerting, "messages_without_receipt") == 0


def age(textbridge: Textbridge, message_id: str, by: timedelta) -> None:
    textbridge.database.run(
        update(Message)
        .where(Message.id == uuid.UUID(message_id), Message.status.in_(("submitted", "sent")))
        .values(updated_at=utcnow() - by)
    )


def test_refused_signatures_fire_and_age_out(alerting: Textbridge) -> None:
    forged = {"From": "14155550199", "To": "14155550100", "Text": "hi", "MessageUUID": "x"}
    for _ in range(2):
        response = httpx.post(f"{alerting.url}/webhooks/plivo/inbound", data=forged)
        assert response.status_code in (401, 403)
    assert firing(alerting) == {"refused_webhook_signatures": 2}
    assert value(scrape(alerting), "textbridge_webhooks_refused_recent") == 2

    long_ago = utcnow() - timedelta(minutes=2)
    alerting.database.run(
        update(WebhookJournalEntry)
        .where(WebhookJournalEntry.state == journal.REFUSED)
        .values(received_at=long_ago)
    )
    assert firing(alerting) == {}
    assert metric_firing(alerting, "refused_webhook_signatures") == 0


def test_a_journal_backlog_fires_and_clears(alerting: Textbridge) -> None:
    """A pending entry whose retry is not due yet stays in the backlog (as one waiting for its
    message, or after a failed attempt)."""
    entry = {
        "provider": "plivo",
        "kind": "status",
        "method": "POST",
        "url": f"{alerting.url}/webhooks/plivo/status",
        "headers": {},
        "body": "",
        "state": journal.PENDING,
        "attempts": 1,
        "apply_after": utcnow() + timedelta(hours=1),
        "received_at": utcnow(),
    }
    alerting.database.run(insert(WebhookJournalEntry).values(entry))
    assert firing(alerting) == {"journal_backlog": 1}
    assert value(scrape(alerting), "textbridge_journal_backlog") == 1

    alerting.database.run(delete(WebhookJournalEntry).where(WebhookJournalEntry.attempts == 1))
    wait_until(lambda: firing(alerting) == {})
    assert metric_firing(alerting, "journal_backlog") == 0


def test_alerts_need_the_read_scope(alerting: Textbridge) -> None:
    assert httpx.get(f"{alerting.url}/api/v1/alerts").status_code == 401


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_no_receipt_count_reads_its_partial_index_in_a_generic_plan(
    database: Database, tmp_path: Path
) -> None:
    """`/metrics` and the alerts page count the messages with no receipt on every scrape; after
    five runs PostgreSQL may plan the prepared statement without its values. The statuses are
    written into the SQL so that even that plan reads `ix_messages_awaiting_receipt` (with
    them as parameters it read every message of the lookback)."""
    url = database.fresh_url(tmp_path)

    async def indexes() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                compiled = without_receipt_query(utcnow()).compile(
                    dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
                )
                assert "IN ('submitted', 'sent')" in str(compiled)
                values = ", ".join(
                    f"'{compiled.params[name].isoformat()}'" for name in compiled.positiontup or ()
                )
                return await generic_plan_indexes(
                    connection, str(compiled), values, switched_off=("enable_seqscan",)
                )
        finally:
            await engine.dispose()

    assert run_sync(indexes()) == {"ix_messages_awaiting_receipt"}
