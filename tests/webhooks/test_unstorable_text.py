"""Text a database cannot store, at both edges, on both databases: a webhook's content is
stored normalized (NUL removed, a lone surrogate replaced with U+FFFD); a value that cannot be
normalized (an over-long address or id) is answered 400 with a journal note, never a 500 and
never a stuck row; the API refuses such text with a 422 naming the field."""

from __future__ import annotations

import json
from typing import Any

from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge
from .signed import plivo_sms, post_plivo, post_vonage, vonage_text


def _only_message(textbridge: Textbridge) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        if not listed:
            return None
        path = f"/api/v1/conversations/{listed[0]['id']}/messages"
        messages: list[dict[str, Any]] = textbridge.api.get(path).json()
        return messages[0] if messages else None

    return wait_until(find, timeout=15)


def _journal(textbridge: Textbridge) -> list[tuple[str, str | None]]:
    rows = textbridge.database.rows("SELECT state, error FROM webhook_journal ORDER BY id")
    return [(state, error) for state, error in rows]


def test_nul_in_a_plivo_text_is_removed(textbridge: Textbridge) -> None:
    response = post_plivo(textbridge, "inbound", plivo_sms("14155550199", "pay\x00load"))
    assert response.status_code == 200
    assert _only_message(textbridge)["text"] == "payload"


def test_nul_and_lone_surrogates_in_vonage_content_are_normalized(textbridge: Textbridge) -> None:
    payload = vonage_text(
        "whatsapp", "14155550199", "a\x00b\ud800c", profile={"name": "An\x00n\udfff"}
    )
    assert post_vonage(textbridge, "inbound", payload).status_code == 200
    message = _only_message(textbridge)
    assert message["text"] == "ab\ufffdc"
    [conversation] = textbridge.api.get("/api/v1/conversations").json()
    assert conversation["contact_name"] == "Ann\ufffd"
    assert conversation["last_message_preview"] == "ab\ufffdc"


def test_a_lone_surrogate_in_a_media_caption_and_filename_is_replaced(
    textbridge: Textbridge,
) -> None:
    file = {"url": "https://api-us.nexmo.com/v3/media/1", "caption": "x\ud83d", "name": "a\x00.pdf"}
    payload = vonage_text("whatsapp", "14155550199", "", message_type="file", file=file)
    del payload["text"]
    assert post_vonage(textbridge, "inbound", payload).status_code == 200
    [media] = _only_message(textbridge)["media"]
    assert (media["caption"], media["filename"]) == ("x\ufffd", "a.pdf")


def test_an_over_long_from_is_refused_with_a_journal_note(textbridge: Textbridge) -> None:
    response = post_plivo(textbridge, "inbound", plivo_sms("A" * 141, "hello"))
    assert response.status_code == 400
    assert "from" in response.json()["error"]
    [(state, error)] = _journal(textbridge)
    assert state == "invalid"
    assert error is not None
    assert "longer than 140" in error
    assert len(error) < 200  # a short prefix of the value, not all of it

    # The line goes on: the next ordinary webhook is applied.
    assert post_plivo(textbridge, "inbound", plivo_sms("14155550199", "next")).status_code == 200
    assert _only_message(textbridge)["text"] == "next"


def test_over_long_ids_and_numbers_are_refused_not_failed(textbridge: Textbridge) -> None:
    long_id = plivo_sms("14155550199", "x", MessageUUID="u" * 65)
    assert post_plivo(textbridge, "inbound", long_id).status_code == 400
    too_many_digits = vonage_text("sms", "1" * 16, "x")
    assert post_vonage(textbridge, "inbound", too_many_digits).status_code == 400
    long_media = vonage_text("whatsapp", "14155550199", "", message_type="image")
    long_media["image"] = {"url": "https://api-us.nexmo.com/" + "m" * 2000}
    assert post_vonage(textbridge, "inbound", long_media).status_code == 400
    long_status = {"message_uuid": "s" * 65, "to": "1", "from": "2", "status": "delivered"}
    assert post_vonage(textbridge, "status", long_status).status_code == 400
    assert [state for state, _ in _journal(textbridge)] == ["invalid"] * 4
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def _post_raw(textbridge: Textbridge, path: str, body: Any, method: str = "POST") -> Any:
    """JSON with ASCII escapes: the only way a client can send a lone surrogate."""
    headers = {"Content-Type": "application/json"}
    return textbridge.api.request(method, path, content=json.dumps(body), headers=headers)


