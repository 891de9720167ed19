"""No stack trace, SQL, driver message or long echo of the input ever reaches a client: an
unexpected error is a generic 500 with a request id (its detail in the log), a 422 quotes
briefly and a bounded number of problems. Also the regressions the fuzzers found. Over real
HTTP, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from textbridge.providers.base import MAX_WEBHOOK_JSON_DEPTH
from textbridge.providers.plivo.signature import signed_headers
from textbridge.providers.vonage.signature import sign_webhook

from ..support.textbridge import CONTACT, Textbridge
from .test_headers import assert_secure

LEAKS = ("Traceback", "SELECT", "contacts", "sqlite", "asyncpg", "relation", "File ")


@contextmanager
def contacts_table_gone(textbridge: Textbridge) -> Iterator[None]:
    """A real internal failure: the table a route reads is not there."""
    textbridge.database.rows("ALTER TABLE contacts RENAME TO contacts_away")
    try:
        yield
    finally:
        textbridge.database.rows("ALTER TABLE contacts_away RENAME TO contacts")


def test_an_unexpected_error_is_a_generic_500_and_its_detail_is_logged(
    textbridge: Textbridge, capfd: pytest.CaptureFixture[str]
) -> None:
    with contacts_table_gone(textbridge):
        response = textbridge.api.get(f"/api/v1/contacts/{CONTACT}")
        proxied = textbridge.api.get(
            f"/api/v1/contacts/{CONTACT}", headers={"X-Request-ID": "proxy-id-0123456789"}
        )
    assert response.status_code == 500, response.text
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert error["request_id"] in error["message"]
    assert response.headers["x-request-id"] == error["request_id"]
    for leak in LEAKS:
        assert leak not in response.text, leak
    assert_secure(response)
    assert proxied.json()["error"]["request_id"] == "proxy-id-0123456789"
    log = capfd.readouterr()
    logged = log.out + log.err
    assert error["request_id"] in logged
    assert "Traceback" in logged  # the detail is in the log
    assert "contacts" in logged
    assert CONTACT.removeprefix("+") not in logged  # the path's address is not logged


def test_a_request_id_that_does_not_look_like_one_is_replaced(textbridge: Textbridge) -> None:
    with contacts_table_gone(textbridge):
        response = textbridge.api.get(
            f"/api/v1/contacts/{CONTACT}", headers={"X-Request-ID": "<script>" + "x" * 100}
        )
    assert response.status_code == 500
    assert "script" not in response.text
    assert len(response.json()["error"]["request_id"]) == 32


def test_a_422_lists_a_bounded_number_of_problems(textbridge: Textbridge) -> None:
    body = {"to": CONTACT, "text": "hi", **{f"unknown_{i}": "v" * 500 for i in range(1000)}}
    response = textbridge.api.post("/api/v1/messages", json=body)
    assert response.status_code == 422, response.text[:500]
    error = response.json()["error"]
    assert len(error["problems"]) == 20
    assert error["more_problems"] == 980
    assert len(response.content) < 8000
    assert "v" * 21 not in response.text  # each input quoted by its first 20 characters


def test_the_simulator_bounds_its_validation_errors(textbridge: Textbridge) -> None:
    fields = {"from": CONTACT, "to": "+14155550100", "text": [1] * 1000, "k" * 10_000: 1}
    response = textbridge.simulator.post("/control/plivo/inbound", json=fields)
    assert response.status_code == 400, response.text[:500]
    assert len(response.content) < 8000


# --- regressions found by the fuzzers (tests/security/test_api_fuzz.py, test_webhook_fuzz.py)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/journal/{id}", "/api/v1/journal/{id}/replay", "/api/v1/journal?before_id={id}"],
)
def test_a_journal_id_past_a_bigint_is_a_422(textbridge: Textbridge, path: str) -> None:
    """schemathesis: a huge id reached the driver (SQLite: OverflowError), a 500."""
    url = path.format(id=2**70)
    response = textbridge.api.request("POST" if url.endswith("replay") else "GET", url)
    assert response.status_code == 422, response.text


def deep_json(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


@pytest.mark.parametrize("depth", [MAX_WEBHOOK_JSON_DEPTH + 1, 900, 100_000])
def test_a_deeply_nested_plivo_json_body_is_refused(textbridge: Textbridge, depth: int) -> None:
    """hypothesis: verifying reads the JSON object Plivo signs; past Python's recursion limit
    `json.loads` raised RecursionError, a 500. Nothing can sign it: refused."""
    assert textbridge.runtime.sandbox is not None
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    headers = {
        **signed_headers(textbridge.runtime.sandbox.plivo_auth_token, "POST", url, ()),
        "content-type": "application/json",
    }
    response = httpx.post(url, content=deep_json(depth), headers=headers, timeout=10)
    assert response.status_code == 403, response.text
    states = textbridge.database.rows("SELECT state FROM webhook_journal")
    assert [row.state for row in states] == ["refused"]


@pytest.mark.parametrize("depth", [MAX_WEBHOOK_JSON_DEPTH + 1, 900, 100_000])
def test_a_deeply_nested_signed_vonage_body_is_journaled_invalid(
    textbridge: Textbridge, depth: int
) -> None:
    assert textbridge.runtime.sandbox is not None
    body = deep_json(depth)
    headers = {
        **sign_webhook(textbridge.runtime.sandbox.vonage_signature_secret, body),
        "content-type": "application/json",
    }
    url = f"{textbridge.url}/webhooks/vonage/inbound"
    response = httpx.post(url, content=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    rows = textbridge.database.rows("SELECT state, error FROM webhook_journal")
    assert [row.state for row in rows] == ["invalid"]
    assert "nest" in rows[0].error


def test_a_shallow_enough_json_body_still_reads(textbridge: Textbridge) -> None:
    """The depth limit leaves room: a real payload's nested objects are far inside it."""
    assert textbridge.runtime.sandbox is not None
    payload = {
        "channel": "sms",
        "message_uuid": "aaaaaaaa-0000-4000-8000-000000000001",
        "to": "14155550102",
        "from": CONTACT.lstrip("+"),
        "timestamp": "2026-11-30T06:00:00Z",
        "message_type": "text",
        "text": "hello",
        "extra": json.loads(deep_json(MAX_WEBHOOK_JSON_DEPTH - 2)),
    }
    body = json.dumps(payload).encode()
    headers = {
        **sign_webhook(textbridge.runtime.sandbox.vonage_signature_secret, body),
        "content-type": "application/json",
    }
    response = httpx.post(
        f"{textbridge.url}/webhooks/vonage/inbound", content=body, headers=headers
    )
    assert response.status_code == 200, response.text


