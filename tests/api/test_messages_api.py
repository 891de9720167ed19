"""The REST API over real HTTP: validation, idempotency, auth, preview, health."""

from __future__ import annotations

import httpx
import pytest

from ..support.textbridge import CONTACT, Textbridge


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "4155550199", "text": "hi"}, "to"),
        ({"to": "+1415", "text": "hi"}, "to"),
        ({"to": "not a number", "text": "hi"}, "to"),
        ({"to": CONTACT, "text": ""}, "text"),
        ({"to": CONTACT}, "text"),
        ({"text": "hi"}, "to"),
        ({"to": CONTACT, "text": "hi", "channel": "fax"}, "channel"),
        ({"to": CONTACT, "text": "hi", "from": "+14155550177"}, "from"),
        ({"to": CONTACT, "text": "hi", "colour": "red"}, "colour"),
        ({"to": CONTACT, "text": "é" * 1601}, "text"),
        ({"to": CONTACT, "text": "ж" * 738}, "text"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    textbridge: Textbridge, body: dict[str, str], field: str
) -> None:
    response = textbridge.api.post("/api/v1/messages", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"]
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def test_malformed_json_is_a_clear_422(textbridge: Textbridge) -> None:
    response = textbridge.api.post(
        "/api/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_send_records_encoding_and_segments(textbridge: Textbridge) -> None:
    sent = textbridge.send(text="Price: 5€ — 😀 " + "x" * 60)
    assert sent["encoding"] == "UCS-2"
    assert sent["segments"] == 2
    plain = textbridge.send(text="a" * 161)
    assert (plain["encoding"], plain["segments"]) == ("GSM-7", 2)


def test_same_idempotency_key_and_body_returns_the_same_message(textbridge: Textbridge) -> None:
    body = {"to": CONTACT, "text": "once only"}
    headers = {"Idempotency-Key": "order-42"}
    first = textbridge.api.post("/api/v1/messages", json=body, headers=headers)
    second = textbridge.api.post("/api/v1/messages", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 1


def test_same_idempotency_key_with_another_body_is_409(textbridge: Textbridge) -> None:
    headers = {"Idempotency-Key": "order-43"}
    textbridge.api.post("/api/v1/messages", json={"to": CONTACT, "text": "a"}, headers=headers)
    response = textbridge.api.post(
        "/api/v1/messages", json={"to": CONTACT, "text": "b"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 1


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc"])
def test_the_api_needs_a_key(textbridge: Textbridge, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=textbridge.url, headers=headers) as anonymous:
        for method, path in [
            ("GET", "/api/v1/conversations"),
            ("POST", "/api/v1/messages"),
            ("GET", "/api/v1/events"),
            ("POST", "/api/v1/messages/preview"),
        ]:
            response = anonymous.request(method, path, json={})
            assert response.status_code in (401, 403), (path, response.text)
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def test_preview_names_the_characters_that_forced_ucs2(textbridge: Textbridge) -> None:
    response = textbridge.api.post("/api/v1/messages/preview", json={"text": "Hi “there” 😀"})
    assert response.status_code == 200
    assert response.json() == {
        "encoding": "UCS-2",
        "segments": 1,
        "characters": 12,
        "units": 13,
        "ucs2_characters": ["“", "”", "😀"],
        "replaceable_characters": ["“", "”"],
        "lookalike_text": 'Hi "there" 😀',
        "lookalike_segments": 1,
        "country": None,
        "provider": None,
        "unit_price": None,
        "cost": None,
        "currency": "USD",
    }


def test_unknown_message_is_404(textbridge: Textbridge) -> None:
    response = textbridge.api.get("/api/v1/messages/6f1c1f43-8a4e-4f6b-9d7e-3d1f2b9c0a11")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_health_and_readiness(textbridge: Textbridge) -> None:
    with httpx.Client(base_url=textbridge.url) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        ready = anonymous.get("/readyz").json()
        assert ready == {"status": "ok", "database": "ok", "journal": {"unverified": 0}}
        assert anonymous.get("/docs").status_code == 200
        assert "/api/v1/messages" in anonymous.get("/openapi.json").json()["paths"]
