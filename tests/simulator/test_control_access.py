"""The control API answers loopback clients, or (inside serve) a valid API key; others get 403.

A client off loopback is played through uvicorn's proxy headers: the test connects from
127.0.0.1, which uvicorn trusts to say `X-Forwarded-For: <the real client>`, as a reverse proxy
on the same host would.
"""

from __future__ import annotations

import httpx
import pytest

from ..support.live import LiveServer
from ..support.textbridge import API_KEY, SANDBOX_NUMBER, Textbridge
from .harness import AUTH_ID

REMOTE = {"X-Forwarded-For": "203.0.113.9"}
INBOUND = {"from": "+14155550199", "to": SANDBOX_NUMBER, "text": "hi"}


@pytest.mark.parametrize("client", [None, "127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_clients_drive_the_standalone_simulator(
    simulator: LiveServer, client: str | None
) -> None:
    headers = {"X-Forwarded-For": client} if client else {}
    assert httpx.get(f"{simulator.url}/control/numbers", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/control/numbers"),
        ("GET", "/control/messages"),
        ("PUT", "/control/faults"),
        ("POST", "/control/reset"),
        ("POST", "/control/plivo/inbound"),
        ("PUT", "/control/clock"),
        ("PUT", "/control/templates"),
    ],
)
def test_other_clients_are_refused_everywhere_under_control(
    simulator: LiveServer, method: str, path: str
) -> None:
    response = httpx.request(
        method, f"{simulator.url}{path}", json={}, headers={**REMOTE, "Authorization": "Bearer x"}
    )

    assert response.status_code == 403
    assert set(response.json()) == {"api_id", "error"}


def test_the_provider_apis_are_not_behind_the_control_check(simulator: LiveServer) -> None:
    response = httpx.post(f"{simulator.url}/v1/Account/{AUTH_ID}/Message/", headers=REMOTE)

    assert response.status_code == 401  # Plivo's own auth answers, not the control check


def test_inside_serve_a_remote_client_needs_an_api_key(textbridge: Textbridge) -> None:
    path = f"{textbridge.url}/simulator/control/plivo/inbound"

    refused = httpx.post(path, json=INBOUND, headers=REMOTE)
    wrong = httpx.post(path, json=INBOUND, headers={**REMOTE, "Authorization": "Bearer tb_no"})
    keyed = httpx.post(path, json=INBOUND, headers={**REMOTE, "Authorization": f"Bearer {API_KEY}"})

    assert (refused.status_code, wrong.status_code) == (403, 403)
    assert keyed.status_code == 200, keyed.text


def test_inside_serve_the_inbox_session_drives_the_sandbox_form(textbridge: Textbridge) -> None:
    with textbridge.sign_in("root", "admin") as browser:
        browser.headers.update(REMOTE)
        simulated = browser.post("/simulator/control/plivo/inbound", json=INBOUND)
        token = browser.headers.pop("x-csrf-token")
        forged = browser.post("/simulator/control/plivo/inbound", json=INBOUND)
        browser.headers["x-csrf-token"] = token
        with textbridge.sign_in("ada", "agent") as agent:
            agent.headers.update(REMOTE)
            not_admin = agent.post("/simulator/control/plivo/inbound", json=INBOUND)

    assert simulated.status_code == 200, simulated.text
    assert forged.status_code == 403  # a cookie alone never authorises a write (CSRF)
    assert not_admin.status_code == 403  # the control routes are an admin's
