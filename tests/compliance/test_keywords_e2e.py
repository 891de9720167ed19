"""STOP, START and HELP through signed webhooks (the simulator signs them as Plivo and Vonage
do, and adds Plivo's `MessageIntent` and Vonage's `sms.keyword`), on both providers and both
channels, on both databases: the ledger entry, the reply from the same sender, and then every
path refused: the API (409), a campaign staged before (skipped at dispatch, counted) and one
staged after (skipped at preparation, counted), a scheduled message accepted before (never
sent: `cancelled`, the simulator got nothing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from textbridge.compliance.keywords import DEFAULT_REPLIES
from textbridge.models import Message

from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

SENDER = {
    ("plivo", "sms"): "+14155550100",
    ("plivo", "whatsapp"): "+14155550101",
    ("vonage", "sms"): "+14155550102",
    ("vonage", "whatsapp"): "+14155550103",
}
OTHER = "+14155550188"
ROUTES = [("plivo", "sms"), ("plivo", "whatsapp"), ("vonage", "sms"), ("vonage", "whatsapp")]
ROUTE_IDS = [f"{provider}-{channel}" for provider, channel in ROUTES]


def inbound(textbridge: Textbridge, provider: str, channel: str, words: str) -> None:
    """A contact's message, posted by the simulator as a signed webhook."""
    body: dict[str, Any] = {"from": CONTACT, "to": SENDER[provider, channel], "text": words}
    if provider == "plivo" and channel == "whatsapp":
        body["type"] = "whatsapp"
    if provider == "vonage":
        body["channel"] = channel
    response = textbridge.simulator.post(f"/control/{provider}/inbound", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 200, response.text


def consent_of(textbridge: Textbridge, address: str = CONTACT) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/contacts/{address}/consent")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def thread(textbridge: Textbridge, provider: str, channel: str) -> list[dict[str, Any]]:
    """The messages of the contact's conversation with this sender, oldest first."""
    listed = textbridge.api.get("/api/v1/conversations").json()
    found = [c for c in listed if c["provider"] == provider and c["channel"] == channel]
    if not found:
        return []
    messages: list[dict[str, Any]] = textbridge.api.get(
        f"/api/v1/conversations/{found[0]['id']}/messages"
    ).json()
    return messages


def reply_of(textbridge: Textbridge, provider: str, channel: str, family: str) -> dict[str, Any]:
    """Waits for the keyword's confirmation to reach the provider; returns our message."""

    def sent() -> dict[str, Any] | None:
        for message in thread(textbridge, provider, channel):
            if message["direction"] == "outbound" and message["text"] == DEFAULT_REPLIES[family]:
                done = message["status"] in ("submitted", "sent", "delivered", "read")
                return message if done else None
        return None

    return wait_until(sent, timeout=20)


def simulator_got(textbridge: Textbridge, provider: str, to: str) -> list[str]:
    """The texts the simulator's `provider` received for `to`."""
    listed = textbridge.simulator.get(
        "/control/messages", params={"direction": "outbound", "provider": provider}
    ).json()
    return [m["text"] for m in listed if m["to_number"].lstrip("+") == to.lstrip("+")]


def send(textbridge: Textbridge, provider: str, channel: str, **extra: Any) -> Any:
    body = {"to": CONTACT, "channel": channel, "provider": provider, "text": "Our news", **extra}
    return textbridge.api.post("/api/v1/messages", json=body)


def campaign(textbridge: Textbridge, provider: str, channel: str) -> dict[str, Any]:
    """A draft to the contact and one other person, from the sender under test."""
    body: dict[str, Any] = {
        "name": "news",
        "channel": channel,
        "provider": provider,
        "from": SENDER[provider, channel],
        "quiet_hours": False,
        "recipients": [
            {"to": CONTACT, "variables": {"customer_name": "Ann"}},
            {"to": OTHER, "variables": {"customer_name": "Bob"}},
        ],
    }
    if channel == "whatsapp":
        body["template"] = {"name": "appointment_reminder", "parameters": {"time": "3 pm"}}
    else:
        body["text"] = "Hi {customer_name}, our news"
    response = textbridge.api.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def report(textbridge: Textbridge, campaign_id: str) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/campaigns/{campaign_id}/report")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def prepare(textbridge: Textbridge, provider: str, channel: str) -> None:
    """WhatsApp: the contact writes first (the window), and the templates are synced."""
    if channel == "whatsapp":
        assert textbridge.api.post("/api/v1/templates/sync").status_code == 200
        inbound(textbridge, provider, channel, "Hi there")
        wait_until(lambda: thread(textbridge, provider, channel), timeout=10)


def make_due(textbridge: Textbridge, message_id: str) -> None:
    """Bring a scheduled message's time forward to now (it was accepted for an hour later)."""
    textbridge.database.run(
        update(Message)
        .where(Message.id == uuid.UUID(message_id))
        .values(next_attempt_at=datetime.now(UTC))
    )


@pytest.mark.parametrize(("provider", "channel"), ROUTES, ids=ROUTE_IDS)
def test_stop_is_honoured_on_every_path(
    textbridge: Textbridge, provider: str, channel: str
) -> None:
    prepare(textbridge, provider, channel)
    sender = SENDER[provider, channel]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = send(textbridge, provider, channel, send_at=later)
    assert scheduled.status_code == 202, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    before = campaign(textbridge, provider, channel)["campaign"]["id"]

    inbound(textbridge, provider, channel, "Stop")

    reply = reply_of(textbridge, provider, channel, "stop")
    assert (reply["from"], reply["to"]) == (sender, CONTACT)
    state = consent_of(textbridge)
    assert state["states"] == {"*": "none", sender: "opted_out"}
    (entry,) = state["history"]
    stop = next(m for m in thread(textbridge, provider, channel) if m["text"] == "Stop")
    assert (entry["action"], entry["scope"], entry["source"]) == ("opt_out", sender, "keyword")
    assert (entry["channel"], entry["kind"]) == (channel, "express")
    assert entry["evidence"]["message_id"] == stop["id"]

    refused = send(textbridge, provider, channel)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "recipient_opted_out"

    started = textbridge.api.post(f"/api/v1/campaigns/{before}/start")
    assert started.status_code == 200, started.text
    done = wait_until(
        lambda: (r := report(textbridge, before))["campaign"]["state"] == "completed" and r,
        timeout=30,
    )
    assert done["skipped"]["opted_out"] == 1
    assert done["skipped"]["cancelled"] == 0
    assert done["progress"]["total"] == 2

    make_due(textbridge, scheduled.json()["id"])
    skipped = textbridge.wait_for_status(scheduled.json()["id"], "cancelled")
    assert skipped["error_code"] == "recipient_opted_out"

    after = campaign(textbridge, provider, channel)
    assert after["accepted"] == 1
    assert report(textbridge, after["campaign"]["id"])["skipped"]["opted_out"] == 1

    # The contact got the confirmation and nothing else; the other person got the campaign.
    assert simulator_got(textbridge, provider, CONTACT) == [DEFAULT_REPLIES["stop"]]
    assert len(simulator_got(textbridge, provider, OTHER)) == 1


@pytest.mark.parametrize(("provider", "channel"), ROUTES, ids=ROUTE_IDS)
def test_start_restores(textbridge: Textbridge, provider: str, channel: str) -> None:
    prepare(textbridge, provider, channel)
    sender = SENDER[provider, channel]
    inbound(textbridge, provider, channel, "STOP")
    reply_of(textbridge, provider, channel, "stop")
    assert send(textbridge, provider, channel).status_code == 409

    inbound(textbridge, provider, channel, "  start! ")

    reply_of(textbridge, provider, channel, "start")
    state = consent_of(textbridge)
    assert state["states"][sender] == "opted_in"
    assert [(e["action"], e["source"]) for e in state["history"]] == [
        ("opt_out", "keyword"),
        ("opt_in", "keyword"),
    ]
    accepted = send(textbridge, provider, channel, text="Welcome back")
    assert accepted.status_code == 202, accepted.text
    textbridge.wait_for_status(accepted.json()["id"], "delivered", "read")


@pytest.mark.parametrize(("provider", "channel"), ROUTES, ids=ROUTE_IDS)
def test_help_replies_without_changing_consent(
    textbridge: Textbridge, provider: str, channel: str
) -> None:
    prepare(textbridge, provider, channel)
    inbound(textbridge, provider, channel, "help")

    reply_of(textbridge, provider, channel, "help")
    assert consent_of(textbridge)["history"] == []
    accepted = send(textbridge, provider, channel)
    assert accepted.status_code == 202, accepted.text
