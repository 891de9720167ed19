"""No input makes the API answer 5xx: hostile query strings, NUL bytes, lone surrogates,
out-of-range times and numbers, over-long fields, bodies over the limit, concurrent sends with
one Idempotency-Key. Over real HTTP, on both databases."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ..support.textbridge import CONTACT, Textbridge
from .test_send_fuzz import open_whatsapp_window

LONG_QUERY = "x=" + "a" * 60_000  # httpx refuses URLs over 64 KiB
TEMPLATE = {"category": "UTILITY", "components": [{"type": "BODY", "text": "Hi"}]}


def _raw_json(text: str) -> dict[str, Any]:
    """A JSON body given as text, so that it may hold escapes httpx would not encode
    (a lone surrogate)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    "before",
    [
        "2026-01-01T00:00:00",  # naive
        "0000-01-01T00:00:00Z",  # year 0
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        "1e400",
        "-1e400",
        "99999999999999999999999999999",
        "nan",
        "\x00",
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/conversations", "/api/v1/conversations/{id}/messages"])
def test_a_bad_before_is_a_422_naming_it(textbridge: Textbridge, path: str, before: str) -> None:
    conversation = textbridge.send()["conversation_id"]
    response = textbridge.api.get(path.format(id=conversation), params={"before": before})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "before"


@pytest.mark.parametrize(
    "before", ["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00Z", "2026-11-30T08:00:00+05:30"]
)
def test_an_extreme_but_valid_before_pages(textbridge: Textbridge, before: str) -> None:
    textbridge.send()
    response = textbridge.api.get("/api/v1/conversations", params={"before": before})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("limit", ["99999999999999999999999999", "1e400", "-1", "0", "\x00"])
def test_a_bad_limit_is_a_422(textbridge: Textbridge, limit: str) -> None:
    response = textbridge.api.get("/api/v1/conversations", params={"limit": limit})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "limit"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/v1/conversations?{LONG_QUERY}", None),
        ("GET", f"/webhooks/plivo/status?{LONG_QUERY}", None),
        ("GET", "/api/v1/conversations/%00", None),
        ("GET", "/api/v1/messages/%00", None),
        ("GET", "/api/v1/templates/a%00b/en_US", None),
        ("DELETE", "/api/v1/templates/a/%00", None),
        ("PUT", f"/api/v1/templates/{'n' * 513}/en_US", TEMPLATE),
        ("PUT", f"/api/v1/templates/n/{'e' * 21}", TEMPLATE),
        ("GET", f"/api/v1/templates/{'n' * 513}/en_US", None),
        ("GET", "/%00", None),
        ("GET", "/static/%00", None),
    ],
)
def test_hostile_paths_and_queries_are_never_a_5xx(
    textbridge: Textbridge, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = textbridge.api.request(method, path, json=body)
    assert response.status_code < 500, response.text
    assert len(response.content) < 2000  # nothing long is echoed


def _send(**fields: Any) -> dict[str, Any]:
    return {"json": {"to": CONTACT, "text": "hi", **fields}}


MMS = {"channel": "mms", "text": None}
LONG_URL = "https://example.com/" + "a" * (2001 - len("https://example.com/.jpg")) + ".jpg"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_send(**MMS, media={"url": LONG_URL}), "media.0.url"),
        (_send(**MMS, media=[{"url": "https://e.com/a.jpg"}, {"url": LONG_URL}]), "media.1.url"),
        (
            _send(**MMS, media={"url": "https://e.com/a.jpg", "filename": "a\x00"}),
            "media.0.filename",
        ),
        (
            _send(**MMS, media={"url": "https://e.com/a.jpg", "mime_type": "x" * 101}),
            "media.0.mime_type",
        ),
        (_send(**{"from": "+1" + "5" * 300}), "from"),
        (_send(**{"from": "\x00"}), "from"),
        (_send(to="\x00"), "to"),
        (_raw_json(f'{{"to": "{CONTACT}", "text": "hi", "from": "\\ud800"}}'), "from"),
        (_raw_json('{"to": "\\udfff", "text": "hi"}'), "to"),
        (
            _send(channel="whatsapp", template={"name": "a\x00", "language": "en"}),
            "template.name",
        ),
        (
            _send(channel="whatsapp", template={"name": "t", "parameters": {"1": "a\x00"}}),
            "template.parameters.1",
        ),
        (
            _send(channel="whatsapp", template={"name": "t", "parameters": {"k" * 65: "v"}}),
            "template.parameters." + "k" * 64 + "....[key]",
        ),
        (
            _send(channel="whatsapp", location={"latitude": 1, "longitude": 2, "name": "\x00"}),
            "location.name",
        ),
        (
            _send(
                channel="whatsapp",
                interactive={"type": "button", "body": {"text": "a\x00"}, "action": {}},
            ),
            "interactive.body",
        ),
        (
            _send(
                channel="whatsapp",
                interactive={"type": "button", "body": {"text": "a"}, "action": {"x": "\x00"}},
            ),
            "interactive.action",
        ),
        (
            _send(
                channel="whatsapp",
                interactive={"type": "button", "body": {"text": "a"}, "action": {}, "x": "\x00"},
            ),
            "interactive",
        ),
    ],
)
def test_an_unstorable_or_over_long_field_is_a_422_naming_it(
    textbridge: Textbridge, request_: dict[str, Any], field: str
) -> None:
    response = textbridge.api.post("/api/v1/messages", **request_)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_number_in_json_content_is_a_422(textbridge: Textbridge, number: str) -> None:
    open_whatsapp_window(textbridge)
    body = (
        f'{{"to": "{CONTACT}", "channel": "whatsapp", "interactive": {{"type": "button", '
        f'"body": {{"text": "Pick"}}, "action": {{"buttons": [{{"n": {number}}}]}}}}}}'
    )
    response = textbridge.api.post("/api/v1/messages", **_raw_json(body))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "interactive.action"


