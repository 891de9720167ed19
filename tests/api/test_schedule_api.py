"""send_at, quiet hours and the contact's time zone through the real app over HTTP, with the
real dispatcher and the simulator."""

from __future__ import annotations

import queue
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ..support.live import scaled
from ..support.textbridge import CONTACT, Textbridge, event_stream

LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # CONTACT's zone, by its number


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def history(textbridge: Textbridge, message_id: str) -> list[dict[str, Any]]:
    return list(textbridge.message(message_id)["history"])


def closed_window_here(now: datetime) -> str:
    """An hour-long window opening two hours from now in Los Angeles: closed now."""
    local = now.astimezone(LOS_ANGELES)
    return f"{local + timedelta(hours=2):%H:%M}-{local + timedelta(hours=3):%H:%M}"


def test_a_scheduled_message_leaves_at_its_time(textbridge: Textbridge) -> None:
    send_at = datetime.now(UTC) + timedelta(seconds=2)
    with event_stream(textbridge) as events:
        sent = textbridge.send(send_at=send_at.isoformat())
        assert sent["status"] == "scheduled"
        assert moment(sent["send_at"]) == moment(sent["leaves_at"]) == send_at
        done = textbridge.wait_for_status(sent["id"], "submitted", "sent", "delivered")
        assert done["leaves_at"] is None
        seen = _statuses_of(events, sent["id"], until="accepted")
    steps = {
        event["status"]: moment(event["occurred_at"]) for event in history(textbridge, sent["id"])
    }
    assert list(steps)[:4] == ["scheduled", "accepted", "sending", "submitted"]
    assert steps["accepted"] >= send_at  # not a moment early
    assert steps["sending"] >= send_at
    assert seen[-1] == "accepted"  # the release was pushed live


def _statuses_of(events: queue.Queue[dict[str, Any]], message_id: str, until: str) -> list[str]:
    seen: list[str] = []
    while until not in seen:
        event = events.get(timeout=scaled(10))
        if event["event"] == "message.status" and event["data"]["id"] == message_id:
            seen.append(event["data"]["status"])
    return seen


def test_held_by_quiet_hours_shows_when_it_leaves(textbridge: Textbridge) -> None:
    now = datetime.now(UTC)
    window = closed_window_here(now)
    sent = textbridge.send(quiet_hours=window)
    assert (sent["status"], sent["quiet_hours"], sent["send_at"]) == ("held", window, None)
    leaves_at = moment(sent["leaves_at"])
    assert now < leaves_at < now + timedelta(hours=2, minutes=1)
    assert f"{leaves_at.astimezone(LOS_ANGELES):%H:%M}" == window.split("-")[0]
    assert textbridge.message(sent["id"])["status"] == "held"


def test_quiet_hours_true_is_the_configured_default(textbridge: Textbridge) -> None:
    sent = textbridge.send(quiet_hours=True)
    assert sent["quiet_hours"] == "08:00-21:00"
    local = datetime.now(UTC).astimezone(LOS_ANGELES)
    assert sent["status"] == ("accepted" if 8 <= local.hour < 21 else "held")


def test_a_reply_is_not_held(textbridge: Textbridge) -> None:
    sent = textbridge.send(quiet_hours=False)
    assert (sent["status"], sent["quiet_hours"]) == ("accepted", None)
    assert moment(sent["leaves_at"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"send_at": "2026-12-01T09:00:00"}, "send_at", "UTC offset"),
        ({"send_at": "2020-01-01T09:00:00Z"}, "send_at", "in the past"),
        ({"send_at": "2099-01-01T09:00:00Z"}, "send_at", "days ahead"),
        ({"send_at": "tomorrow"}, "send_at", "datetime"),
        ({"quiet_hours": "9-17"}, "quiet_hours", "HH:MM-HH:MM"),
        ({"quiet_hours": "09:00-09:00"}, "quiet_hours", "empty"),
    ],
)
def test_bad_schedules_are_a_clear_422(
    textbridge: Textbridge, extra: dict[str, str], field: str, says: str
) -> None:
    response = textbridge.api.post("/api/v1/messages", json={"to": CONTACT, "text": "x", **extra})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["field"] == field
    assert says in body["error"]["message"]


def test_the_contacts_time_zone_can_be_set_and_cleared(textbridge: Textbridge) -> None:
    textbridge.send()
    contact = textbridge.api.get(f"/api/v1/contacts/{CONTACT}").json()
    assert (contact["time_zone"], contact["estimated_time_zones"]) == (
        None,
        ["America/Los_Angeles"],
    )
    changed = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"time_zone": "Asia/Tokyo"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["time_zone"] == "Asia/Tokyo"
    cleared = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"time_zone": None})
    assert cleared.json()["time_zone"] is None


def test_the_contacts_zone_decides_quiet_hours(textbridge: Textbridge) -> None:
    textbridge.send()
    tokyo = ZoneInfo("Asia/Tokyo")
    local = datetime.now(UTC).astimezone(tokyo)
    window = f"{local + timedelta(hours=2):%H:%M}-{local + timedelta(hours=3):%H:%M}"
    textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"time_zone": "Asia/Tokyo"})
    sent = textbridge.send(quiet_hours=window)
    assert sent["status"] == "held"
    assert f"{moment(sent['leaves_at']).astimezone(tokyo):%H:%M}" == window.split("-")[0]


@pytest.mark.parametrize("zone", ["PST", "Mars/Olympus", "../../etc/passwd"])
def test_a_bad_time_zone_is_a_clear_422(textbridge: Textbridge, zone: str) -> None:
    textbridge.send()
    response = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"time_zone": zone})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "time_zone"


def test_an_unknown_contact_is_404(textbridge: Textbridge) -> None:
    response = textbridge.api.patch("/api/v1/contacts/+14155550111", json={"time_zone": None})
    assert response.status_code == 404
