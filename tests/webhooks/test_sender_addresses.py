"""Senders that are not phone numbers (alphanumeric sender IDs, short codes, WhatsApp
business-scoped user ids), through signed webhooks and the running app, on both databases:
stored with their kind, shown through the API, and refused as recipients with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from .signed import plivo_sms, post_plivo, post_vonage, vonage_text

BSUID = "US.13491208655302741918"


def _conversation(textbridge: Textbridge, address: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        return next((c for c in listed if c["contact_address"] == address), None)

    return wait_until(find, timeout=15)


def _messages(textbridge: Textbridge, conversation: dict[str, Any]) -> list[dict[str, Any]]:
    response = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


def _send(textbridge: Textbridge, to: str, **extra: Any) -> dict[str, Any]:
    response = textbridge.api.post("/api/v1/messages", json={"to": to, "text": "hi", **extra})
    body: dict[str, Any] = response.json()
    return {"status_code": response.status_code, **body}


def test_every_sender_kind_is_stored_with_its_kind(textbridge: Textbridge) -> None:
    assert post_plivo(textbridge, "inbound", plivo_sms("AMAZON", "Your parcel")).status_code == 200
    assert post_plivo(textbridge, "inbound", plivo_sms("HSBC", "Code 1234")).status_code == 200
    short_code = vonage_text("sms", "72345", "Reply STOP")
    assert post_vonage(textbridge, "inbound", short_code).status_code == 200
    bsuid = vonage_text("whatsapp", BSUID, "hello", profile={"name": "Ann"})
    assert post_vonage(textbridge, "inbound", bsuid).status_code == 200

    expected = {
        "AMAZON": ("alphanumeric", "plivo", "sms", "Your parcel"),
        "HSBC": ("alphanumeric", "plivo", "sms", "Code 1234"),
        "72345": ("short_code", "vonage", "sms", "Reply STOP"),
        BSUID: ("whatsapp_bsuid", "vonage", "whatsapp", "hello"),
    }
    for address, (kind, provider, channel, text) in expected.items():
        conversation = _conversation(textbridge, address)
        assert conversation["contact_address_kind"] == kind
        assert conversation["contact_phone"] is None
        assert (conversation["provider"], conversation["channel"]) == (provider, channel)
        [message] = _messages(textbridge, conversation)
        assert (message["from"], message["text"]) == (address, text)
    assert _conversation(textbridge, BSUID)["contact_name"] == "Ann"
    stored = textbridge.database.rows("SELECT address, address_kind FROM contacts")
    assert sorted(map(tuple, stored)) == sorted((a, k[0]) for a, k in expected.items())
    pending = "SELECT count(*) FROM webhook_journal WHERE state <> 'applied'"
    assert textbridge.database.scalar(pending) == 0


def test_an_alphanumeric_sender_cannot_be_replied_to(textbridge: Textbridge) -> None:
    assert post_plivo(textbridge, "inbound", plivo_sms("AMAZON", "Your parcel")).status_code == 200
    conversation = _conversation(textbridge, "AMAZON")
    assert conversation["replyable"] is False
    assert "alphanumeric sender ID" in conversation["not_replyable_reason"]

    refused = _send(textbridge, "AMAZON")
    assert refused["status_code"] == 422
    assert refused["error"]["code"] == "recipient_not_replyable"
    assert refused["error"]["field"] == "to"
    assert refused["error"]["address_kind"] == "alphanumeric"
    assert "cannot receive" in refused["error"]["message"]
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 1  # the inbound only


def test_a_short_code_cannot_be_replied_to(textbridge: Textbridge) -> None:
    refused = _send(textbridge, "72345")
    assert (refused["status_code"], refused["error"]["code"]) == (422, "recipient_not_replyable")
    assert "short code" in refused["error"]["message"]


@pytest.mark.parametrize(("provider", "accepted"), [("vonage", True), ("plivo", False)])
def test_a_whatsapp_user_id_is_replied_to_through_vonage_only(
    textbridge: Textbridge, provider: str, accepted: bool
) -> None:
    bsuid = vonage_text("whatsapp", BSUID, "hello")
    assert post_vonage(textbridge, "inbound", bsuid).status_code == 200
    conversation = _conversation(textbridge, BSUID)
    assert conversation["replyable"] is True

    sent = _send(textbridge, BSUID, channel="whatsapp", provider=provider)
    if accepted:
        assert sent["status_code"] == 202, sent
        assert (sent["to"], sent["conversation_id"]) == (BSUID, conversation["id"])
    else:
        assert (sent["status_code"], sent["error"]["code"]) == (422, "recipient_not_replyable")
        assert "only Vonage" in sent["error"]["message"]


def test_phone_numbers_are_still_stored_in_e164(textbridge: Textbridge) -> None:
    assert post_plivo(textbridge, "inbound", plivo_sms("14155550199", "hi")).status_code == 200
    conversation = _conversation(textbridge, "+14155550199")
    assert conversation["contact_address_kind"] == "e164"
    assert conversation["contact_phone"] == "+14155550199"
    assert conversation["replyable"] is True


def test_the_simulator_injects_sender_ids_and_whatsapp_user_ids(textbridge: Textbridge) -> None:
    routes = [
        ("plivo", {"from": "HSBC", "to": "+14155550100", "text": "Code 1234"}),
        ("vonage", {"from": BSUID, "to": "+14155550103", "channel": "whatsapp", "text": "hi"}),
    ]
    for provider, body in routes:
        response = textbridge.simulator.post(f"/control/{provider}/inbound", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["status_code"] == 200, response.text
    assert _conversation(textbridge, "HSBC")["contact_address_kind"] == "alphanumeric"
    assert _conversation(textbridge, BSUID)["contact_address_kind"] == "whatsapp_bsuid"
