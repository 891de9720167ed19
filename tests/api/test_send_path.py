"""What one accepted send writes, the same on SQLite (separate statements in a transaction) and
PostgreSQL (one data-modifying CTE in autocommit), and idempotency under concurrent requests."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from textbridge.db.driver import APPLICATION_NAME

from ..support.textbridge import CONTACT, Textbridge

SEND = "/api/v1/messages"


def _post_at_once(textbridge: Textbridge, bodies: list[dict[str, Any]], key: str) -> list[Any]:
    headers = {"Idempotency-Key": key}

    def post(body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=textbridge.url, headers=textbridge.api.headers) as client:
            return client.post(SEND, json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_a_send_writes_message_event_conversation_and_live_events(
    textbridge: Textbridge,
) -> None:
    textbridge.send(text="first")  # the contact's first message creates the conversation
    sent = textbridge.send(text="second")  # this one takes the path of every later message
    database = textbridge.database
    # The in-process dispatcher may already be sending it: what the send wrote is what does
    # not change until then, and its answer.
    assert sent["status"] == "accepted"
    rows = database.rows(
        "SELECT request_hash IS NOT NULL, rate_limited, priority FROM messages "
        "WHERE body = 'second'"
    )
    assert [tuple(row) for row in rows] == [(True, 0, 0)]
    events = database.rows("SELECT source, applied FROM message_events WHERE status = 'accepted'")
    assert [tuple(row) for row in events] == [("textbridge", True)] * 2
    preview = database.scalar(
        "SELECT last_message_preview FROM conversations c JOIN contacts k "
        "ON k.id = c.contact_id WHERE k.address = :address",
        address=CONTACT,
    )
    assert preview == "second"
    shown = textbridge.message(sent["id"])
    assert [event["status"] for event in shown["history"]][:1] == ["accepted"]
    if database.backend == "postgresql":
        types = database.rows(
            "SELECT type FROM live_events WHERE type IN ('message.created', "
            "'conversation.updated') ORDER BY id"
        )
        assert [row[0] for row in types] == ["message.created", "conversation.updated"] * 2


def test_an_mms_stores_its_attachments(textbridge: Textbridge) -> None:
    textbridge.send(text="first")
    media = [{"url": "https://example.com/a.png"}, {"url": "https://example.com/b.jpg"}]
    sent = textbridge.send(text=None, channel="mms", media=media)
    assert [item["url"] for item in sent["media"]] == [m["url"] for m in media]
    shown = textbridge.message(sent["id"])
    assert [(item["url"], item["kind"]) for item in shown["media"]] == [
        ("https://example.com/a.png", "image"),
        ("https://example.com/b.jpg", "image"),
    ]
    assert textbridge.database.scalar("SELECT count(*) FROM attachments") == 2


def test_concurrent_requests_with_one_key_and_body_store_one_message(
    textbridge: Textbridge,
) -> None:
    textbridge.send(text="first")  # later sends find the conversation
    body = {"to": CONTACT, "text": "exactly once"}
    answers = _post_at_once(textbridge, [body] * 8, "race-1")
    assert [answer.status_code for answer in answers] == [202] * 8, [a.text for a in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    count = "SELECT count(*) FROM messages WHERE body = 'exactly once'"
    assert textbridge.database.scalar(count) == 1
    accepted = "SELECT count(*) FROM message_events WHERE status = 'accepted'"
    assert textbridge.database.scalar(accepted) == 2


def test_concurrent_requests_with_one_key_and_other_bodies_store_one(
    textbridge: Textbridge,
) -> None:
    textbridge.send(text="first")
    bodies = [{"to": CONTACT, "text": f"body {index}"} for index in range(6)]
    answers = _post_at_once(textbridge, bodies, "race-2")
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] + [409] * 5, [a.text for a in answers]
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 2


def test_an_inbox_session_and_odd_headers_take_the_full_handler(textbridge: Textbridge) -> None:
    """Lower-case scheme, a charset: still accepted; an over-long key: FastAPI's own 422."""
    headers = {
        "Authorization": textbridge.api.headers["authorization"].replace("Bearer", "bearer"),
        "Content-Type": "application/json; charset=utf-8",
    }
    with httpx.Client(base_url=textbridge.url) as client:
        ok = client.post(
            SEND, content=b'{"to": "%s", "text": "hi"}' % CONTACT.encode(), headers=headers
        )
        assert ok.status_code == 202, ok.text
        assert ok.headers["location"] == f"/api/v1/messages/{ok.json()['id']}"
        too_long = client.post(
            SEND,
            json={"to": CONTACT, "text": "hi"},
            headers={**headers, "Idempotency-Key": "k" * 256},
        )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "header.idempotency-key"


