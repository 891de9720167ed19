"""The control API: inbound injection, message listing, reset, and its own validation."""

from __future__ import annotations

import httpx
import plivo
import pytest

from textbridge.simulator import SimulatorConfig, create_simulator_app

from ..support.live import LiveServer
from .harness import AUTH_ID, AUTH_TOKEN, Receiver, assert_signed

INBOUND = {"from": "+14155550199", "to": "+14155550100", "text": "hi there"}


def test_inbound_sms_reaches_the_message_url_signed(
    control: httpx.Client, receiver: Receiver
) -> None:
    answer = control.post("/plivo/inbound", json=INBOUND)

    assert answer.status_code == 200
    body = answer.json()
    assert body["status_code"] == 200
    [webhook] = receiver.wait_for(1, "/inbound")
    assert webhook.method == "POST"
    assert_signed(webhook, "POST", f"{receiver.url}/inbound")
    assert webhook.params == {
        "From": "14155550199",
        "To": "14155550100",
        "Type": "sms",
        "Text": "hi there",
        "MessageUUID": body["message_uuid"],
        "Units": "1",
        "TotalRate": "0.00000",
        "TotalAmount": "0.00000",
        "MessageIntent": "",
        "PowerpackUUID": "",
    }


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("STOP", "optout"),
        (" stop. ", "optout"),
        ("Unstop", "optin"),
        ("HELP", "help"),
        ("please stop", ""),
    ],
)
def test_inbound_message_intent(
    control: httpx.Client, receiver: Receiver, text: str, intent: str
) -> None:
    control.post("/plivo/inbound", json={**INBOUND, "text": text})

    assert receiver.wait_for(1, "/inbound")[0].params["MessageIntent"] == intent


def test_inbound_reports_the_webhook_status(control: httpx.Client, receiver: Receiver) -> None:
    receiver.fail_next(1)

    body = control.post("/plivo/inbound", json=INBOUND).json()

    assert body["status_code"] == 500
    [stored] = control.get("/messages", params={"direction": "inbound"}).json()
    assert stored["message_state"] == "undelivered"


def test_inbound_can_be_fetched_through_the_api(
    control: httpx.Client, plivo_client: plivo.RestClient
) -> None:
    message_uuid = control.post("/plivo/inbound", json=INBOUND).json()["message_uuid"]

    message = plivo_client.messages.get(message_uuid)
    assert message.message_direction == "inbound"
    assert message.message_state == "delivered"


@pytest.mark.parametrize(
    "body",
    [
        {"to": "+14155550100", "text": "hi"},
        {"from": "+14155550199", "text": "hi"},
        {"from": "+14155550199", "to": "+14155550100"},
        {**INBOUND, "from": "call me"},
    ],
)
def test_inbound_needs_its_fields(control: httpx.Client, body: dict[str, str]) -> None:
    answer = control.post("/plivo/inbound", json=body)

    assert answer.status_code == 400
    assert answer.json()["error"]


def test_inbound_needs_a_message_url() -> None:
    config = SimulatorConfig(AUTH_ID, AUTH_TOKEN, plivo_message_url=None)
    with LiveServer(create_simulator_app(config)) as server:
        answer = httpx.post(f"{server.url}/control/plivo/inbound", json=INBOUND)

    assert answer.status_code == 400
    assert "plivo_message_url" in answer.json()["error"]


def test_messages_are_listed_newest_last(api: httpx.Client, control: httpx.Client) -> None:
    for text in ("first", "second"):
        api.post("/Message/", json={"src": "14155550100", "dst": "14155550199", "text": text})
    control.post("/plivo/inbound", json=INBOUND)

    listed = control.get("/messages").json()
    assert [m["text"] for m in listed] == ["first", "second", "hi there"]
    assert [m["message_direction"] for m in listed] == ["outbound", "outbound", "inbound"]
    outbound = control.get("/messages", params={"direction": "outbound"}).json()
    assert [m["text"] for m in outbound] == ["first", "second"]


def test_reset_clears_messages_numbers_and_faults(api: httpx.Client, control: httpx.Client) -> None:
    api.post("/Message/", json={"src": "14155550100", "dst": "14155550199", "text": "hi"})
    control.put("/numbers/14155550199", json={"outcome": "failed"})
    control.put("/faults", json={"duplicate_callbacks": True})

    assert control.post("/reset").status_code == 200

    assert control.get("/messages").json() == []
    assert control.get("/numbers").json() == {}
    assert control.get("/faults").json()["duplicate_callbacks"] is False


@pytest.mark.parametrize(
    ("number", "body"),
    [
        ("14155550199", {"outcome": "lost"}),
        ("14155550199", {"outcome": "delivered", "error_code": "300"}),
        ("14155550199", {"outcome": "failed", "error_code": "boom"}),
        ("not-a-number", {"outcome": "failed"}),
    ],
)
def test_bad_number_fates_are_400(control: httpx.Client, number: str, body: dict[str, str]) -> None:
    assert control.put(f"/numbers/{number}", json=body).status_code == 400


@pytest.mark.parametrize("provider", ["plivo", "vonage"])
def test_a_slow_provider_takes_the_send_and_answers_late(
    api: httpx.Client, vonage_api: httpx.Client, control: httpx.Client, provider: str
) -> None:
    """`send_delay_seconds`: the message is stored at once; the answer waits. A client that
    gives up first (or dies) leaves a message the provider has."""
    control.put("/faults", json={"send_delay_seconds": 60})
    impatient = httpx.Timeout(10, read=0.5)
    if provider == "plivo":
        client, path = api, "/Message/"
        body = {"src": "14155550100", "dst": "14155550199", "text": "slow"}
    else:
        client, path = vonage_api, "/v1/messages"
        body = {"channel": "sms", "message_type": "text", "to": "14155550199", "from": "Acme"}
        body["text"] = "slow"
    with pytest.raises(httpx.ReadTimeout):
        client.post(path, json=body, timeout=impatient)
    listed = control.get("/messages", params={"provider": provider}).json()
    assert [message["text"] for message in listed] == ["slow"]
    assert control.get("/faults").json()["send_delay_seconds"] == 60
    control.post("/reset")
    assert control.get("/faults").json()["send_delay_seconds"] == 0
