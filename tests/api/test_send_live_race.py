"""A send's `conversation.updated` live event against a change committed between the send's
read and its write (PostgreSQL only: SQLite's transactions begin IMMEDIATE, so nothing commits
in between). The change (a reply's counters, a later message, a rename) is held in an open
transaction that locks the conversation; the send reads the old row, its write waits on the
lock, the change commits, then the write goes on. The event must still show what a fresh
fetch shows, and the later message stays the conversation's last."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ..support.held_transaction import held_transaction
from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

pytestmark = pytest.mark.postgresql_only

RENAME = "UPDATE contacts SET name = 'Renamed meanwhile' WHERE address = $1"
# What a later inbound reply writes (a minute after the send), or a mark-read; each with a rename.
REPLY = (
    "UPDATE conversations AS c SET unread_count = c.unread_count + 3,"
    " last_inbound_at = now() + interval '1 minute',"
    " last_message_at = now() + interval '1 minute', last_message_preview = 'the reply'"
    " FROM contacts AS k WHERE k.id = c.contact_id AND k.address = $1",
    RENAME,
)
MARK_READ = (
    "UPDATE conversations AS c SET unread_count = 0"
    " FROM contacts AS k WHERE k.id = c.contact_id AND k.address = $1",
    RENAME,
)


def _send_waiting_on_a_lock(textbridge: Textbridge) -> bool:
    waiting = textbridge.database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO messages%'"
    )
    return bool(waiting)


def _conversation(textbridge: Textbridge) -> dict[str, Any]:
    listed = textbridge.api.get("/api/v1/conversations").json()
    found: dict[str, Any] = next(c for c in listed if c["contact_address"] == CONTACT)
    return found


def _last_conversation_event(textbridge: Textbridge, conversation_id: str) -> dict[str, Any]:
    data = textbridge.database.scalar(
        "SELECT data::text FROM live_events WHERE type = 'conversation.updated'"
        " AND data ->> 'id' = :id ORDER BY id DESC LIMIT 1",
        id=conversation_id,
    )
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def _post(textbridge: Textbridge, key: str) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    with httpx.Client(base_url=textbridge.url, headers=textbridge.api.headers) as client:
        body = {"to": CONTACT, "text": "sent meanwhile"}
        return client.post("/api/v1/messages", json=body, headers=headers, timeout=60)


@pytest.mark.parametrize(("change", "last"), [(REPLY, "the reply"), (MARK_READ, "sent meanwhile")])
@pytest.mark.parametrize("lane", ["driver", "session"])
def test_a_send_racing_a_change_announces_the_conversation_as_stored(
    textbridge: Textbridge,
    lane: str,
    change: tuple[str, ...],
    last: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    textbridge.send(text="first")
    textbridge.inbound(text="unread")
    wait_until(lambda: _conversation(textbridge)["unread_count"] == 1, timeout=30)
    if lane == "session":  # the unit of work's path (`repository.store_outbound`)
        monkeypatch.setattr(textbridge.runtime, "driver", None)
    key = f"race-{lane}"
    with (
        ThreadPoolExecutor(1) as pool,
        held_transaction(textbridge.database.url, change, CONTACT) as commit,
    ):
        sending = pool.submit(_post, textbridge, key)
        wait_until(lambda: _send_waiting_on_a_lock(textbridge), timeout=30)
        commit.set()
        sent = sending.result()
    assert sent.status_code == 202, sent.text
    fresh = _conversation(textbridge)
    assert fresh["last_message_preview"] == last, "a later message stays the last"
    assert fresh["contact_name"] == "Renamed meanwhile"
    assert _last_conversation_event(textbridge, fresh["id"]) == fresh
    created = textbridge.database.scalar(
        "SELECT count(*) FROM live_events WHERE type = 'message.created' AND data ->> 'id' = :id",
        id=sent.json()["id"],
    )
    assert created == 1
