"""Campaigns through the real app over HTTP, on both databases, delivered by the simulator:
the preview (count, segments, cost), invalid and duplicate rows, per-recipient variables,
start, pause, resume, cancel, and the final report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from textbridge.campaigns import bulk

from ..support.live import wait_until
from ..support.textbridge import Textbridge, event_stream

US = "+1415555{:04d}"


def _create(textbridge: Textbridge, **body: Any) -> dict[str, Any]:
    # Quiet hours off: these tests are about sending, at whatever hour they run
    # (tests/campaigns/test_campaign_schedule.py covers them).
    defaults = {"name": "spring", "text": "Hi {name}, see you soon", "quiet_hours": False}
    response = textbridge.api.post("/api/v1/campaigns", json={**defaults, **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _post(textbridge: Textbridge, campaign_id: str, action: str) -> dict[str, Any]:
    response = textbridge.api.post(f"/api/v1/campaigns/{campaign_id}/{action}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["campaign"]
    return result


def _report(textbridge: Textbridge, campaign_id: str) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/campaigns/{campaign_id}/report")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _faults(textbridge: Textbridge, **faults: float) -> None:
    response = textbridge.simulator.put("/control/faults", json=faults)
    assert response.status_code == 200, response.text


def _people(count: int, pattern: str = US) -> list[dict[str, Any]]:
    return [{"to": pattern.format(200 + i), "variables": {"name": f"P{i}"}} for i in range(count)]


def test_preview_then_start_then_report(textbridge: Textbridge) -> None:
    recipients = [
        {"to": "+14155550201", "variables": {"name": "Ann"}},
        {"to": " +1 415 555 0201 ", "variables": {"name": "Ann again"}},  # same number
        {"to": "+14155550202", "variables": {"name": "Bob"}},
        {"to": "415 555 0199", "variables": {"name": "Nobody"}},
        {"to": "+14155550203", "variables": {}},  # no {name}
        {"to": "+447400123456", "variables": {"name": "Zoë"}},
        {"to": "+447400123457", "variables": {"name": "Łukasz"}},  # Ł forces UCS-2: 1 segment
    ]
    created = _create(textbridge, recipients=recipients)
    campaign = created["campaign"]
    assert campaign["state"] == "draft"
    assert created["accepted"] == 4
    assert created["duplicates"] == 1
    assert [(row["row"], row["reason"]) for row in created["invalid"]] == [
        (4, "'415 555 0199' is not in international format (E.164, e.g. +14155550100)"),
        (5, "no value for {name}"),
    ]
    assert (campaign["recipients"], campaign["invalid"], campaign["duplicates"]) == (4, 2, 1)
    assert campaign["segments"] == 4
    # Illustrative prices: Plivo US 0.0055, GB 0.0400 per segment.
    assert campaign["cost_estimate"] == "0.0910"
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0  # a draft sends nothing
    assert textbridge.api.get("/api/v1/conversations").json() == []

    fate = {"outcome": "undelivered", "error_code": "300"}
    assert textbridge.simulator.put("/control/numbers/+14155550202", json=fate).status_code == 200
    _post(textbridge, campaign["id"], "start")
    report = wait_until(
        lambda: (
            (r := _report(textbridge, campaign["id"]))["campaign"]["state"] == "completed"
            and r["progress"]["delivered"] == 3
            and r["progress"]["failed"] == 1
            and r
        ),
        timeout=30,
    )
    assert report["progress"]["sent"] == 4
    [failure] = report["failed_by_reason"]
    assert (failure["code"], failure["count"]) == ("300", 1)
    assert report["skipped"] == {
        "invalid": 2,
        "duplicate": 1,
        "cancelled": 0,
        "opted_out": 0,
        "erased": 0,
    }
    assert report["cost"]["estimate"] == report["cost"]["sent"] == "0.0910"
    assert [row["row"] for row in report["invalid_rows"]] == [4, 5]

    texts = _texts_by_recipient(textbridge)
    assert texts["+14155550201"] == "Hi Ann, see you soon"
    assert texts["+447400123457"] == "Hi Łukasz, see you soon"


def _texts_by_recipient(textbridge: Textbridge) -> dict[str, str]:
    conversations = textbridge.api.get("/api/v1/conversations", params={"limit": 100}).json()
    texts = {}
    for conversation in conversations:
        messages = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
        texts[conversation["contact_address"]] = messages[-1]["text"]
    return texts


def test_chunks_collapse_duplicates_across_requests(textbridge: Textbridge) -> None:
    campaign = _create(textbridge, recipients=_people(3))["campaign"]
    more = textbridge.api.post(
        f"/api/v1/campaigns/{campaign['id']}/recipients",
        json={"recipients": _people(5)},
    )
    assert more.status_code == 200, more.text
    assert (more.json()["accepted"], more.json()["duplicates"]) == (2, 3)
    assert more.json()["campaign"]["recipients"] == 5


def test_an_opt_out_leaves_a_recipient_out_once(textbridge: Textbridge) -> None:
    """Opted out before their chunk: left out, counted as opted out. Opted out after their
    row was staged, then repeated by a later chunk: that row is a duplicate, not a second
    opt-out (the staged row stays; the dispatcher's own check cancels its message)."""
    first, second, third = _people(3)
    _opt_out(textbridge, first["to"])
    campaign = _create(textbridge, recipients=[first, second])["campaign"]
    assert (campaign["recipients"], campaign["duplicates"]) == (1, 0)
    _opt_out(textbridge, second["to"])
    more = textbridge.api.post(
        f"/api/v1/campaigns/{campaign['id']}/recipients", json={"recipients": [second, third]}
    )
    assert more.status_code == 200, more.text
    assert (more.json()["accepted"], more.json()["duplicates"]) == (1, 1)
    preview = textbridge.api.get(f"/api/v1/campaigns/{campaign['id']}/preview").json()
    assert preview["opted_out"] == 1
    assert [row["to"] for row in preview["first_rows"]] == [second["to"], third["to"]]


def _opt_out(textbridge: Textbridge, address: str) -> None:
    url = f"/api/v1/contacts/{address}/consent"
    response = textbridge.api.post(url, json={"action": "opt_out"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("size", ["small", "large"])
def test_conversations_are_made_at_start_and_existing_ones_kept(
    textbridge: Textbridge, size: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A draft creates no conversation; its start creates each recipient's conversation with
    the sender, or keeps the one that exists (from before the draft, or from an inbound
    message that arrived while it was a draft), and each leads the inbox with its text. A
    large campaign's start (PostgreSQL: fresh statistics of the joined columns, more memory
    to sort in) makes the same."""
    if size == "large":
        monkeypatch.setattr(bulk, "ANALYZED_FROM", 1)
    analyzed_before = _contacts_analyzed(textbridge)
    textbridge.send(to="+14155550201", text="earlier")
    campaign = _create(textbridge, recipients=_people(3))["campaign"]  # +14155550200 to 202
    assert list(_conversations(textbridge)) == ["+14155550201"]
    textbridge.inbound("hello while it is a draft", sender="+14155550202")
    before = wait_until(lambda: len(found := _conversations(textbridge)) == 2 and found)

    _post(textbridge, campaign["id"], "start")
    after = _conversations(textbridge)
    assert sorted(after) == ["+14155550200", "+14155550201", "+14155550202"]
    assert {address: after[address]["id"] for address in before} == {
        address: conversation["id"] for address, conversation in before.items()
    }
    assert textbridge.database.scalar("SELECT count(*) FROM conversations") == 3
    previews = {address: c["last_message_preview"] for address, c in after.items()}
    assert previews == {
        "+14155550200": "Hi P0, see you soon",
        "+14155550201": "Hi P1, see you soon",
        "+14155550202": "Hi P2, see you soon",
    }
    for address, conversation in after.items():
        messages = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages")
        assert messages.json()[-1]["to"] == address
    if textbridge.database.backend == "postgresql":
        wanted = analyzed_before + (size == "large")
        assert wait_until(lambda: _contacts_analyzed(textbridge) >= wanted)
        assert _contacts_analyzed(textbridge) == wanted


def _contacts_analyzed(textbridge: Textbridge) -> int:
    """How many times contacts was analyzed by a statement (PostgreSQL; not autovacuum)."""
    if textbridge.database.backend != "postgresql":
        return 0
    query = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'contacts'"
    return int(textbridge.database.scalar(query))


def _conversations(textbridge: Textbridge) -> dict[str, dict[str, Any]]:
    listed = textbridge.api.get("/api/v1/conversations", params={"limit": 100}).json()
    return {conversation["contact_address"]: conversation for conversation in listed}


def test_started_at_once_with_live_counts(textbridge: Textbridge) -> None:
    with event_stream(textbridge) as events:
        created = _create(textbridge, recipients=_people(3), start=True)
        assert created["campaign"]["state"] == "running"
        seen: list[dict[str, Any]] = []

        def finished() -> bool:
            while not events.empty():
                event = events.get()
                if event["event"] == "campaign.progress":
                    seen.append(event["data"])
            return bool(seen) and seen[-1]["delivered"] == 3

        wait_until(finished, timeout=30)
    assert {event["id"] for event in seen} == {created["campaign"]["id"]}
    assert seen[-1]["total"] == 3
    assert seen[-1]["state"] == "completed"
    # One event per change at most once a second, not one per message status.
    assert len(seen) <= 10


def test_pause_holds_the_rest_and_cancel_skips_it(textbridge: Textbridge) -> None:
    created = _create(textbridge, recipients=_people(100), start=True)
    campaign_id = created["campaign"]["id"]
    assert _post(textbridge, campaign_id, "pause")["state"] == "paused"
    # What was claimed before the pause finishes; nothing else leaves.
    paused = wait_until(
        lambda: (
            (r := _report(textbridge, campaign_id))["progress"]["sending"] == 0
            and r["progress"]["submitted"] == 0
            and r
        ),
        timeout=30,
    )
    held = textbridge.database.scalar(
        "SELECT count(*) FROM messages WHERE campaign_id = :c AND status = 'accepted'"
        " AND next_attempt_at IS NOT NULL",
        c=_db_id(textbridge, campaign_id),
    )
    assert held == 0
    waiting = paused["progress"]["waiting"]
    assert _report(textbridge, campaign_id)["progress"]["waiting"] == waiting

    assert _post(textbridge, campaign_id, "cancel")["state"] == "cancelled"
    report = _report(textbridge, campaign_id)
    assert report["progress"]["waiting"] == 0
    assert report["progress"]["cancelled"] == waiting
    assert report["skipped"]["cancelled"] == waiting
    assert report["progress"]["delivered"] + waiting == 100
    refused = textbridge.api.post(f"/api/v1/campaigns/{campaign_id}/resume")
    assert refused.status_code == 409


def _db_id(textbridge: Textbridge, campaign_id: str) -> str:
    # SQLite keeps UUIDs as 32 hex digits, PostgreSQL as its uuid type (which reads either).
    return campaign_id.replace("-", "") if textbridge.database.backend == "sqlite" else campaign_id


def test_resume_sends_the_rest(textbridge: Textbridge) -> None:
    created = _create(textbridge, recipients=_people(20))
    campaign_id = created["campaign"]["id"]
    # A slow provider, so that the campaign cannot finish before it is paused (on a quiet
    # machine 20 sends took less than the pause request's round trip).
    _faults(textbridge, send_delay_seconds=3)
    _post(textbridge, campaign_id, "start")
    _post(textbridge, campaign_id, "pause")
    _faults(textbridge, send_delay_seconds=0)
    assert _post(textbridge, campaign_id, "resume")["state"] == "running"
    wait_until(
        lambda: (
            (r := _report(textbridge, campaign_id))["campaign"]["state"] == "completed"
            and r["progress"]["delivered"] == 20
        ),
        timeout=30,
    )


def test_whatsapp_template_with_per_recipient_parameters(textbridge: Textbridge) -> None:
    assert textbridge.api.post("/api/v1/templates/sync").status_code == 200
    template = {"name": "appointment_reminder", "parameters": {"time": "3 pm"}}
    recipients = [
        {"to": "+14155550201", "variables": {"customer_name": "Ann", "city": "unused"}},
        {"to": "+14155550202", "variables": {"customer_name": "Bob"}},
        {"to": "+14155550203", "variables": {}},
    ]
    created = _create(
        textbridge, text=None, channel="whatsapp", template=template, recipients=recipients
    )
    assert created["accepted"] == 2
    assert created["invalid"][0]["row"] == 3
    assert "customer_name" in created["invalid"][0]["reason"]
    assert created["campaign"]["cost_estimate"] == "0.0600"  # Plivo WhatsApp US: 0.03 each
    campaign_id = created["campaign"]["id"]
    _post(textbridge, campaign_id, "start")
    wait_until(lambda: _report(textbridge, campaign_id)["progress"]["delivered"] == 2, timeout=30)
    conversations = textbridge.api.get("/api/v1/conversations").json()
    assert {c["last_message_preview"] for c in conversations} == {"[template appointment_reminder]"}
    messages = textbridge.api.get(f"/api/v1/conversations/{conversations[0]['id']}/messages").json()
    sent = messages[-1]["template"]
    assert sent["name"] == "appointment_reminder"
    names = {p["text"] for c in sent["components"] for p in c.get("parameters", [])}
    assert names & {"Ann", "Bob"}
    assert "3 pm" in names


def test_refusals(textbridge: Textbridge) -> None:
    both = textbridge.api.post(
        "/api/v1/campaigns",
        json={"name": "x", "text": "hi", "template": {"name": "order_update"}},
    )
    assert both.status_code == 422
    whatsapp_text = textbridge.api.post(
        "/api/v1/campaigns", json={"name": "x", "text": "hi", "channel": "whatsapp"}
    )
    assert whatsapp_text.status_code == 422
    assert whatsapp_text.json()["error"]["field"] == "template"
    draft = _create(textbridge)["campaign"]
    empty = textbridge.api.post(f"/api/v1/campaigns/{draft['id']}/start")
    assert empty.status_code == 409
    missing = textbridge.api.post("/api/v1/campaigns/00000000-0000-0000-0000-000000000000/pause")
    assert missing.status_code == 404


def test_hostile_rows_are_invalid_rows_not_errors(textbridge: Textbridge) -> None:
    recipients = [
        {"to": "+1" + "4" * 500, "variables": {"name": "A"}},
        {"to": "+14155550201", "variables": {"name": "\ud800"}},
        {"to": "+14155550202", "variables": {"na\x00me": "x", "name": "B"}},
        {"to": "+14155550203", "variables": {"name": None}},
    ]
    body = {"name": "hostile", "text": "Hi {name}", "recipients": recipients}
    # JSON's \ud800 escape carries a lone surrogate, which no database can store.
    response = textbridge.api.post(
        "/api/v1/campaigns",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["accepted"] == 1
    assert [row["row"] for row in created["invalid"]] == [1, 2, 3]
    too_far = textbridge.api.post(
        f"/api/v1/campaigns/{created['campaign']['id']}/recipients",
        json={"recipients": [{"to": "+14155550204", "row": 2**31}]},
    )
    assert too_far.status_code == 422


def test_failures_past_the_commonest_reasons_are_counted_as_other(textbridge: Textbridge) -> None:
    """23 distinct failure codes: the report lists the 20 commonest (most first, then by
    code), and one `other` entry for the rest, so that the reasons add up to the failures."""
    people = _people(25)
    codes = ["100"] * 3 + [str(201 + n) for n in range(22)]
    for person, code in zip(people, codes, strict=True):
        fate = {"outcome": "undelivered", "error_code": code}
        response = textbridge.simulator.put(f"/control/numbers/{person['to']}", json=fate)
        assert response.status_code == 200, response.text
    campaign_id = _create(textbridge, recipients=people, start=True)["campaign"]["id"]
    report = wait_until(
        lambda: (
            (r := _report(textbridge, campaign_id))["campaign"]["state"] == "completed"
            and r["progress"]["failed"] == 25
            and r
        ),
        timeout=30,
    )
    reasons = report["failed_by_reason"]
    assert [(row["code"], row["count"]) for row in reasons] == [
        ("100", 3),
        *((str(201 + n), 1) for n in range(19)),
        ("other", 3),
    ]
    assert reasons[-1]["reason"] == "3 more reasons"
    assert sum(row["count"] for row in reasons) == report["progress"]["failed"]
