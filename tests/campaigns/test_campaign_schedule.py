"""A campaign's send_at and quiet hours through the real app over HTTP, on both databases,
delivered by the simulator: scheduled then delivered at its time; held by its recipients'
quiet hours with the right leave time, waiting in the report rather than completed; a
contact's own time zone wins over the number's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from textbridge.db.base import utcnow
from textbridge.dispatch.quiet_hours import Window

from ..support.live import scaled, wait_until
from ..support.textbridge import Textbridge, event_stream

INDIA = "+9198123456{:02d}"  # Asia/Calcutta: UTC+5:30 all year
UTC_OFFSET_INDIA = timedelta(hours=5, minutes=30)


def open_in_utc_only(now: datetime) -> Window:
    """Two hours around the current UTC time: open in UTC, closed in India (5.5 hours on)."""
    return Window(
        (now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        (now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )


def _create(textbridge: Textbridge, **body: Any) -> dict[str, Any]:
    defaults = {"name": "scheduled", "text": "Hi {name}"}
    response = textbridge.api.post("/api/v1/campaigns", json={**defaults, **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _people(count: int, pattern: str = INDIA) -> list[dict[str, Any]]:
    return [{"to": pattern.format(i), "variables": {"name": f"P{i}"}} for i in range(count)]


def _get(textbridge: Textbridge, campaign_id: str, path: str = "") -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/campaigns/{campaign_id}{path}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _messages(textbridge: Textbridge, campaign_id: str) -> dict[str, dict[str, Any]]:
    """The campaign's messages by recipient, each with its history."""
    sqlite = textbridge.database.backend == "sqlite"  # its UUIDs are 32 hex digits
    stored = campaign_id.replace("-", "") if sqlite else campaign_id
    ids = textbridge.database.rows("SELECT id FROM messages WHERE campaign_id = :c", c=stored)
    found = [textbridge.message(str(uuid.UUID(str(row[0])))) for row in ids]
    return {message["to"]: message for message in found}


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_send_at_schedules_then_delivers_at_its_time(textbridge: Textbridge) -> None:
    send_at = (utcnow() + timedelta(seconds=scaled(2))).replace(microsecond=0)
    created = _create(
        textbridge,
        recipients=_people(3),
        send_at=send_at.isoformat(),
        quiet_hours=False,
        start=True,
    )
    campaign_id = created["campaign"]["id"]
    assert _moment(created["campaign"]["send_at"]) == send_at
    assert created["campaign"]["quiet_hours"] is None
    waiting = _get(textbridge, campaign_id)
    assert waiting["progress"]["waiting"] == 3
    assert waiting["progress"]["delivered"] == 0
    assert waiting["departures"]["scheduled"] == 3
    assert _moment(waiting["departures"]["next_leaves_at"]) == send_at
    assert {m["status"] for m in _messages(textbridge, campaign_id).values()} == {"scheduled"}

    wait_until(
        lambda: (
            (r := _get(textbridge, campaign_id, "/report"))["campaign"]["state"] == "completed"
            and r["progress"]["delivered"] == 3
        ),
        timeout=30,
    )
    for message in _messages(textbridge, campaign_id).values():
        history = {event["status"]: event for event in message["history"]}
        # No event at start (the campaign's started_at stands for it): released, then sent.
        assert list(history)[:2] == ["accepted", "sending"]
        assert _moment(history["sending"]["received_at"]) >= send_at


def test_quiet_hours_hold_until_the_recipients_window_opens(textbridge: Textbridge) -> None:
    now = utcnow()
    window = open_in_utc_only(now)
    draft = _create(textbridge, recipients=_people(3), quiet_hours=str(window))
    campaign_id = draft["campaign"]["id"]
    assert draft["campaign"]["quiet_hours"] == str(window)
    # This one's contact lives in UTC, whatever its number says: its window is open.
    in_utc = INDIA.format(0)
    patched = textbridge.api.patch(f"/api/v1/contacts/{in_utc}", json={"time_zone": "UTC"})
    assert patched.status_code == 200, patched.text
    preview = _get(textbridge, campaign_id)["departures"]  # the draft, as if started now
    assert (preview["estimated"], preview["held"], preview["scheduled"]) == (True, 2, 0)
    expected = _moment(preview["next_leaves_at"])
    assert (expected + UTC_OFFSET_INDIA).time() == window.start

    with event_stream(textbridge) as events:
        started = textbridge.api.post(f"/api/v1/campaigns/{campaign_id}/start")
        assert started.status_code == 200, started.text
        textbridge.wait_for_status(
            _messages(textbridge, campaign_id)[in_utc]["id"], "delivered", timeout=30
        )

        def published_after_delivery() -> bool:
            while not events.empty():
                event = events.get()
                if event["event"] == "campaign.progress" and event["data"]["delivered"] == 1:
                    return True
            return False

        # The progress loop has looked at the campaign since: it would have completed it.
        wait_until(published_after_delivery, timeout=30)

    report = _get(textbridge, campaign_id, "/report")
    assert report["campaign"]["state"] == "running"
    assert report["progress"]["waiting"] == 2
    assert report["progress"]["delivered"] == 1
    assert report["departures"]["held"] == 2
    messages = _messages(textbridge, campaign_id)
    leaves = {_moment(m["leaves_at"]) for to, m in messages.items() if to != in_utc}
    assert {m["status"] for to, m in messages.items() if to != in_utc} == {"held"}
    assert len(leaves) == 1
    (leaves_at,) = leaves
    assert (leaves_at + UTC_OFFSET_INDIA).time() == window.start  # India's opening
    assert now < leaves_at < now + timedelta(days=1)
    assert _moment(report["departures"]["next_leaves_at"]) == leaves_at
    assert report["departures"]["estimated"] is False
    assert leaves_at == expected


def test_quiet_hours_default_on_and_refusals(textbridge: Textbridge) -> None:
    draft = _create(textbridge)["campaign"]
    assert draft["quiet_hours"] == "08:00-21:00"  # TEXTBRIDGE_QUIET_HOURS
    for body, field in (
        ({"quiet_hours": "8-21"}, "quiet_hours"),
        ({"quiet_hours": "09:00-09:00"}, "quiet_hours"),
        ({"send_at": "2026-12-01T09:00:00"}, "send_at"),  # no UTC offset
        ({"send_at": (utcnow() - timedelta(hours=1)).isoformat()}, "send_at"),
    ):
        refused = textbridge.api.post("/api/v1/campaigns", json={"name": "x", "text": "hi", **body})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == field
