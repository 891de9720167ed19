"""The simulator mounted under another app at ``/simulator``, as ``textbridge serve`` does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import plivo
import plivo.rest.client
import pytest
from fastapi import FastAPI

from textbridge.simulator import SimulatorConfig, create_simulator_app

from ..support.live import LiveServer
from .harness import AUTH_ID, AUTH_TOKEN, Receiver, assert_signed


def parent_app(simulator: FastAPI) -> FastAPI:
    # Starlette runs no lifespan for mounted apps: the parent enters the simulator's own.
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with simulator.router.lifespan_context(simulator):
            yield

    app = FastAPI(lifespan=lifespan)
    app.mount("/simulator", simulator)
    return app


def test_sdk_works_against_the_mounted_simulator(
    simulator_config: SimulatorConfig, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = create_simulator_app(simulator_config)
    with LiveServer(parent_app(simulator)) as server:
        monkeypatch.setattr(
            plivo.rest.client, "PLIVO_API_BASE_URI", f"{server.url}/simulator/v1/Account"
        )
        client = plivo.RestClient(AUTH_ID, AUTH_TOKEN)
        url = f"{receiver.url}/status"
        [message_uuid] = client.messages.create(
            src="14155550100", dst="14155550199", text="hi", url=url
        ).message_uuid

        callbacks = receiver.wait_for(3, "/status")
        assert [c.params["Status"] for c in callbacks] == ["queued", "sent", "delivered"]
        assert_signed(callbacks[0], "POST", url)
        assert client.messages.get(message_uuid).message_state == "delivered"
