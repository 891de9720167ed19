"""Journal retention on a real database: applied entries older than the retention and refused
ones older than a day are deleted in bounded batches, the count logged; nothing else is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from structlog.testing import capture_logs

from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.models import WebhookJournalEntry
from textbridge.webhooks import retention
from textbridge.webhooks.retention import JournalPurger

from ..support.database import Database
from ..support.textbridge import Textbridge


def _entry(state: str, age: timedelta, name: str) -> dict[str, object]:
    return {
        "provider": "plivo",
        "kind": "inbound",
        "method": "POST",
        "url": "https://example.test/webhooks/plivo/inbound",
        "headers": {},
        "body": name,
        "state": state,
        "attempts": 0,
        "received_at": utcnow() - age,
    }


KEPT = {
    "applied 29 days ago": ("applied", timedelta(days=29)),
    "refused an hour ago": ("refused", timedelta(hours=1)),
    "dead 90 days ago": ("dead", timedelta(days=90)),
    "invalid 90 days ago": ("invalid", timedelta(days=90)),
    "orphaned 90 days ago": ("orphaned", timedelta(days=90)),
    "pending 90 days ago": ("pending", timedelta(days=90)),
    "unverified 29 days ago": ("unverified", timedelta(days=29)),
}
PURGED = {
    **{f"applied 31 days ago #{i}": ("applied", timedelta(days=31)) for i in range(5)},
    "refused 2 days ago": ("refused", timedelta(days=2)),
    "unverified 31 days ago": ("unverified", timedelta(days=31)),
}


async def test_old_applied_unverified_and_refused_entries_are_purged_in_batches(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = database.fresh_url(tmp_path)
    rows = [_entry(state, age, name) for name, (state, age) in {**KEPT, **PURGED}.items()]
    database.run(insert(WebhookJournalEntry).values(rows))
    monkeypatch.setattr(retention, "BATCH", 3)
    engine = create_engine(url)
    purger = JournalPurger(create_session_factory(engine), retention_days=30)
    try:
        with capture_logs() as logs:
            first = await purger.purge_once()
            second = await purger.purge_once()
            third = await purger.purge_once()
    finally:
        await engine.dispose()
    # 3 applied + 1 unverified + 1 refused, then the last 2 applied
    assert (first, second, third) == (5, 2, 0)
    remaining = {row[0] for row in database.rows("SELECT body FROM webhook_journal")}
    assert remaining == set(KEPT)
    purged = [entry for entry in logs if entry["event"] == "journal entries purged"]
    assert [(e["applied"], e["unverified"], e["refused"]) for e in purged] == [(3, 1, 1), (2, 0, 0)]


def test_the_runtime_runs_the_purge(textbridge: Textbridge) -> None:
    assert "journal-purge" in {task.get_name() for task in textbridge.runtime.tasks}
    assert textbridge.settings.journal_retention_days == 30
