"""Status callbacks: destination fates, GET callbacks, retries, fault switches, shutdown."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import httpx
import plivo
import pytest
from plivo import exceptions as plivo_errors

from textbridge.simulator import SimulatorConfig, create_simulator_app

from ..support.live import LiveServer, wait_until
from .harness import AUTH_ID, AUTH_TOKEN, Received, Receiver, assert_signed

SRC, DST = "14155550100", "14155550199"


def send(client: plivo.RestClient, url: str, dst: str = DST) -> list[str]:
    uuids: list[str] = client.messages.create(src=SRC, dst=dst, text="hi", url=url).message_uuid
    return uuids


def statuses(callbacks: list[Received]) -> list[str]:
    return [c.params["Status"] for c in callbacks]


def test_failing_number_gets_failed_with_default_error_code(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client
) -> None:
    answer = control.put(f"/numbers/+{DST}", json={"outcome": "failed"})
    assert answer.json() == {"number": DST, "outcome": "failed", "error_code": "300"}
    url = f"{receiver.url}/status"
    send(plivo_client, url)

    callbacks = receiver.wait_for(2, "/status")
    assert statuses(callbacks) == ["queued", "failed"]
    assert callbacks[-1].params["ErrorCode"] == "300"
    assert "ErrorCode" not in callbacks[0].params
    assert callbacks[-1].params["SentTime"] == ""
    for callback in callbacks:
        assert_signed(callback, "POST", url)


def test_undelivered_number_reports_its_error_code(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client
) -> None:
    control.put(f"/numbers/{DST}", json={"outcome": "undelivered", "error_code": "30"})
    url = f"{receiver.url}/status"
    [message_uuid] = send(plivo_client, url)

    callbacks = receiver.wait_for(3, "/status")
    assert statuses(callbacks) == ["queued", "sent", "undelivered"]
    assert callbacks[-1].params["ErrorCode"] == "30"
    message = plivo_client.messages.get(message_uuid)
    assert (message.message_state, message.error_code) == ("undelivered", "30")


def test_reset_number_is_delivered_again(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client
) -> None:
    control.put(f"/numbers/{DST}", json={"outcome": "failed", "error_code": "50"})
    assert control.delete(f"/numbers/+{DST}").status_code == 204
    send(plivo_client, f"{receiver.url}/status")

    assert statuses(receiver.wait_for(3, "/status")) == ["queued", "sent", "delivered"]


def test_get_callbacks_carry_params_in_the_query(api: httpx.Client, receiver: Receiver) -> None:
    url = f"{receiver.url}/status?tenant=7"
    body = {"src": SRC, "dst": DST, "text": "hi", "url": url, "method": "GET"}
    assert api.post("/Message/", json=body).status_code == 202

    callbacks = receiver.wait_for(3, "/status")
    assert statuses(callbacks) == ["queued", "sent", "delivered"]
    for callback in callbacks:
        assert callback.method == "GET"
        assert callback.params["tenant"] == "7"
        assert_signed(callback, "GET", url)


def test_failed_callback_is_retried(plivo_client: plivo.RestClient, receiver: Receiver) -> None:
    receiver.fail_next(2)
    url = f"{receiver.url}/status"
    send(plivo_client, url)

    callbacks = receiver.wait_for(5, "/status")
    assert Counter(statuses(callbacks)) == {"queued": 2, "sent": 2, "delivered": 1}
    for callback in callbacks:
        assert_signed(callback, "POST", url)


def test_duplicate_callbacks(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client
) -> None:
    control.put("/faults", json={"duplicate_callbacks": True})
    url = f"{receiver.url}/status"
    send(plivo_client, url)

    callbacks = receiver.wait_for(6, "/status")
    assert statuses(callbacks) == ["queued", "queued", "sent", "sent", "delivered", "delivered"]
    nonces = {c.headers["x-plivo-signature-v3-nonce"] for c in callbacks}
    assert len(nonces) == 6  # each delivery is signed afresh, as a real retry would be
    for callback in callbacks:
        assert_signed(callback, "POST", url)


def test_shuffled_callbacks_keep_their_true_sequence(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client
) -> None:
    control.put("/faults", json={"shuffle_callbacks": True})
    destinations = [f"1415555{n:04d}" for n in range(8)]
    uuids = send(plivo_client, f"{receiver.url}/status", dst="<".join(destinations))

    by_message: dict[str, list[str]] = defaultdict(list)
    for callback in receiver.wait_for(3 * len(uuids), "/status"):
        by_message[callback.params["MessageUUID"]].append(
            callback.params["Sequence"] + ":" + callback.params["Status"]
        )
    assert set(by_message) == set(uuids)
    truth = ["1:queued", "2:sent", "3:delivered"]
    assert all(sorted(events) == truth for events in by_message.values())
    # 8 messages all in order by chance: (1/6)^8, about 6e-7.
    assert any(events != truth for events in by_message.values())


@pytest.mark.parametrize("lost", [1.0, 0.5])
def test_lost_callbacks_are_never_sent_but_the_status_moves_on(
    plivo_client: plivo.RestClient, receiver: Receiver, control: httpx.Client, lost: float
) -> None:
    control.put("/faults", json={"lost_callbacks": lost})
    destinations = [f"1415555{n:04d}" for n in range(8)]
    uuids = send(plivo_client, f"{receiver.url}/lossy", dst="<".join(destinations))
    control.put("/faults", json={"lost_callbacks": 0.0})

    def all_delivered() -> bool | None:
        states = {plivo_client.messages.get(u).message_state for u in uuids}
        return states == {"delivered"} or None

    wait_until(all_delivered, 10)
    reported = statuses(receiver.received("/lossy"))
    if lost == 1.0:
        # Its lifecycles are sleeps alone: a message sent after them, with the same delays,
        # has its last callback after their last step.
        send(plivo_client, f"{receiver.url}/sentinel")
        receiver.wait_for(3, "/sentinel")
        assert statuses(receiver.received("/lossy")) == []
    else:  # 24 callbacks, each lost with probability 1/2; all but the last step's are sent
        # by now (each awaited before the next step): none is 2 ** -16, all 2 ** -24
        assert 0 < len(reported) < 3 * len(uuids)


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, plivo_errors.PlivoRestError), (500, plivo_errors.PlivoServerError)],
)
def test_fail_next_sends(
    plivo_client: plivo.RestClient,
    control: httpx.Client,
    api: httpx.Client,
    status: int,
    error: type[Exception],
) -> None:
    control.put("/faults", json={"fail_next_sends": {"status": status, "count": 2}})
    assert control.get("/faults").json()["fail_next_sends"] == {"status": status, "count": 2}

    with pytest.raises(error):
        plivo_client.messages.create(src=SRC, dst=DST, text="hi")
    response = api.post("/Message/", json={"src": SRC, "dst": DST, "text": "hi"})
    assert response.status_code == status
    assert set(response.json()) == {"api_id", "error"}
    assert "retry-after" not in response.headers

    assert plivo_client.messages.create(src=SRC, dst=DST, text="hi").message_uuid
    assert control.get("/faults").json()["fail_next_sends"] is None
    assert len(control.get("/messages").json()) == 1


def test_faults_can_be_read_and_reset(control: httpx.Client) -> None:
    changed = control.put(
        "/faults", json={"duplicate_callbacks": True, "callback_delay_seconds": 0.5}
    ).json()
    assert changed["duplicate_callbacks"] is True
    assert changed["callback_delay_seconds"] == 0.5

    reset = control.delete("/faults").json()
    assert reset == control.get("/faults").json()
    assert reset == {
        "callback_delay_seconds": 0.02,
        "duplicate_callbacks": False,
        "shuffle_callbacks": False,
        "lost_callbacks": 0.0,
        "fail_next_sends": None,
        "send_delay_seconds": 0.0,
        "random_sends": None,
        "record_sends": False,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"fail_next_sends": {"status": 501, "count": 1}},
        {"fail_next_sends": {"status": 500, "count": -1}},
        {"random_sends": {"rates": {"500": 0.7, "503": 0.7}}},
        {"random_sends": {"rates": {"500": -0.1}}},
        {"callback_delay_seconds": -1},
        {"shuffle": True},
    ],
)
def test_bad_faults_are_400(control: httpx.Client, body: dict[str, object]) -> None:
    response = control.put("/faults", json=body)

    assert response.status_code == 400
    assert response.json()["error"]


def test_shutdown_cancels_pending_callbacks(
    simulator_config: SimulatorConfig, receiver: Receiver
) -> None:
    app = create_simulator_app(simulator_config)
    with LiveServer(app) as server:
        with httpx.Client(base_url=server.url, auth=(AUTH_ID, AUTH_TOKEN)) as client:
            client.put("/control/faults", json={"callback_delay_seconds": 30})
            body = {"src": SRC, "dst": DST, "text": "hi", "url": f"{receiver.url}/status"}
            assert client.post(f"/v1/Account/{AUTH_ID}/Message/", json=body).status_code == 202
        assert app.state.simulator_callbacks.pending == 1
        stopping = time.monotonic()

    assert time.monotonic() - stopping < 5
    assert app.state.simulator_callbacks.pending == 0
    assert receiver.received() == []
