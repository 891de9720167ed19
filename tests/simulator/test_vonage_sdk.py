"""The fake Vonage Messages API over TLS, driven by the official Vonage SDK."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from vonage import Auth, Vonage
from vonage_http_client import AuthenticationError, HttpRequestError
from vonage_messages import (
    Sms,
    WhatsappCustom,
    WhatsappImage,
    WhatsappImageResource,
    WhatsappTemplate,
    WhatsappTemplateResource,
    WhatsappTemplateSettings,
    WhatsappText,
)

from .conftest import VonageFactory
from .harness import Receiver
from .vonage_support import (
    API_KEY,
    API_SECRET,
    APPLICATION_ID,
    assert_vonage_signed,
    private_key_pem,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OURS, THEIRS = "14155550100", "14155550199"


def open_window(control: httpx.Client) -> None:
    answer = control.post(
        "/vonage/inbound", json={"channel": "whatsapp", "from": THEIRS, "to": OURS, "text": "hi"}
    )
    assert answer.status_code == 200, answer.text


def statuses(receiver: Receiver, count: int) -> list[str]:
    return [r.json()["status"] for r in receiver.wait_for(count, "/vonage/status")]


def test_sdk_sends_sms_with_jwt_and_gets_signed_statuses(
    vonage_client: Vonage, receiver: Receiver
) -> None:
    response = vonage_client.messages.send(
        Sms(to=THEIRS, from_=OURS, text="hello", client_ref="c-1")
    )

    assert UUID.match(response.message_uuid)
    assert statuses(receiver, 2) == ["submitted", "delivered"]
    for webhook in receiver.received("/vonage/status"):
        assert_vonage_signed(webhook)
        assert webhook.json()["message_uuid"] == response.message_uuid
        assert webhook.json()["client_ref"] == "c-1"
    request = vonage_client.http_client.last_request
    assert request is not None
    assert request.url == f"https://{vonage_client.http_client.api_host}/v1/messages"


def test_sdk_sends_whatsapp_text_and_image_inside_the_window(
    vonage_client: Vonage, tls_control: httpx.Client, receiver: Receiver
) -> None:
    open_window(tls_control)

    vonage_client.messages.send(WhatsappText(to=THEIRS, from_=OURS, text="hello"))
    image = WhatsappImageResource(url="https://example.com/a.jpg", caption="look")
    vonage_client.messages.send(WhatsappImage(to=THEIRS, from_=OURS, image=image))

    webhooks = receiver.wait_for(6, "/vonage/status")
    by_message: dict[str, list[str]] = {}
    for webhook in webhooks:
        body = webhook.json()
        by_message.setdefault(body["message_uuid"], []).append(body["status"])
    assert list(by_message.values()) == [["submitted", "delivered", "read"]] * 2
    sent = tls_control.get("/messages", params={"provider": "vonage", "direction": "outbound"})
    assert [m["content_type"] for m in sent.json()] == ["text", "image"]


def test_sdk_sends_templates_outside_the_window(vonage_client: Vonage, receiver: Receiver) -> None:
    template = WhatsappTemplateResource(name="ns:order_update", parameters=["A-1"])
    settings = WhatsappTemplateSettings(locale="en_US", policy="deterministic")
    vonage_client.messages.send(
        WhatsappTemplate(to=THEIRS, from_=OURS, template=template, whatsapp=settings)
    )
    custom = {
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"policy": "deterministic", "code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": "customer_name", "text": "Ann"},
                        {"type": "text", "parameter_name": "time", "text": "3 pm"},
                    ],
                }
            ],
        },
    }
    vonage_client.messages.send(WhatsappCustom(to=THEIRS, from_=OURS, custom=custom))

    assert statuses(receiver, 6).count("read") == 2
    delivered = [r.json() for r in receiver.received("/vonage/status")]
    pricing = [b["whatsapp"]["pricing"] for b in delivered if b["status"] == "delivered"]
    assert [p["category"] for p in pricing] == ["utility", "utility"]


def test_sdk_basic_auth_works(vonage_sdk: VonageFactory, receiver: Receiver) -> None:
    client = vonage_sdk(Auth(api_key=API_KEY, api_secret=API_SECRET))

    response = client.messages.send(Sms(to=THEIRS, from_="Acme", text="hi"))

    assert UUID.match(response.message_uuid)
    assert statuses(receiver, 2) == ["submitted", "delivered"]


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(
            lambda: Auth(application_id=APPLICATION_ID, private_key=private_key_pem(1)),
            id="another-key",
        ),
        pytest.param(
            lambda: Auth(
                application_id="00000000-0000-4000-8000-000000000000",
                private_key=private_key_pem(),
            ),
            id="another-application",
        ),
        pytest.param(lambda: Auth(api_key=API_KEY, api_secret="wrong"), id="wrong-secret"),
    ],
)
def test_wrong_credentials_raise_the_sdk_authentication_error(
    vonage_sdk: VonageFactory, auth: Callable[[], Auth]
) -> None:
    client = vonage_sdk(auth())

    with pytest.raises(AuthenticationError) as caught:
        client.messages.send(Sms(to=THEIRS, from_=OURS, text="hi"))

    response = caught.value.response
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "You did not provide correct credentials."


def test_invalid_send_raises_the_sdk_http_error_with_the_problem(vonage_client: Vonage) -> None:
    with pytest.raises(HttpRequestError) as caught:
        vonage_client.messages.send(WhatsappText(to=THEIRS, from_="Acme", text="hi"))

    response = caught.value.response
    assert response.status_code == 422
    assert response.json()["type"] == "https://developer.vonage.com/api-errors/messages#1120"