def test_the_openapi_document_shows_the_send_route(textbridge: Textbridge) -> None:
    # Generous: building the document takes seconds on a loaded machine.
    document = textbridge.api.get("/openapi.json", timeout=120).json()
    operation = document["paths"]["/api/v1/messages"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/SendMessageIn")
    answer = operation["responses"]["202"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/MessageOut")
    assert any(parameter["name"] == "idempotency-key" for parameter in operation["parameters"])


@pytest.mark.postgresql_only  # the driver lane is PostgreSQL's
def test_sends_go_on_after_postgresql_closed_the_send_path_connections(
    textbridge: Textbridge,
) -> None:
    """The driver lane (`db/driver.py`) has no pre-ping: a connection PostgreSQL closed is
    replaced, and the first read retried once, without a hang or a 500."""
    database = textbridge.database
    textbridge.send(text="first")
    _post_at_once(textbridge, [{"to": CONTACT, "text": "second"}] * 4, "k")  # some connections
    killed = database.scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        f" WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
    )
    assert killed >= 1
    for text in ("third", "fourth", "fifth"):
        textbridge.send(text=text)
    bodies = database.rows("SELECT body FROM messages ORDER BY created_at")
    assert [row[0] for row in bodies] == ["first", "second", "third", "fourth", "fifth"]


def test_an_opt_out_is_refused_on_every_lane(textbridge: Textbridge) -> None:
    """A recipient with an existing conversation (the driver lane's case on PostgreSQL) who
    opted out is refused (409), with and without an Idempotency-Key; another opt-in sends."""
    first = textbridge.send(text="first")
    opt_out = {"action": "opt_out", "scope": first["from"]}
    recorded = textbridge.api.post(f"/api/v1/contacts/{CONTACT}/consent", json=opt_out)
    assert recorded.status_code == 201, recorded.text
    for headers in ({}, {"Idempotency-Key": "after-the-stop"}):
        refused = textbridge.api.post(
            "/api/v1/messages", json={"to": CONTACT, "text": "second"}, headers=headers
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "recipient_opted_out"
    opt_in = {"action": "opt_in", "scope": first["from"]}
    assert textbridge.api.post(f"/api/v1/contacts/{CONTACT}/consent", json=opt_in).is_success
    textbridge.send(text="third")
    bodies = textbridge.database.rows("SELECT body FROM messages ORDER BY created_at")
    assert [row[0] for row in bodies] == ["first", "third"]


def _live_event(textbridge: Textbridge, event_type: str, id_: str) -> dict[str, Any]:
    """The data of the last live event of `event_type` about `id_`."""
    data = textbridge.database.scalar(
        "SELECT data::text FROM live_events WHERE type = :type AND data ->> 'id' = :id"
        " ORDER BY id DESC LIMIT 1",
        type=event_type,
        id=id_,
    )
    loaded: dict[str, Any] = json.loads(data)
    return loaded


@pytest.mark.postgresql_only  # live events are stored on PostgreSQL
@pytest.mark.parametrize("lane", ["driver", "session"])
def test_a_sends_live_events_show_its_answer_and_its_conversation(
    textbridge: Textbridge, lane: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver lane builds the answer and the events from column values, the session's
    from ORM objects: both show the same."""
    textbridge.send(text="first")
    if lane == "session":
        monkeypatch.setattr(textbridge.runtime, "driver", None)
    media = [{"url": "https://example.com/a.png"}]
    sends = [
        ({"text": "second"}, "second"),
        ({"text": None, "channel": "mms", "media": media}, "[image]"),
    ]
    for body, preview in sends:
        sent = textbridge.send(**body)
        assert _live_event(textbridge, "message.created", sent["id"]) == sent
        listed = textbridge.api.get("/api/v1/conversations").json()
        conversation = next(c for c in listed if c["id"] == sent["conversation_id"])
        assert conversation["last_message_preview"] == preview
        assert _live_event(textbridge, "conversation.updated", conversation["id"]) == conversation