def test_a_2000_character_media_url_is_accepted(textbridge: Textbridge) -> None:
    url = LONG_URL[:1995] + ".jpg"
    response = textbridge.api.post(
        "/api/v1/messages", json={"to": CONTACT, "channel": "mms", "media": {"url": url}}
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "components",
    [
        [{"type": "BODY", "text": "Hi \x00"}],
        [{"type": "BODY", "text": "Hi", "\x00": 1}],
    ],
)
def test_a_template_with_a_nul_is_a_422(
    textbridge: Textbridge, components: list[dict[str, Any]]
) -> None:
    response = textbridge.api.put(
        "/api/v1/templates/t/en_US", json={"category": "UTILITY", "components": components}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "components.0"


def test_a_422_quotes_only_a_short_prefix_of_the_bad_value(textbridge: Textbridge) -> None:
    secret_looking = "s3cr3t" * 10_000
    bodies = [
        {"to": CONTACT, "text": "hi", "channel": secret_looking},
        {"to": CONTACT, "text": "hi", secret_looking: 1},
        {"to": CONTACT, "text": "hi", "channel": "whatsapp", "template": {"name": secret_looking}},
    ]
    for body in bodies:
        response = textbridge.api.post("/api/v1/messages", json=body)
        assert response.status_code == 422, response.text
        assert len(response.content) < 1000, response.text
    # A 422 from our own checks quotes as briefly.
    response = textbridge.api.get(f"/api/v1/templates/{secret_looking[:500]}/en_US")
    assert response.status_code == 404
    assert len(response.content) < 500, response.text


def test_a_422_says_which_input_it_refused(textbridge: Textbridge) -> None:
    response = textbridge.api.post("/api/v1/messages", json={"to": CONTACT, "channel": "fax"})
    problem = response.json()["error"]["problems"][0]
    assert problem == {
        "field": "channel",
        "message": "Input should be 'sms', 'mms' or 'whatsapp'",
        "input": "'fax'",
    }


def test_a_422_never_quotes_an_input_named_like_a_secret(textbridge: Textbridge) -> None:
    response = textbridge.api.post(
        "/api/v1/messages", json={"to": CONTACT, "text": "hi", "api_key": "tb_live_123"}
    )
    assert response.status_code == 422
    assert "tb_live_123" not in response.text


def test_a_lone_surrogate_in_a_field_name_is_escaped_in_the_422(textbridge: Textbridge) -> None:
    response = textbridge.api.post(
        "/api/v1/messages", **_raw_json(f'{{"to": "{CONTACT}", "text": "hi", "\\ud800": 1}}')
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["problems"][0]["input"] == "'\\ud800'"


def test_a_body_over_the_api_limit_is_a_413(textbridge: Textbridge) -> None:
    body = json.dumps({"to": CONTACT, "text": "x" * 1_000_000}).encode()
    response = textbridge.api.post(
        "/api/v1/messages", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "body_too_large"
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def _concurrently(textbridge: Textbridge, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies))

    def post(body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=textbridge.url, headers=textbridge.api.headers) as client:
            client.get("/healthz")  # connected before the start line
            start.wait(timeout=30)
            return client.post("/api/v1/messages", json=body, headers={"Idempotency-Key": "k"})

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_six_concurrent_sends_with_one_key_get_one_message(textbridge: Textbridge) -> None:
    responses = _concurrently(textbridge, [{"to": CONTACT, "text": "once"}] * 6)
    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 1


def test_concurrent_sends_with_one_key_and_other_bodies_conflict(textbridge: Textbridge) -> None:
    bodies = [{"to": CONTACT, "text": f"body {n % 2}"} for n in range(6)]
    responses = _concurrently(textbridge, bodies)
    assert {r.status_code for r in responses} == {202, 409}, [r.text for r in responses]
    accepted = [r for r in responses if r.status_code == 202]
    assert len({r.json()["id"] for r in accepted}) == 1
    assert all(
        r.json()["error"]["code"] == "idempotency_key_reused"
        for r in responses
        if r.status_code == 409
    )
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 1
