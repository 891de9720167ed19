"""Fixtures: a callback receiver and the simulator, each served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import plivo
import plivo.rest.client
import pytest

from textbridge.simulator import SimulatorConfig, create_simulator_app

from ..support.live import LiveServer
from .harness import AUTH_ID, AUTH_TOKEN, CALLBACK_DELAY, Receiver, ReceiverApp


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
    return SimulatorConfig(
        plivo_auth_id=AUTH_ID,
        plivo_auth_token=AUTH_TOKEN,
        plivo_message_url=f"{receiver.url}/inbound",
        callback_delay_seconds=CALLBACK_DELAY,
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
