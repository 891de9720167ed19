"""The foundation slice end to end: send, statuses live, reply live — over real HTTP."""

from __future__ import annotations

import queue
from typing import Any

from ..support.live import scaled
from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge, event_stream


def _next(events: queue.Queue[dict[str, Any]], kind: str, timeout: float = 10) -> dict[str, Any]:
    while True:
        event = events.get(timeout=scaled(timeout))
        if event["event"] == kind:
            return event["data"]  # type: ignore[no-any-return]


def test_sent_message_goes_queued_sent_delivered(textbridge: Textbridge) -> None:
    sent = textbridge.send(text="Your table is ready")
    assert sent["status"] == "accepted"
    assert (sent["encoding"], sent["segments"]) == ("GSM-7", 1)

    message = textbridge.wait_for_status(sent["id"], "delivered")

    history = [(e["source"], e["provider_status"], e["status"]) for e in message["history"]]
    assert history[:3] == [
        ("textbridge", None, "accepted"),
        ("textbridge", None, "sending"),
        ("textbridge", None, "submitted"),
    ]
    assert ("plivo", "queued", "submitted") in history
    assert ("plivo", "sent", "sent") in history
    assert history[-1] == ("plivo", "delivered", "delivered")
    assert message["provider_message_id"]


def test_status_changes_and_reply_arrive_live(textbridge: Textbridge) -> None:
    with event_stream(textbridge) as events:
        sent = textbridge.send(text="Are you coming?")
        created = _next(events, "message.created")
        assert created["id"] == sent["id"]
        seen = []
        while "delivered" not in seen:
            data = _next(events, "message.status")
            if data["id"] == sent["id"]:
                seen.append(data["status"])
        assert seen == ["sending", "submitted", "sent", "delivered"]

        textbridge.inbound("Yes, on my way")
        reply = _next(events, "message.created")
        conversation = _next(events, "conversation.updated")

    assert reply["direction"] == "inbound"
    assert reply["conversation_id"] == sent["conversation_id"]
    assert (reply["from"], reply["to"], reply["text"]) == (
        CONTACT,
        SANDBOX_NUMBER,
        "Yes, on my way",
    )
    assert conversation["unread_count"] == 1
    assert conversation["last_message_preview"] == "Yes, on my way"


def test_conversation_lists_both_directions_in_order(textbridge: Textbridge) -> None:
    sent = textbridge.send(text="one")
    textbridge.wait_for_status(sent["id"], "delivered")
    textbridge.inbound("two")

    def thread() -> list[Any]:
        response = textbridge.api.get(f"/api/v1/conversations/{sent['conversation_id']}/messages")
        return [(m["direction"], m["text"]) for m in response.json()]

    from ..support.live import wait_until

    assert wait_until(lambda: len(thread()) == 2 and thread()) == [
        ("outbound", "one"),
        ("inbound", "two"),
    ]
    listed = textbridge.api.get("/api/v1/conversations").json()
    assert [c["id"] for c in listed] == [sent["conversation_id"]]


def test_failing_number_ends_undelivered_with_error(textbridge: Textbridge) -> None:
    textbridge.simulator.put(
        "/control/numbers/+14155550123", json={"outcome": "undelivered", "error_code": "300"}
    )
    sent = textbridge.send(to="+14155550123", text="hello?")
    message = textbridge.wait_for_status(sent["id"], "undelivered")
    assert message["error_code"] == "300"
    assert message["error_message"]
