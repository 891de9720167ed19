"""`/api/v1/journal` over real HTTP: admin only (bearer key or inbox session), list and page,
one entry with its body, replay of one entry or of a whole state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest
from sqlalchemy import insert

from textbridge.api import journal as journal_api
from textbridge.auth import keys
from textbridge.db.base import utcnow
from textbridge.models import ApiKey, WebhookJournalEntry
from textbridge.webhooks import journal

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from ..support.webhooks import plivo_sms, post_plivo

SEND_ONLY_KEY = "tb_send_only_0123456789abcdefghijklmn"


@pytest.fixture
def send_only(textbridge: Textbridge) -> Iterator[httpx.Client]:
    textbridge.database.run(
        insert(ApiKey).values(
            name="sender",
            prefix=SEND_ONLY_KEY[:8],
            key_hash=keys.hash_key(SEND_ONLY_KEY),
            scopes="send read",
        )
    )
    headers = {"Authorization": f"Bearer {SEND_ONLY_KEY}"}
    with httpx.Client(base_url=textbridge.url, headers=headers, timeout=10) as client:
        yield client


def _parked(textbridge: Textbridge, state: str, body: str) -> int:
    row = {
        "provider": "plivo",
        "kind": "inbound",
        "method": "POST",
        "url": f"{textbridge.url}/webhooks/plivo/inbound",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "body": body,
        "state": state,
        "attempts": 7,
        "error": "NumberParseException: (1) not a phone number",
        "received_at": utcnow(),
        "processed_at": utcnow(),
    }
    statement = insert(WebhookJournalEntry).values(**row).returning(WebhookJournalEntry.id)
    return int(textbridge.database.run(statement)[0][0])


def test_only_an_admin_key_may_use_the_journal(
    textbridge: Textbridge, send_only: httpx.Client
) -> None:
    for method, path in [
        ("GET", "/api/v1/journal"),
        ("GET", "/api/v1/journal/1"),
        ("POST", "/api/v1/journal/1/replay"),
        ("POST", "/api/v1/journal/replay?state=dead"),
    ]:
        response = send_only.request(method, path)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "forbidden"
        assert response.json()["error"]["message"] == "admin scope required"
    assert send_only.get("/api/v1/senders").status_code == 200  # its other rights are intact
    assert httpx.get(f"{textbridge.url}/api/v1/journal").status_code == 401


def test_the_inbox_session_of_an_admin_works(textbridge: Textbridge) -> None:
    with textbridge.sign_in("root", "admin") as browser:
        assert browser.get("/api/v1/journal").status_code == 200
    with textbridge.sign_in("ada", "agent") as agent:
        assert agent.get("/api/v1/journal").status_code == 403


def test_list_page_read_and_replay(textbridge: Textbridge) -> None:
    assert post_plivo(textbridge, plivo_sms("an ordinary one")) == 200
    wait_until(lambda: textbridge.api.get("/api/v1/journal?state=applied").json(), timeout=30)
    dead = _parked(textbridge, "dead", "MessageUUID=dead-one&From=AMAZON")
    orphaned = _parked(textbridge, "orphaned", "MessageUUID=orphan")

    listed = textbridge.api.get("/api/v1/journal").json()
    assert [entry["id"] for entry in listed] == sorted((e["id"] for e in listed), reverse=True)
    assert {"body", "headers"}.isdisjoint(listed[0])
    assert listed[0]["error"].startswith("NumberParseException")
    page = textbridge.api.get("/api/v1/journal", params={"limit": 1, "before_id": orphaned})
    assert [entry["id"] for entry in page.json()] == [dead]

    detail = textbridge.api.get(f"/api/v1/journal/{dead}").json()
    assert detail["body"] == "MessageUUID=dead-one&From=AMAZON"
    assert detail["state"] == "dead"
    assert textbridge.api.get("/api/v1/journal/999999").status_code == 404

    replayed = textbridge.api.post(f"/api/v1/journal/{orphaned}/replay").json()
    assert (replayed["state"], replayed["attempts"], replayed["error"]) == ("pending", 0, None)
    applied_id = textbridge.api.get("/api/v1/journal?state=applied").json()[0]["id"]
    again = textbridge.api.post(f"/api/v1/journal/{applied_id}/replay")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_replayable"

    whole_state = textbridge.api.post("/api/v1/journal/replay", params={"state": "dead"})
    assert whole_state.json() == {"replayed": 1}
    assert textbridge.api.post("/api/v1/journal/replay?state=applied").status_code == 422
    # Both come back, and fail again for what they are (not a readable inbound), parked anew.
    wait_until(lambda: _state(textbridge, dead) in ("dead", "invalid"), timeout=60)


def _state(textbridge: Textbridge, entry_id: int) -> Any:
    return textbridge.api.get(f"/api/v1/journal/{entry_id}").json()["state"]


def test_the_api_knows_every_journal_state() -> None:
    assert set(get_args(journal_api.State)) == set(journal.STATES)
    assert set(get_args(journal_api.ReplayableState)) == set(journal.REPLAYABLE)
