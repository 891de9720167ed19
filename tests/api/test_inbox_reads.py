"""The list and the thread read without the ORM on PostgreSQL (`messaging/search.py`,
`repository.thread_page`): they answer exactly what the ORM's single reads answer, on both
databases, over the real app."""

from __future__ import annotations

import uuid
from typing import Any

from ..support.live import wait_until
from ..support.textbridge import Textbridge

ANNA = "+14155550123"
BOB = "+447911123456"
MEDIA = [
    {"url": "https://media.example.com/a.png", "mime_type": "image/png"},
    {"url": "https://media.example.com/b.png", "mime_type": "image/png"},
]


def _get(textbridge: Textbridge, path: str, **params: Any) -> Any:
    response = textbridge.api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _mms(textbridge: Textbridge, sender: str) -> None:
    body = {"from": sender, "to": "+14155550100", "type": "mms", "text": "see", "media": MEDIA}
    assert textbridge.simulator.post("/control/plivo/inbound", json=body).status_code == 200


def test_each_list_item_is_the_conversation_as_read_alone(textbridge: Textbridge) -> None:
    textbridge.send(ANNA, "hello Anna")
    textbridge.send(BOB, "hello Bob", provider="vonage")
    textbridge.inbound("a reply", sender=ANNA)
    listed = wait_until(lambda: _settled(_get(textbridge, "/api/v1/conversations")))
    for item in listed:
        assert item == _get(textbridge, f"/api/v1/conversations/{item['id']}")
    searched = _get(textbridge, "/api/v1/conversations", q="(415) 555-0123")
    assert [item["contact_address"] for item in searched] == [ANNA]


def _settled(page: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The page once both conversations are there and Anna's reply is in it."""
    replied = [item for item in page if item["unread_count"] == 1]
    return (
        page if len(page) == 2 and [item["contact_address"] for item in replied] == [ANNA] else None
    )


def test_the_thread_is_each_message_as_read_alone_with_its_media(textbridge: Textbridge) -> None:
    first = textbridge.send(ANNA, "first")
    # settled first: a status moving between the thread's read and a message's would differ
    textbridge.wait_for_status(first["id"], "delivered")
    _mms(textbridge, ANNA)
    conversation = wait_until(lambda: _get(textbridge, "/api/v1/conversations"))[0]["id"]
    path = f"/api/v1/conversations/{conversation}/messages"
    thread = wait_until(lambda: len(page := _get(textbridge, path)) == 2 and page)
    assert [m["text"] for m in thread] == ["first", "see"]  # oldest first
    for message in thread:
        alone = textbridge.message(message["id"])
        assert message == {key: alone[key] for key in message}
    assert [item["url"] for item in thread[1]["media"]] == [item["url"] for item in MEDIA]

    assert [m["text"] for m in _get(textbridge, path, limit=1)] == ["see"]
    older = _get(textbridge, path, before=thread[1]["created_at"])
    assert [m["text"] for m in older] == ["first"]
    assert _get(textbridge, path, before=thread[0]["created_at"]) == []


def test_a_thread_of_no_conversation_is_a_404(textbridge: Textbridge) -> None:
    missing = uuid.uuid4()
    response = textbridge.api.get(f"/api/v1/conversations/{missing}/messages")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["field"] == "conversation_id"


def test_the_reads_survive_their_connections_being_killed(textbridge: Textbridge) -> None:
    """After a PostgreSQL restart every pooled connection is dead: the first read on each is
    made again on a fresh one instead of answering 500."""
    sent = textbridge.send(text="still here")
    thread = f"/api/v1/conversations/{sent['conversation_id']}/messages"
    assert len(_get(textbridge, thread)) == 1
    assert len(_get(textbridge, "/api/v1/conversations")) == 1
    if textbridge.database.backend != "postgresql":
        return  # SQLite reads through the session: no pool of its own
    killed = textbridge.database.scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'textbridge-inbox-reads' AND datname = current_database()"
    )
    assert killed >= 1
    for _ in range(3):  # each pooled connection's first read after the kill
        assert len(_get(textbridge, thread)) == 1
        assert len(_get(textbridge, "/api/v1/conversations")) == 1
