"""The simulated account APIs (Plivo: account, numbers, applications; Vonage: balance,
numbers, applications), driven by the official SDKs: what `textbridge doctor` and `providers
configure` call, with the SDKs as the reference for paths, auth and shapes."""

from __future__ import annotations

from collections.abc import Iterator

import plivo
import plivo.rest.client
import pytest
from plivo.exceptions import AuthenticationError as PlivoAuthenticationError
from plivo.exceptions import ResourceNotFoundError
from vonage import Auth, HttpClientOptions, Vonage
from vonage_application import (
    ApplicationConfig,
    ApplicationUrl,
    Capabilities,
    Messages,
    MessagesWebhooks,
)
from vonage_http_client import AuthenticationError
from vonage_numbers import NumbersError, UpdateNumberParams

from textbridge.simulator import SimulatorConfig
from textbridge.simulator.accounts import PLIVO_APP_NAME

from .harness import AUTH_ID, AUTH_TOKEN, Receiver
from .tls_server import TlsLiveServer
from .vonage_support import API_KEY, API_SECRET, APPLICATION_ID, private_key_pem

PLIVO_NUMBER, VONAGE_NUMBER, UNKNOWN = "14155550100", "447700900100", "14155550999"


@pytest.fixture
def simulator_config(simulator_config: SimulatorConfig) -> SimulatorConfig:
    """The suite's simulator, with a number on each account."""
    simulator_config.plivo_numbers = (f"+{PLIVO_NUMBER}",)
    simulator_config.vonage_numbers = (f"+{VONAGE_NUMBER}",)
    return simulator_config


@pytest.fixture
def plivo_sdk(sdk_base: str, monkeypatch: pytest.MonkeyPatch) -> plivo.RestClient:
    # The SDK sends application calls to its "voice" base, another module constant.
    monkeypatch.setattr(plivo.rest.client, "API_VOICE_BASE_URI", sdk_base)
    return plivo.RestClient(AUTH_ID, AUTH_TOKEN)


@pytest.fixture
def vonage_account(tls_simulator: TlsLiveServer, trust_simulator_ca: None) -> Iterator[Vonage]:
    """The SDK with the account's key and secret, both of its hosts at the simulator."""
    host = tls_simulator.host
    client = Vonage(
        Auth(api_key=API_KEY, api_secret=API_SECRET),
        HttpClientOptions(api_host=host, rest_host=host, timeout=10),
    )
    yield client
    client.http_client._session.close()


def test_plivo_account_and_number(plivo_sdk: plivo.RestClient) -> None:
    account = plivo_sdk.account.get()
    assert account.auth_id == AUTH_ID
    assert account.resource_uri == f"/v1/Account/{AUTH_ID}/"
    number = plivo_sdk.numbers.get(PLIVO_NUMBER)
    assert number.number == PLIVO_NUMBER
    assert number.application.startswith(f"/v1/Account/{AUTH_ID}/Application/")
    with pytest.raises(ResourceNotFoundError):
        plivo_sdk.numbers.get(UNKNOWN)


def test_plivo_application_is_where_inbound_messages_go(
    plivo_sdk: plivo.RestClient, receiver: Receiver
) -> None:
    number = plivo_sdk.numbers.get(PLIVO_NUMBER)
    app_id = number.application.rstrip("/").rsplit("/", 1)[-1]
    application = plivo_sdk.applications.get(app_id)
    assert application.message_url == f"{receiver.url}/inbound"
    assert application.app_name == PLIVO_APP_NAME
    listed = plivo_sdk.applications.list(app_name=PLIVO_APP_NAME)
    assert [app.app_id for app in listed] == [app_id]


