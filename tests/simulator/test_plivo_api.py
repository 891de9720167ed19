"""The fake Message API, driven by the official plivo SDK and by raw HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import plivo
import pytest
from plivo import exceptions as plivo_errors

from ..support.live import LiveServer, wait_until
from .harness import AUTH_ID, AUTH_TOKEN, Receiver, assert_signed

CALLBACK_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_sdk_send_is_called_back_queued_sent_delivered_signed(
    plivo_client: plivo.RestClient, receiver: Receiver
) -> None:
    url = f"{receiver.url}/status"
    response = plivo_client.messages.create(
        src="14155550100", dst="14155550199", text="hello", url=url
    )

    [message_uuid] = response.message_uuid
    assert UUID.match(message_uuid)
    assert response.message == "message(s) queued"
    callbacks = receiver.wait_for(3, "/status")
    assert [c.params["Status"] for c in callbacks] == ["queued", "sent", "delivered"]
    assert [c.params["Sequence"] for c in callbacks] == ["1", "2", "3"]
    for callback in callbacks:
        assert callback.method == "POST"
        assert callback.headers["content-type"] == "application/x-www-form-urlencoded"
        assert_signed(callback, "POST", url)
        assert callback.params["MessageUUID"] == message_uuid
        assert "ErrorCode" not in callback.params


def test_callback_params_look_like_plivo(
    plivo_client: plivo.RestClient, receiver: Receiver
) -> None:
    url = f"{receiver.url}/status"
    plivo_client.messages.create(src="+1 (415) 555-0100", dst="+14155550199", text="hi", url=url)

    delivered = receiver.wait_for(3, "/status")[-1].params
    assert delivered["From"] == "14155550100"
    assert delivered["To"] == "14155550199"
    assert delivered["Type"] == "sms"
    assert delivered["Units"] == "1"
    assert delivered["TotalRate"] == "0.00500"
    assert delivered["TotalAmount"] == "0.00500"
    assert delivered["ParentMessageUUID"] == delivered["MessageUUID"]
    assert {"MCC", "MNC", "PartInfo"} <= delivered.keys()
    for field in ("MessageTime", "QueuedTime", "SentTime", "DeliveryReportTime"):
        assert CALLBACK_TIME.match(delivered[field]), field


def test_sdk_fetches_the_message_object(plivo_client: plivo.RestClient) -> None:
    [message_uuid] = plivo_client.messages.create(
        src="14155550100", dst="14155550199", text="x" * 200
    ).message_uuid

    def delivered() -> Any:
        message = plivo_client.messages.get(message_uuid)
        return message if message.message_state == "delivered" else None

    message = wait_until(delivered)
    assert message.message_uuid == message_uuid
    assert message.message_direction == "outbound"
    assert message.from_number == "14155550100"
    assert message.to_number == "14155550199"
    assert message.units == 2
    assert message.total_amount == "0.01000"
    assert message.error_code == "000"
    assert message.resource_uri == f"/v1/Account/{AUTH_ID}/Message/{message_uuid}/"
    assert message.message_updated_time


def test_one_uuid_per_destination(plivo_client: plivo.RestClient) -> None:
    response = plivo_client.messages.create(
        src="14155550100", dst="14155550199<14155550198<14155550197", text="hi"
    )

    assert len(set(response.message_uuid)) == 3


def test_wrong_token_raises_the_sdk_authentication_error(sdk_base: str) -> None:
    client = plivo.RestClient(AUTH_ID, "not-the-token")

    with pytest.raises(plivo_errors.AuthenticationError):
        client.messages.create(src="14155550100", dst="14155550199", text="hi")


def assert_plivo_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"api_id", "error"}
    assert UUID.match(body["api_id"])
    assert fragment in body["error"]


def test_missing_credentials_are_401(simulator: LiveServer) -> None:
    url = f"{simulator.url}/v1/Account/{AUTH_ID}/Message/"
    response = httpx.post(url, json={"src": "14155550100", "dst": "14155550199", "text": "hi"})

    assert_plivo_error(response, 401, "authentication")


def test_credentials_must_be_plivo_shaped(simulator: LiveServer) -> None:
    url = f"{simulator.url}/v1/Account/XX123/Message/"
    response = httpx.post(url, auth=("XX123", AUTH_TOKEN), json={})

    assert_plivo_error(response, 401, "authentication")


def test_another_account_path_is_404(simulator: LiveServer) -> None:
    other = "MAYYYYYYYYYYYYYYYYYY"
    url = f"{simulator.url}/v1/Account/{other}/Message/"
    response = httpx.post(url, auth=(AUTH_ID, AUTH_TOKEN), json={})

    assert_plivo_error(response, 404, other)


VALID = {"src": "14155550100", "dst": "14155550199", "text": "hi"}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"dst": None}, "dst"),
        ({"src": None}, "src"),
        ({"text": None}, "text"),
        ({"type": "fax"}, "type"),
        ({"dst": "14155550199<call-me"}, "dst"),
        ({"src": "not a number!"}, "src"),
        ({"src": "TwelveChars1"}, "src"),
        ({"src": "Acme", "type": "whatsapp"}, "src"),
        ({"text": "a" * 1601}, "too long"),
        ({"text": "ж" * 738}, "too long"),
        ({"url": "ftp://example.com/cb"}, "url"),
        ({"url": "http://example.com/cb", "method": "PUT"}, "method"),
    ],
)
def test_invalid_sends_are_400(
    api: httpx.Client, change: dict[str, str | None], fragment: str
) -> None:
    body = {key: value for key, value in {**VALID, **change}.items() if value is not None}

    assert_plivo_error(api.post("/Message/", json=body), 400, fragment)


@pytest.mark.parametrize(
    "change",
    [
        {"src": "Acme"},
        {"text": "a" * 1600},
        {"text": "ж" * 737},
        {"type": "whatsapp", "text": "hello"},
        {"type": "mms", "text": None, "media_urls": ["https://example.com/a.png"]},
    ],
)
def test_edge_of_valid_sends_are_accepted(api: httpx.Client, change: dict[str, object]) -> None:
    body = {key: value for key, value in {**VALID, **change}.items() if value is not None}

    assert api.post("/Message/", json=body).status_code == 202


def test_invalid_sends_get_sdk_validation_error(plivo_client: plivo.RestClient) -> None:
    with pytest.raises(plivo_errors.ValidationError, match="too long"):
        plivo_client.messages.create(src="14155550100", dst="14155550199", text="a" * 1601)


def test_form_bodies_are_accepted(api: httpx.Client, control: httpx.Client) -> None:
    response = api.post("/Message/", data={**VALID, "dst": "14155550199<14155550198"})

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"api_id", "message", "message_uuid"}
    sent = control.get("/messages").json()
    assert [m["message_uuid"] for m in sent] == body["message_uuid"]
    assert [m["to_number"] for m in sent] == ["14155550199", "14155550198"]


def test_unknown_message_is_404(api: httpx.Client) -> None:
    assert_plivo_error(api.get("/Message/00000000-0000-0000-0000-000000000000/"), 404, "not found")
