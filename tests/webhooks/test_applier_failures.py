"""A journal entry that cannot be applied fails alone: it is retried with growing backoff,
parked as `dead` with its reason after the last try, and replayed by an admin, while the
entries around it are applied. The failures are real: a database trigger refuses one
message (at insert, or, on PostgreSQL, only at commit)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from structlog.testing import capture_logs

from textbridge.db.base import utcnow
from textbridge.models import WebhookJournalEntry
from textbridge.webhooks import journal
from textbridge.webhooks.applier import RetryPolicy

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from ..support.webhooks import plivo_sms, post_plivo

FAST = RetryPolicy(timedelta(milliseconds=100), timedelta(milliseconds=800), attempts=5)

_PG_POISON = (
    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.body = 'poison' THEN RAISE EXCEPTION 'poison refused by a trigger'; END IF;"
    " RETURN NEW; END $$",
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages"
    " FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
)
_SQLITE_POISON = (
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages WHEN NEW.body = 'poison'"
    " BEGIN SELECT RAISE(ABORT, 'poison refused by a trigger'); END",
)
# Fires at COMMIT, after every savepoint was released: the case the one-by-one retry is for.
_PG_COMMIT_POISON = (
    "CREATE FUNCTION refuse_commit_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.state = 'applied' AND strpos(NEW.body, 'commit-poison') > 0 THEN"
    " RAISE EXCEPTION 'commit-poison refused at commit'; END IF; RETURN NULL; END $$",
    "CREATE CONSTRAINT TRIGGER refuse_commit_poison AFTER UPDATE ON webhook_journal"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit_poison()",
)


@pytest.fixture
def poison(textbridge: Textbridge) -> Iterator[None]:
    """Messages whose text is `poison` cannot be inserted, until the fixture ends."""
    database = textbridge.database
    postgres = database.backend == "postgresql"
    for statement in _PG_POISON if postgres else _SQLITE_POISON:
        database.rows(statement)
    yield
    drop_poison(textbridge)


def drop_poison(textbridge: Textbridge) -> None:
    database = textbridge.database
    if database.backend == "postgresql":
        database.rows("DROP TRIGGER IF EXISTS refuse_poison ON messages")
        database.rows("DROP FUNCTION IF EXISTS refuse_poison()")
    else:
        database.rows("DROP TRIGGER IF EXISTS refuse_poison")


def entry_of(textbridge: Textbridge, marker: str) -> Any:
    rows = textbridge.database.rows(
        "SELECT id, state, attempts, error FROM webhook_journal WHERE body LIKE :pattern",
        pattern=f"%{marker}%",
    )
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def texts(textbridge: Textbridge) -> set[str]:
    return {row[0] for row in textbridge.database.rows("SELECT body FROM messages")}


def test_an_entry_that_always_fails_is_parked_and_replayed(
    textbridge: Textbridge, poison: None
) -> None:
    textbridge.runtime.applier.failure_retry = FAST
    with capture_logs() as logs:
        for text in ("before", "poison", "after one", "after two"):
            assert post_plivo(textbridge, plivo_sms(text, message_uuid=_uuid_for(text))) == 200
        wait_until(lambda: {"before", "after one", "after two"} <= texts(textbridge), timeout=30)
        parked = wait_until(
            lambda: (e := entry_of(textbridge, _uuid_for("poison"))).state == "dead" and e,
            timeout=60,
        )
    assert parked.attempts == FAST.attempts
    assert "poison refused by a trigger" in parked.error
    _assert_backoff_grew(logs, parked.id)
    assert "poison" not in texts(textbridge)

    drop_poison(textbridge)
    replayed = textbridge.api.post(f"/api/v1/journal/{parked.id}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["state"] == "pending"
    assert replayed.json()["attempts"] == 0
    wait_until(lambda: entry_of(textbridge, _uuid_for("poison")).state == "applied", timeout=30)
    assert "poison" in texts(textbridge)


def _uuid_for(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"textbridge-test:{text}"))


def _assert_backoff_grew(logs: list[dict[str, Any]], journal_id: int) -> None:
    retries = [
        entry
        for entry in logs
        if entry["event"] == "webhook not applied, will retry" and entry["journal_id"] == journal_id
    ]
    assert [entry["attempt"] for entry in retries] == list(range(1, FAST.attempts))
    for entry in retries:
        full = FAST.ceiling(entry["attempt"]).total_seconds()
        assert full / 2 - 0.001 <= entry["retry_in"] <= full + 0.001, entry
        assert entry["log_level"] == "warning"
        assert "poison refused" in entry["reason"]
        assert "exc_info" not in entry
    caps = [FAST.ceiling(entry["attempt"]) for entry in retries]
    assert caps == sorted(caps)
    assert caps[0] < caps[-1]
    parked = [e for e in logs if e["event"] == "webhook parked" and e["journal_id"] == journal_id]
    assert len(parked) == 1
    assert parked[0]["state"] == "dead"


def test_a_provider_that_is_not_configured_is_parked(textbridge: Textbridge) -> None:
    row = {
        "provider": "twilio",
        "kind": "inbound",
        "dedup_key": "twilio:SM123",
        "method": "POST",
        "url": f"{textbridge.url}/webhooks/twilio/inbound",
        "headers": {},
        "body": "From=%2B14155550199&Body=hi",
        "state": journal.PENDING,
        "attempts": 0,
        "received_at": utcnow(),
    }
    textbridge.database.run(insert(WebhookJournalEntry).values(**row))
    assert post_plivo(textbridge, plivo_sms("still applied")) == 200
    parked = wait_until(
        lambda: (e := entry_of(textbridge, "Body=hi")).state == "dead" and e, timeout=30
    )
    assert parked.error == "provider twilio is not configured"
    wait_until(lambda: "still applied" in texts(textbridge), timeout=30)


# PostgreSQL only: SQLite has no check deferred to commit (no deferrable triggers).
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_failure_at_commit_fails_alone(textbridge: Textbridge) -> None:
    database = textbridge.database
    for statement in _PG_COMMIT_POISON:
        database.rows(statement)
    try:
        textbridge.runtime.applier.failure_retry = RetryPolicy(
            timedelta(milliseconds=100), timedelta(milliseconds=200), attempts=2
        )
        for text in ("ok one", "commit-poison", "ok two", "ok three"):
            assert post_plivo(textbridge, plivo_sms(text)) == 200
        wait_until(lambda: {"ok one", "ok two", "ok three"} <= texts(textbridge), timeout=30)
        parked = wait_until(
            lambda: (e := entry_of(textbridge, "commit-poison")).state == "dead" and e,
            timeout=60,
        )
    finally:
        database.rows("DROP TRIGGER IF EXISTS refuse_commit_poison ON webhook_journal")
        database.rows("DROP FUNCTION IF EXISTS refuse_commit_poison()")
    assert parked.attempts == 2
    assert "commit-poison refused at commit" in parked.error
    assert "commit-poison" not in texts(textbridge)
