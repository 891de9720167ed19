"""API keys for admins (created, listed, revoked: at once in this process, and across
processes on PostgreSQL), the API's rate limit per key, and the audit log's API and page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from textbridge.auth import keys
from textbridge.db.engine import create_engine, create_session_factory

from ..support.database import Database, run_sync
from ..support.live import wait_until
from ..support.textbridge import API_KEY, Textbridge, running_textbridge

LONG_CACHE = 60.0


@pytest.fixture
def cached(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    """A textbridge that trusts a verified key for a minute: only a revocation empties it."""
    with running_textbridge(database, tmp_path, api_key_cache_seconds=LONG_CACHE) as running:
        yield running


def _client(textbridge: Textbridge, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=textbridge.url, headers=headers, timeout=10)


def _create(textbridge: Textbridge, name: str, *scopes: str) -> dict[str, Any]:
    created = textbridge.api.post("/api/v1/keys", json={"name": name, "scopes": list(scopes)})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_a_key_revoked_through_the_api_stops_at_once(cached: Textbridge) -> None:
    made = _create(cached, "billing", "read")
    with _client(cached, made["key"]) as billing:
        assert billing.get("/api/v1/conversations").status_code == 200  # now in the cache
        assert cached.api.delete(f"/api/v1/keys/{made['id']}").status_code == 204
        assert billing.get("/api/v1/conversations").status_code == 401
    listed = {k["id"]: k for k in cached.api.get("/api/v1/keys").json()}
    assert listed[made["id"]]["revoked_at"] is not None
    assert cached.api.delete(f"/api/v1/keys/{made['id']}").status_code == 204  # stays revoked
    missing = cached.api.delete("/api/v1/keys/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404


def _revoke_elsewhere(database_url: str, prefix: str) -> None:
    """As `textbridge keys revoke` does it, from another process's connection."""

    async def revoke() -> None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as db:
                await keys.revoke(db, prefix, actor="cli:test", origin="cli")
                await db.commit()
        finally:
            await engine.dispose()

    run_sync(revoke())


@pytest.mark.postgresql_only  # across processes, revocation is announced over NOTIFY
def test_a_key_revoked_by_another_process_stops_within_a_moment(cached: Textbridge) -> None:
    made = _create(cached, "billing", "read")
    with _client(cached, made["key"]) as billing:
        wait_until(lambda: cached.runtime.listener_up, timeout=10)
        assert billing.get("/api/v1/conversations").status_code == 200  # now in the cache
        _revoke_elsewhere(cached.settings.database_url, made["prefix"])
        # Well within the minute the cache would otherwise trust it.
        wait_until(lambda: billing.get("/api/v1/conversations").status_code == 401, timeout=5)


def test_the_api_rate_limit_answers_429_with_retry_after(
    database: Database, tmp_path: Path
) -> None:
    limits = {"api_rate_per_second": 0.5, "api_rate_burst": 3}
    with running_textbridge(database, tmp_path, **limits) as textbridge:
        statuses = [textbridge.api.get("/api/v1/senders").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = textbridge.api.get("/api/v1/senders")
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        other = _create_directly(textbridge)
        with _client(textbridge, other) as another_key:
            assert another_key.get("/api/v1/senders").status_code == 200  # per key


def _create_directly(textbridge: Textbridge) -> str:
    key = keys.new_key()

    async def add() -> None:
        engine = create_engine(textbridge.settings.database_url)
        try:
            async with create_session_factory(engine)() as db:
                await keys.add_key(db, key, "other", "read")
                await db.commit()
        finally:
            await engine.dispose()

    run_sync(add())
    return key


def test_key_changes_and_journal_replays_are_audited(textbridge: Textbridge) -> None:
    made = _create(textbridge, "billing", "send", "read")
    assert textbridge.api.delete(f"/api/v1/keys/{made['id']}").status_code == 204
    replayed = textbridge.api.post("/api/v1/journal/replay", params={"state": "dead"})
    assert replayed.status_code == 200, replayed.text
    entries = textbridge.api.get("/api/v1/audit").json()
    seen = [(e["actor"], e["action"], e["target"]) for e in entries]
    me = f"key:{API_KEY[:8]}"
    assert seen == [
        (me, "journal.replayed", "journal:state=dead"),
        (me, "key.revoked", f"key:{made['prefix']}"),
        (me, "key.created", f"key:{made['prefix']}"),
    ]
    assert made["key"] not in str(entries), "a key never reaches the audit log"
    assert {e["origin"] for e in entries} == {"127.0.0.1"}


def test_the_audit_api_filters_and_pages(textbridge: Textbridge) -> None:
    for name in ("a", "b", "c"):
        _create(textbridge, name, "read")
    newest_first = textbridge.api.get("/api/v1/audit", params={"action": "key.created"}).json()
    assert [e["detail"]["name"] for e in newest_first] == ["c", "b", "a"]
    page = textbridge.api.get("/api/v1/audit", params={"limit": 2}).json()
    rest = textbridge.api.get("/api/v1/audit", params={"before_id": page[-1]["id"]}).json()
    assert [e["detail"]["name"] for e in page + rest] == ["c", "b", "a"]
    assert textbridge.api.get("/api/v1/audit", params={"action": "key."}).json() == newest_first
    assert textbridge.api.get("/api/v1/audit", params={"actor": "user:x"}).json() == []
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert textbridge.api.get("/api/v1/audit", params={"since": later}).json() == []
    assert len(textbridge.api.get("/api/v1/audit", params={"until": later}).json()) == 3
    naive = textbridge.api.get("/api/v1/audit", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


def test_the_audit_log_is_for_admins_only(textbridge: Textbridge) -> None:
    _create(textbridge, "billing", "read")
    reader = _create(textbridge, "reader", "send", "read")
    with _client(textbridge, reader["key"]) as not_admin:
        assert not_admin.get("/api/v1/audit").status_code == 403
    with textbridge.sign_in("ada", "agent") as agent:
        assert agent.get("/api/v1/audit").status_code == 403
        assert agent.get("/audit").status_code == 403
    with textbridge.sign_in("root", "admin") as admin:
        page = admin.get("/audit", params={"action": "key.created"})
        assert page.status_code == 200
        assert page.text.count('data-testid="audit-row"') == 2
        assert "billing" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
