"""Retry of a failed message through the API (`POST /api/v1/messages/{id}/retry`): the same
content as a new message, for every kind a person can send (text, a template with its values,
a location), checked like any send; what cannot be retried is refused with a reason."""

from __future__ import annotations

from typing import Any

from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

WHATSAPP_VONAGE = "+14155550103"


def _fail_the_number(textbridge: Textbridge) -> None:
    fate = {"outcome": "undelivered", "error_code": "300"}
    assert textbridge.simulator.put(f"/control/numbers/{CONTACT}", json=fate).status_code == 200


def _heal_the_number(textbridge: Textbridge) -> None:
    assert textbridge.simulator.delete(f"/control/numbers/{CONTACT}").status_code == 204


def _retry(textbridge: Textbridge, message_id: str, **headers: str) -> Any:
    return textbridge.api.post(f"/api/v1/messages/{message_id}/retry", headers=headers)


def _sent(textbridge: Textbridge) -> list[dict[str, Any]]:
    sent = textbridge.simulator.get("/control/messages", params={"direction": "outbound"})
    found: list[dict[str, Any]] = sent.json()
    return found


def test_a_failed_text_is_sent_again_as_a_new_message(textbridge: Textbridge) -> None:
    _fail_the_number(textbridge)
    failed = textbridge.send(text="Are you there?")
    textbridge.wait_for_status(failed["id"], "undelivered")
    _heal_the_number(textbridge)

    answer = _retry(textbridge, failed["id"], **{"Idempotency-Key": "retry-1"})
    assert answer.status_code == 202, answer.text
    retried = answer.json()
    assert retried["id"] != failed["id"]
    assert answer.headers["Location"] == f"/api/v1/messages/{retried['id']}"
    assert (retried["text"], retried["from"], retried["to"]) == (
        "Are you there?",
        failed["from"],
        CONTACT,
    )
    assert textbridge.wait_for_status(retried["id"], "delivered")["text"] == "Are you there?"
    assert textbridge.message(failed["id"])["status"] == "undelivered"  # its history stays
    again = _retry(textbridge, failed["id"], **{"Idempotency-Key": "retry-1"})
    assert again.json()["id"] == retried["id"]  # a retried request is not a second message
    assert len(_sent(textbridge)) == 2


def test_a_failed_template_goes_again_with_its_values(textbridge: Textbridge) -> None:
    assert textbridge.api.post("/api/v1/templates/sync").status_code == 200
    _fail_the_number(textbridge)
    template = {"name": "order_update", "language": "en_US", "parameters": ["A-1042"]}
    body = {"to": CONTACT, "channel": "whatsapp", "provider": "vonage", "template": template}
    sent = textbridge.api.post("/api/v1/messages", json=body)
    assert sent.status_code == 202, sent.text
    failed = textbridge.wait_for_status(sent.json()["id"], "undelivered", "failed", "rejected")
    _heal_the_number(textbridge)

    answer = _retry(textbridge, failed["id"])
    assert answer.status_code == 202, answer.text
    retried = textbridge.wait_for_status(answer.json()["id"], "delivered", "read")
    assert retried["content_type"] == "template"
    assert retried["template"] == failed["template"]
    assert "A-1042" in str(retried["template"]["components"])


def test_a_failed_location_goes_again_inside_the_window(textbridge: Textbridge) -> None:
    inbound = {"channel": "whatsapp", "from": CONTACT, "to": WHATSAPP_VONAGE, "text": "Where?"}
    assert textbridge.simulator.post("/control/vonage/inbound", json=inbound).status_code == 200
    _fail_the_number(textbridge)
    location = {"latitude": 48.8584, "longitude": 2.2945, "name": "Tour Eiffel"}
    body = {"to": CONTACT, "channel": "whatsapp", "provider": "vonage", "location": location}

    def accepted() -> Any:
        answer = textbridge.api.post("/api/v1/messages", json=body)
        return answer if answer.status_code == 202 else None  # once the inbound is applied

    sent = wait_until(accepted, timeout=10)
    failed = textbridge.wait_for_status(sent.json()["id"], "undelivered", "failed", "rejected")
    _heal_the_number(textbridge)

    answer = _retry(textbridge, failed["id"])
    assert answer.status_code == 202, answer.text
    retried = textbridge.wait_for_status(answer.json()["id"], "delivered", "read")
    assert retried["location"] == failed["location"]


def test_what_cannot_be_retried_is_refused_with_a_reason(textbridge: Textbridge) -> None:
    delivered = textbridge.send(text="Fine")
    textbridge.wait_for_status(delivered["id"], "delivered")
    not_failed = _retry(textbridge, delivered["id"])
    assert not_failed.status_code == 409
    assert not_failed.json()["error"]["code"] == "not_failed"

    inbound_id = textbridge.inbound("Hello")
    conversation_id = delivered["conversation_id"]

    def received() -> dict[str, Any] | None:
        path = f"/api/v1/conversations/{conversation_id}/messages"
        thread = textbridge.api.get(path).json()
        return next((m for m in thread if m["provider_message_id"] == inbound_id), None)

    inbound = wait_until(received, timeout=10)
    assert _retry(textbridge, inbound["id"]).status_code == 404
    missing = _retry(textbridge, "00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert _retry(textbridge, "not-an-id").status_code == 422


def test_a_retry_to_an_opted_out_person_is_refused(textbridge: Textbridge) -> None:
    _fail_the_number(textbridge)
    failed = textbridge.send(text="Last chance")
    textbridge.wait_for_status(failed["id"], "undelivered")
    textbridge.inbound("STOP")

    def refused() -> Any:
        answer = _retry(textbridge, failed["id"])
        return answer if answer.status_code == 409 else None  # once the STOP is applied

    answer = wait_until(refused, timeout=10)
    assert answer.json()["error"]["code"] == "recipient_opted_out"
