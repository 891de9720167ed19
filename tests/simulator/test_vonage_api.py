"""The fake Vonage Messages API over raw HTTP: auth, RFC 7807 problems, statuses, fates."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from textbridge.simulator import SimulatorConfig, create_simulator_app

from ..support.live import LiveServer
from .harness import AUTH_ID, AUTH_TOKEN, Receiver
from .vonage_support import (
    API_KEY,
    API_SECRET,
    APPLICATION_ID,
    assert_vonage_signed,
    private_key_pem,
)

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
OURS, THEIRS = "14155550100", "14155550199"
SMS = {"channel": "sms", "message_type": "text", "to": THEIRS, "from": OURS, "text": "hi"}
ERRORS = "https://developer.vonage.com/api-errors/messages#"


def assert_problem(response: httpx.Response, status: int, type_url: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"]
    body: dict[str, Any] = response.json()
    assert body["type"] == type_url
    assert {"type", "title", "detail", "instance"} <= body.keys()
    return body


def test_valid_send_is_202_with_a_request_id(vonage_api: httpx.Client) -> None:
    response = vonage_api.post("/v1/messages", json=SMS)

    assert response.status_code == 202
    assert set(response.json()) == {"message_uuid"}
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic bm90OnJpZ2h0"},  # not:right
        {"Authorization": "Token abc"},
    ],
)
def test_bad_credentials_are_401_problems(simulator: LiveServer, headers: dict[str, str]) -> None:
    response = httpx.post(f"{simulator.url}/v1/messages", json=SMS, headers=headers)

    body = assert_problem(response, 401, "https://developer.vonage.com/api-errors#unauthorized")
    assert body["title"] == "You did not provide correct credentials."


@pytest.mark.parametrize(
    ("change", "code", "parameter"),
    [
        ({"channel": "fax"}, "1100", None),
        ({"channel": None}, "1100", None),
        ({"message_type": "image"}, "1140", None),
        ({"channel": "whatsapp", "message_type": "vcard"}, "1140", None),
        ({"to": "+14155550199"}, "1130", None),
        ({"to": "123456"}, "1130", None),
        ({"from": "TwelveChars1"}, "1120", None),
        ({"channel": "whatsapp", "from": "Acme"}, "1120", None),
        ({"text": None}, "1150", "text"),
        ({"text": "a" * 3201}, "1150", "text"),
        ({"channel": "whatsapp", "text": "a" * 4097}, "1150", "text"),
        ({"client_ref": "r" * 101}, "1060", None),
        ({"webhook_url": "ftp://example.com/status"}, "1150", "webhook_url"),
        ({"channel": "mms", "message_type": "image", "image": {}}, "1150", "image.url"),
        (
            {
                "channel": "whatsapp",
                "message_type": "image",
                "image": {"url": "https://e.x/a.jpg", "caption": ""},
            },
            "1150",
            "image.caption",
        ),
        (
            {"channel": "whatsapp", "message_type": "template", "template": {}},
            "1150",
            "template.name",
        ),
        ({"channel": "whatsapp", "message_type": "custom"}, "1150", "custom"),
        ({"channel": "mms", "message_type": "sticker", "sticker": {"id": "s"}}, "1140", None),
        (
            {"channel": "whatsapp", "message_type": "sticker", "sticker": {"url": "e.x/a.webp"}},
            "1150",
            "sticker",
        ),
        (
            {
                "channel": "whatsapp",
                "message_type": "sticker",
                "sticker": {"url": "https://e.x/a.webp", "id": "s"},
            },
            "1150",
            "sticker",
        ),
        (
            {
                "channel": "whatsapp",
                "message_type": "sticker",
                "sticker": {"url": "https://e.x/a.webp", "caption": "hi"},
            },
            "1150",
            "sticker.caption",
        ),
    ],
)
def test_invalid_sends_are_422_problems(
    vonage_api: httpx.Client, change: dict[str, Any], code: str, parameter: str | None
) -> None:
    body = {key: value for key, value in {**SMS, **change}.items() if value is not None}

    problem = assert_problem(vonage_api.post("/v1/messages", json=body), 422, ERRORS + code)

    if parameter is not None:
        assert problem["title"] == "Invalid params"
        assert [p["name"] for p in problem["invalid_parameters"]] == [parameter]


def test_invalid_json_is_a_422_problem(vonage_api: httpx.Client) -> None:
    response = vonage_api.post(
        "/v1/messages", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 422, "https://developer.vonage.com/api-errors#invalid-json")


@pytest.mark.parametrize(
    "change",
    [
        {"text": "a" * 3200},
        {"from": "Acme"},
        {"channel": "whatsapp", "text": "a" * 4096},
        {"channel": "mms", "message_type": "image", "image": {"url": "https://e.x/a.jpg"}},
        {"channel": "mms", "message_type": "vcard", "vcard": {"url": "https://e.x/a.vcf"}},
        {"channel": "whatsapp", "message_type": "audio", "audio": {"url": "https://e.x/a.mp3"}},
        {"channel": "whatsapp", "message_type": "file", "file": {"url": "https://e.x/f.pdf"}},
        {"channel": "whatsapp", "message_type": "custom", "custom": {"type": "interactive"}},
        # SDK vonage_messages WhatsappSticker: sticker {url} or {id}.
        {
            "channel": "whatsapp",
            "message_type": "sticker",
            "sticker": {"url": "https://e.x/s.webp"},
        },
        {"channel": "whatsapp", "message_type": "sticker", "sticker": {"id": "13aaecab-2485"}},
    ],
)
def test_edge_of_valid_sends_are_accepted(vonage_api: httpx.Client, change: dict[str, Any]) -> None:
    assert vonage_api.post("/v1/messages", json={**SMS, **change}).status_code == 202


def test_send_faults_answer_vonage_throttling(
    vonage_api: httpx.Client, control: httpx.Client
) -> None:
    control.put("/faults", json={"fail_next_sends": {"status": 429, "count": 1}})

    throttled = vonage_api.post("/v1/messages", json=SMS)

    assert_problem(throttled, 429, "https://developer.vonage.com/api-errors#throttled")
    assert throttled.headers["retry-after"] == "1"
    assert vonage_api.post("/v1/messages", json=SMS).status_code == 202


def test_sms_statuses_look_like_vonage(vonage_api: httpx.Client, receiver: Receiver) -> None:
    body = {**SMS, "text": "x" * 200, "client_ref": "order-7"}
    message_uuid = vonage_api.post("/v1/messages", json=body).json()["message_uuid"]

    submitted, delivered = (r.json() for r in receiver.wait_for(2, "/vonage/status"))
    assert submitted["status"] == "submitted"
    assert delivered == {
        "message_uuid": message_uuid,
        "to": THEIRS,
        "from": OURS,
        "channel": "sms",
        "timestamp": delivered["timestamp"],
        "status": "delivered",
        "client_ref": "order-7",
        "usage": {"currency": "EUR", "price": "0.0057"},
        "destination": {"network_code": "310260"},
        "sms": {"count_total": "2"},
    }
    assert ISO.match(delivered["timestamp"])
    for webhook in receiver.received("/vonage/status"):
        assert_vonage_signed(webhook)


def test_webhook_url_wins_over_the_status_url(vonage_api: httpx.Client, receiver: Receiver) -> None:
    vonage_api.post("/v1/messages", json={**SMS, "webhook_url": f"{receiver.url}/mine"})

    assert len(receiver.wait_for(2, "/mine")) == 2
    assert receiver.received("/vonage/status") == []


@pytest.mark.parametrize(
    ("fate", "expected"),
    [
        ({"outcome": "failed", "provider": "vonage"}, (["rejected"], "1250")),
        (
            {"outcome": "undelivered", "provider": "vonage"},
            (["submitted", "undeliverable"], "1260"),
        ),
        (
            {"outcome": "failed", "provider": "vonage", "error_code": "1290"},
            (["rejected"], "1290"),
        ),
        ({"outcome": "failed", "error_code": "30"}, (["rejected"], "1250")),
    ],
)
def test_failing_numbers_are_rejected_or_undeliverable(
    vonage_api: httpx.Client,
    control: httpx.Client,
    receiver: Receiver,
    fate: dict[str, str],
    expected: tuple[list[str], str],
) -> None:
    statuses, code = expected
    assert control.put(f"/numbers/{THEIRS}", json=fate).status_code == 200

    vonage_api.post("/v1/messages", json=SMS)

    webhooks = [r.json() for r in receiver.wait_for(len(statuses), "/vonage/status")]
    assert [w["status"] for w in webhooks] == statuses
    error = webhooks[-1]["error"]
    assert error["title"] == code
    assert error["type"] == ERRORS + code
    assert error["detail"]
    assert "usage" not in webhooks[-1]


def test_vonage_fate_leaves_plivo_alone(
    control: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    control.put(f"/numbers/{THEIRS}", json={"outcome": "failed", "provider": "vonage"})
    url = f"{receiver.url}/plivo"
    api.post("/Message/", json={"src": OURS, "dst": THEIRS, "text": "hi", "url": url})

    assert [c.params["Status"] for c in receiver.wait_for(3, "/plivo")][-1] == "delivered"
    assert control.get("/numbers").json() == {}
    assert control.get("/numbers", params={"provider": "vonage"}).json() == {
        THEIRS: {"outcome": "failed", "error_code": "1250", "provider": "vonage"}
    }


def test_vonage_routes_need_vonage_auth() -> None:
    config = SimulatorConfig(AUTH_ID, AUTH_TOKEN, plivo_message_url=None)
    with LiveServer(create_simulator_app(config)) as server:
        send = httpx.post(f"{server.url}/v1/messages", json=SMS, auth=(API_KEY, API_SECRET))
        inbound = httpx.post(f"{server.url}/control/vonage/inbound", json={})

    assert send.status_code == 404
    assert inbound.status_code == 404


def test_application_key_can_be_given_as_a_public_key() -> None:
    private = serialization.load_pem_private_key(private_key_pem().encode(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = SimulatorConfig(
        AUTH_ID,
        AUTH_TOKEN,
        plivo_message_url=None,
        vonage_application_id=APPLICATION_ID,
        vonage_public_key_pem=public.decode(),
    )

    assert config.vonage_jwt
    assert not config.vonage_basic
    with pytest.raises(ValueError, match="vonage_public_key_pem"):
        SimulatorConfig(AUTH_ID, AUTH_TOKEN, None, vonage_application_id=APPLICATION_ID)
