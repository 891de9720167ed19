"""Fixtures: a callback receiver and the simulator, each served over real HTTP (and the
simulator over TLS too, for the Vonage SDK)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import plivo
import plivo.rest.client
import pytest
from vonage import Auth, HttpClientOptions, Vonage

from textbridge.simulator import SimulatorConfig, TlsFiles, create_simulator_app, ensure_tls_files

from ..support.live import LiveServer
from .harness import AUTH_ID, AUTH_TOKEN, CALLBACK_DELAY, Receiver, ReceiverApp
from .tls_server import TlsLiveServer
from .vonage_support import (
    API_KEY,
    API_SECRET,
    APPLICATION_ID,
    SIGNATURE_SECRET,
    WABA_ID,
    private_key_pem,
)


@pytest.fixture(scope="session")
def receiver_app() -> Iterator[tuple[ReceiverApp, str]]:
    app = ReceiverApp()
    with LiveServer(app.asgi) as server:
        yield app, server.url


@pytest.fixture
def receiver(receiver_app: tuple[ReceiverApp, str]) -> Receiver:
    """Records the webhooks of one test (a session-wide server, a per-test URL)."""
    return Receiver(*receiver_app)


@pytest.fixture
def simulator_config(receiver: Receiver) -> SimulatorConfig:
    """Both providers: Plivo (with a WABA), and a Vonage application with JWT and Basic auth
    whose inbound and status webhooks go to the receiver's ``/vonage/inbound`` and
    ``/vonage/status``."""
    return SimulatorConfig(
        plivo_auth_id=AUTH_ID,
        plivo_auth_token=AUTH_TOKEN,
        plivo_message_url=f"{receiver.url}/inbound",
        callback_delay_seconds=CALLBACK_DELAY,
        plivo_waba_id=WABA_ID,
        vonage_application_id=APPLICATION_ID,
        vonage_private_key_pem=private_key_pem(),
        vonage_api_key=API_KEY,
        vonage_api_secret=API_SECRET,
        vonage_signature_secret=SIGNATURE_SECRET,
        vonage_inbound_url=f"{receiver.url}/vonage/inbound",
        vonage_status_url=f"{receiver.url}/vonage/status",
    )


@pytest.fixture
def simulator(simulator_config: SimulatorConfig) -> Iterator[LiveServer]:
    with LiveServer(create_simulator_app(simulator_config)) as server:
        yield server


@pytest.fixture
def control(simulator: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{simulator.url}/control", timeout=10) as client:
        yield client


@pytest.fixture
def api(simulator: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP access to the fake Plivo API, authenticated."""
    base = f"{simulator.url}/v1/Account/{AUTH_ID}"
    with httpx.Client(base_url=base, auth=(AUTH_ID, AUTH_TOKEN), timeout=10) as client:
        yield client


@pytest.fixture
def sdk_base(simulator: LiveServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the official plivo SDK at the simulator (it has no base-URL option)."""
    base = f"{simulator.url}/v1/Account"
    monkeypatch.setattr(plivo.rest.client, "PLIVO_API_BASE_URI", base)
    return base


@pytest.fixture
def plivo_client(sdk_base: str) -> plivo.RestClient:
    return plivo.RestClient(AUTH_ID, AUTH_TOKEN)


@pytest.fixture
def vonage_api(simulator: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP access to the fake Vonage API (plain http), with Basic auth."""
    with httpx.Client(base_url=simulator.url, auth=(API_KEY, API_SECRET), timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls_files(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def tls_simulator(
    simulator_config: SimulatorConfig, tls_files: TlsFiles
) -> Iterator[TlsLiveServer]:
    with TlsLiveServer(create_simulator_app(simulator_config), tls_files) as server:
        yield server


@pytest.fixture
def tls_control(tls_simulator: TlsLiveServer, tls_files: TlsFiles) -> Iterator[httpx.Client]:
    """The control API of the TLS simulator."""
    base = f"{tls_simulator.url}/control"
    trust = ssl.create_default_context(cafile=tls_files.ca)
    with httpx.Client(base_url=base, verify=trust, timeout=10) as client:
        yield client


VonageFactory = Callable[[Auth], Vonage]


@pytest.fixture
def vonage_sdk(tls_simulator: TlsLiveServer, trust_simulator_ca: None) -> Iterator[VonageFactory]:
    """Makes official Vonage SDK clients pointed at the TLS simulator; closes their
    connections afterwards (uvicorn would otherwise wait for them at shutdown)."""
    clients: list[Vonage] = []

    def make(auth: Auth) -> Vonage:
        client = Vonage(auth, HttpClientOptions(api_host=tls_simulator.host, timeout=10))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.http_client._session.close()


@pytest.fixture
def trust_simulator_ca(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``requests`` (so the Vonage SDK) trust the simulator's CA.

    Setting ``client.http_client._session.verify`` is not enough where the environment sets
    ``REQUESTS_CA_BUNDLE``: requests lets the environment win over the session's ``verify``.
    """
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca))


@pytest.fixture
def vonage_client(vonage_sdk: VonageFactory) -> Vonage:
    """The SDK with the application's JWT auth."""
    return vonage_sdk(Auth(application_id=APPLICATION_ID, private_key=private_key_pem()))
