"""The review of `unknown` messages over real HTTP: list, resend, close, and 409 otherwise."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from textbridge.db.base import utcnow
from textbridge.models import Message

from ..support.live import wait_until
from ..support.textbridge import Textbridge


def _unknown_message(textbridge: Textbridge, to: str) -> str:
    """A send the simulator answers 500: the provider may have it, so it becomes unknown."""
    faults = {"fail_next_sends": {"status": 500, "count": 1}}
    assert textbridge.simulator.put("/control/faults", json=faults).status_code == 200
    message_id = str(textbridge.send(to=to, text="did it go?")["id"])
    textbridge.wait_for_status(message_id, "unknown")
    return message_id


def test_unknown_messages_are_listed_and_resent_once(textbridge: Textbridge) -> None:
    message_id = _unknown_message(textbridge, "+14155550181")
    listed = textbridge.api.get("/api/v1/messages", params={"status": "unknown"})
    assert listed.status_code == 200, listed.text
    assert [message["id"] for message in listed.json()] == [message_id]

    resent = textbridge.api.post(f"/api/v1/messages/{message_id}/resend")
    assert resent.status_code == 200, resent.text
    assert resent.json()["status"] == "accepted"
    done = textbridge.wait_for_status(message_id, "delivered")
    review = [event for event in done["history"] if event["source"] == "review"]
    assert [event["status"] for event in review] == ["accepted"]
    assert review[0]["by"].startswith("api key ")

    again = textbridge.api.post(f"/api/v1/messages/{message_id}/resend")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_unknown"
    assert "delivered" in again.json()["error"]["message"]
    sent = textbridge.simulator.get("/control/messages", params={"direction": "outbound"})
    assert len(sent.json()) == 1


def test_closing_settles_an_unknown_message(textbridge: Textbridge) -> None:
    unsent = _unknown_message(textbridge, "+14155550182")
    closed = textbridge.api.post(
        f"/api/v1/messages/{unsent}/close",
        json={"resolution": "not_sent", "note": "not in Plivo's logs"},
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["error_code"]) == ("failed", "closed_unsent")
    assert "not in Plivo's logs" in body["error_message"]

    taken = _unknown_message(textbridge, "+14155550183")
    closed = textbridge.api.post(f"/api/v1/messages/{taken}/close", json={"resolution": "sent"})
    assert closed.json()["status"] == "sent"
    assert textbridge.api.get("/api/v1/messages", params={"status": "unknown"}).json() == []


def test_review_actions_are_refused_outside_unknown(textbridge: Textbridge) -> None:
    delivered = str(textbridge.send(to="+14155550184")["id"])
    textbridge.wait_for_status(delivered, "delivered")
    for action, body in (("resend", None), ("close", {"resolution": "sent"})):
        response = textbridge.api.post(f"/api/v1/messages/{delivered}/{action}", json=body)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "not_unknown"
    missing = textbridge.api.post(f"/api/v1/messages/{uuid.uuid4()}/resend")
    assert missing.status_code == 404
    bad = textbridge.api.post(f"/api/v1/messages/{delivered}/close", json={"resolution": "maybe"})
    assert bad.status_code == 422
    wrong_filter = textbridge.api.get("/api/v1/messages", params={"status": "delivered"})
    assert wrong_filter.status_code == 422


def _unknown_with_one_time(textbridge: Textbridge, count: int) -> list[str]:
    """`count` messages made `unknown` at the same instant (a crash leaves many so): the
    pages must not lose the ones that share the last one's time."""
    ids = [str(textbridge.send(to=f"+1415555019{n}")["id"]) for n in range(count)]
    for message_id in ids:
        textbridge.wait_for_status(message_id, "delivered")
    # The receipts can come before the dispatcher records the send's answer (under load): wait
    # for that record (it clears the lease), or it lands after the UPDATE below and moves a
    # message between the review's pages.
    leased = "SELECT count(*) FROM messages WHERE lease_expires_at IS NOT NULL"
    wait_until(lambda: textbridge.database.scalar(leased) == 0, timeout=20)
    textbridge.database.run(
        update(Message)
        .where(Message.id.in_([uuid.UUID(m) for m in ids]))
        .values(status="unknown", updated_at=utcnow())
    )
    return sorted(ids, key=lambda m: uuid.UUID(m).int)  # (updated_at, id) order


def test_unknown_messages_are_paged_by_cursor(textbridge: Textbridge) -> None:
    expected = _unknown_with_one_time(textbridge, 5)
    seen: list[str] = []
    params = {"status": "unknown", "limit": "2"}
    for _ in range(4):
        page = textbridge.api.get("/api/v1/messages", params=params)
        assert page.status_code == 200, page.text
        seen += [message["id"] for message in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if cursor is None:
            break
        assert f"after={cursor}" in page.headers["Link"]
        params["after"] = cursor
    assert seen == expected
    assert cursor is None  # a last page of 1, or an empty one after a full page
    bad = textbridge.api.get("/api/v1/messages", params={"status": "unknown", "after": "c1.x"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "after"