def test_plivo_sdk_makes_links_and_updates_an_application(
    plivo_sdk: plivo.RestClient, receiver: Receiver, control: object
) -> None:
    created = plivo_sdk.applications.create(
        app_name="other", message_url=f"{receiver.url}/first", message_method="POST"
    )
    plivo_sdk.numbers.update(PLIVO_NUMBER, app_id=created.app_id)
    plivo_sdk.applications.update(created.app_id, message_url=f"{receiver.url}/moved")

    assert plivo_sdk.applications.get(created.app_id).message_url == f"{receiver.url}/moved"
    assert plivo_sdk.numbers.get(PLIVO_NUMBER).application.endswith(f"/{created.app_id}/")
    # The simulator delivers inbound messages where the linked application says, as Plivo does.
    answer = control.post(  # type: ignore[attr-defined]
        "/plivo/inbound", json={"from": "14155550199", "to": PLIVO_NUMBER, "text": "hi"}
    )
    assert answer.status_code == 200
    assert receiver.wait_for(1, "/moved")[0].params["Text"] == "hi"


def test_plivo_account_refuses_a_wrong_token(sdk_base: str) -> None:
    with pytest.raises(PlivoAuthenticationError):
        plivo.RestClient(AUTH_ID, "wrong-token").account.get()


def test_vonage_balance_and_numbers(vonage_account: Vonage) -> None:
    assert vonage_account.account.get_balance().value > 0
    numbers, count, next_page = vonage_account.numbers.list_owned_numbers()
    assert (count, next_page) == (1, None)
    assert numbers[0].msisdn == VONAGE_NUMBER
    assert numbers[0].country == "GB"
    assert numbers[0].app_id == APPLICATION_ID


def test_vonage_sdk_links_a_number(vonage_account: Vonage) -> None:
    params = UpdateNumberParams(country="GB", msisdn=VONAGE_NUMBER, app_id="another-app")
    assert vonage_account.numbers.update_number(params).error_code == "200"
    numbers, _, _ = vonage_account.numbers.list_owned_numbers()
    assert numbers[0].app_id == "another-app"
    with pytest.raises(NumbersError):
        vonage_account.numbers.update_number(
            UpdateNumberParams(country="US", msisdn=UNKNOWN, app_id="another-app")
        )


def test_vonage_application_webhooks(vonage_account: Vonage, receiver: Receiver) -> None:
    application = vonage_account.application.get_application(APPLICATION_ID)
    messages = application.capabilities.messages  # type: ignore[union-attr]
    assert messages.webhooks.inbound_url.address == f"{receiver.url}/vonage/inbound"  # type: ignore[union-attr]
    assert messages.version == "v1"  # type: ignore[union-attr]
    public_key = application.keys.public_key  # type: ignore[union-attr]

    webhooks = MessagesWebhooks(
        inbound_url=ApplicationUrl(address="https://example.com/in", http_method="POST"),
        status_url=ApplicationUrl(address="https://example.com/status", http_method="POST"),
    )
    config = ApplicationConfig(
        name="renamed", capabilities=Capabilities(messages=Messages(webhooks=webhooks))
    )
    updated = vonage_account.application.update_application(APPLICATION_ID, config)

    assert updated.name == "renamed"
    status_url = updated.capabilities.messages.webhooks.status_url  # type: ignore[union-attr]
    assert status_url.address == "https://example.com/status"  # type: ignore[union-attr]
    assert updated.keys.public_key == public_key  # type: ignore[union-attr]
    assert updated.link == f"/v2/applications/{APPLICATION_ID}"


def test_vonage_account_apis_take_the_key_and_secret_only(
    tls_simulator: TlsLiveServer, trust_simulator_ca: None
) -> None:
    host = tls_simulator.host
    for auth in (
        Auth(api_key=API_KEY, api_secret="wrong"),
        Auth(application_id=APPLICATION_ID, private_key=private_key_pem()),
    ):
        client = Vonage(auth, HttpClientOptions(api_host=host, rest_host=host, timeout=10))
        try:
            with pytest.raises(AuthenticationError):
                client.account.get_balance()
        finally:
            client.http_client._session.close()
