"""The crash rule end to end: `serve` is SIGKILLed while the provider holds a send's answer,
and restarted at once. The message must become `unknown` within one lease and one poll (the
restarted process's lease has not expired at its start-up, so only the per-pass recovery can
find it), and the provider must have received it exactly once.

The provider is a separate `textbridge simulator` process, so that it survives the kill."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from textbridge.dispatch.dispatcher import IDLE_POLL_SECONDS

from ..support.database import Database
from ..support.live import wait_until
from ..support.processes import Command, free_port
from ..support.textbridge import API_KEY, CONTACT, SANDBOX_NUMBER

LEASE_SECONDS = 15
START_UP_ALLOWANCE = 60  # a loaded machine may take this long to start `serve`
AUTH_ID = "MACRASHTEST012345678"  # Plivo's shape: MA + 18 characters
AUTH_TOKEN = "crash-test-token-0123456789"


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[httpx.Client]:
    """The fake Plivo, alone; its control API as a client."""
    port = free_port()
    command = Command(
        ["simulator", "--port", str(port), "--auth-id", AUTH_ID, "--auth-token", AUTH_TOKEN],
        tmp_path,
        tmp_path / "simulator.log",
    )
    url = f"http://127.0.0.1:{port}"
    command.start(f"{url}/control/faults")
    try:
        with httpx.Client(base_url=f"{url}/control", timeout=10) as control:
            yield control
    finally:
        command.kill()  # it may hold a send's answer for a minute


@dataclass
class Serve:
    command: Command
    url: str


@pytest.fixture
def serve(database: Database, tmp_path: Path, simulator: httpx.Client) -> Iterator[Serve]:
    """`serve` with Plivo pointed at the simulator and a short lease; not started yet."""
    port = free_port()
    command = Command(
        ["serve", "--port", str(port)],
        tmp_path,
        tmp_path / "serve.log",
        TEXTBRIDGE_ENV="test",
        TEXTBRIDGE_DATABASE_URL=database.fresh_url(tmp_path),
        TEXTBRIDGE_API_KEY=API_KEY,
        TEXTBRIDGE_DISPATCH_LEASE_SECONDS=str(LEASE_SECONDS),
        TEXTBRIDGE_PLIVO_API_BASE_URL=f"{simulator.base_url.copy_with(path='/v1/Account')}",
        PLIVO_AUTH_ID=AUTH_ID,
        PLIVO_AUTH_TOKEN=AUTH_TOKEN,
        PLIVO_SMS_FROM_NUMBER=SANDBOX_NUMBER,
    )
    try:
        yield Serve(command, f"http://127.0.0.1:{port}")
    finally:
        command.kill()


@pytest.mark.timeout(300)  # three process start-ups and a lease, on a loaded machine
def test_a_send_interrupted_by_sigkill_becomes_unknown_and_is_never_resent(
    serve: Serve, simulator: httpx.Client, database: Database
) -> None:
    url, process = serve.url, serve.command
    process.start(f"{url}/readyz")
    # The provider takes the message and holds its answer; its status callbacks (which would
    # settle the message) come long after the test.
    simulator.put("/faults", json={"send_delay_seconds": 300, "callback_delay_seconds": 600})
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": "exactly once"})
    assert sent.status_code == 202, sent.text
    wait_until(lambda: _received(simulator), timeout=30)

    process.kill()
    assert database.scalar("SELECT status FROM messages") == "sending", "killed mid-call"
    process.start(f"{url}/readyz", timeout=START_UP_ALLOWANCE)

    message = wait_until(
        lambda: (
            (m := api.get(f"/api/v1/messages/{sent.json()['id']}").json())["status"] == "unknown"
            and m
        ),
        timeout=LEASE_SECONDS + IDLE_POLL_SECONDS + START_UP_ALLOWANCE,
        interval=0.2,
    )
    assert "interrupted" in message["error_message"]
    assert len(_received(simulator)) == 1
    api.close()


def _received(simulator: httpx.Client) -> list[dict[str, Any]]:
    answer = simulator.get("/messages", params={"direction": "outbound"})
    received: list[dict[str, Any]] = answer.json()
    return received