def test_a_deeply_nested_api_body_is_refused_without_a_5xx(textbridge: Textbridge) -> None:
    body = (
        b'{"to": "' + CONTACT.encode() + b'", "text": "hi", "extra": ' + deep_json(100_000) + b"}"
    )
    response = textbridge.api.post(
        "/api/v1/messages", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text[:500]
    assert len(response.content) < 2000


def test_a_nul_in_the_new_admin_inputs_is_a_4xx_not_a_500(textbridge: Textbridge) -> None:
    """PostgreSQL refuses a NUL in any text, in a WHERE clause too: found by the fuzzer once the
    keys, audit and subscription routes were merged."""
    api = textbridge.api
    key = api.post("/api/v1/keys", json={"name": "a\x00b", "scopes": ["read"]})
    assert key.status_code == 422, key.text
    audit = api.get("/api/v1/audit", params={"actor": "a\x00", "action": "b\x00"})
    assert audit.status_code == 422, audit.text
    hook = {"url": "https://example.com/\x00", "event_types": ["message.created"]}
    subscription = api.post("/api/v1/webhook-subscriptions", json=hook)
    assert subscription.status_code == 422, subscription.text
    with httpx.Client(base_url=textbridge.url, headers={"origin": textbridge.url}) as browser:
        page = browser.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"username": "ad\x00min", "password": "wrong", "csrf_token": token}
        assert browser.post("/login", data=form).status_code == 401