def test_the_api_refuses_unstorable_text_naming_the_field(textbridge: Textbridge) -> None:
    cases = {
        "text": {"to": CONTACT, "text": "a\x00b"},
        "template.parameters.name": {
            "to": CONTACT,
            "channel": "whatsapp",
            "template": {"name": "t", "parameters": {"name": "\ud800"}},
        },
        "media.0.caption": {
            "to": CONTACT,
            "channel": "mms",
            "media": [{"url": "https://e.x/a.jpg", "caption": "c\x00"}],
        },
    }
    for field, body in cases.items():
        response = _post_raw(textbridge, "/api/v1/messages", body)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("validation_error", field)
        assert "NUL" in error["message"] or "surrogate" in error["message"]
    long_text = {"to": CONTACT, "text": "x" * 100 + "\x00"}
    error = _post_raw(textbridge, "/api/v1/messages", long_text).json()["error"]
    # The message and the quoted input both keep a short prefix only, the same one.
    assert "x" * 21 not in error["message"]
    assert "x" * 21 not in error["problems"][0]["input"]
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def test_template_writes_refuse_unstorable_text(textbridge: Textbridge) -> None:
    body = {"category": "UTILITY", "components": [{"type": "BODY", "text": "Hi\x00 {{1}}"}]}
    response = _post_raw(textbridge, "/api/v1/templates/hello/en_US", body, method="PUT")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "components.0"
    for method in ("GET", "DELETE"):
        response = textbridge.api.request(method, "/api/v1/templates/hel%00lo/en_US")
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "name"


def test_unreadable_numbers_in_content_are_refused_or_dropped(textbridge: Textbridge) -> None:
    nowhere = vonage_text("whatsapp", "14155550199", "", message_type="location")
    nowhere["location"] = {"lat": float("nan"), "long": 0}
    assert post_vonage(textbridge, "inbound", nowhere).status_code == 400
    huge_units = plivo_sms("14155550199", "hi", Units="9" * 20)
    assert post_plivo(textbridge, "inbound", huge_units).status_code == 200
    message = _only_message(textbridge)
    assert (message["text"], message["segments"]) == ("hi", 1)


def test_nan_in_a_status_payload_is_kept(textbridge: Textbridge) -> None:
    sent = textbridge.send(provider="vonage")
    message = textbridge.wait_for_status(sent["id"], "delivered")
    status = {
        "message_uuid": message["provider_message_id"],
        "to": "14155550199",
        "from": "14155550102",
        "channel": "sms",
        "timestamp": "2026-11-30T06:00:00Z",
        "status": "rejected",
        "error": {"title": "1000", "detail": "Throttled"},
        "usage": {"currency": "EUR", "price": float("nan")},
    }
    assert post_vonage(textbridge, "status", status).status_code == 200

    def rejected() -> list[dict[str, Any]]:
        history = textbridge.message(sent["id"])["history"]
        return [event for event in history if event["provider_status"] == "rejected"]

    [event] = wait_until(rejected, timeout=15)
    assert event["applied"] is False  # delivered outranks a late failure
    assert (
        textbridge.database.scalar("SELECT count(*) FROM webhook_journal WHERE state = 'pending'")
        == 0
    )


def test_a_synced_template_with_nul_is_stored_clean(textbridge: Textbridge) -> None:
    body = {"type": "BODY", "text": "Hi\x00 {{1}}", "example": {"body_text": [["Ann"]]}}
    template = {
        "name": "greeting",
        "language": "en_US",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": [body],
    }
    response = _post_raw(textbridge, "/simulator/control/templates", [template], method="PUT")
    assert response.status_code == 200, response.text
    synced = textbridge.api.post("/api/v1/templates/sync")
    assert synced.status_code == 200, synced.text
    stored = textbridge.api.get("/api/v1/templates/greeting/en_US").json()
    assert stored["components"][0]["text"] == "Hi {{1}}"
