"""A simulated pair of provider accounts set up as a finished dashboard session leaves them,
and the environment that points `doctor` and `providers configure` at them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from textbridge.cli import app as cli
from textbridge.simulator import SimulatorConfig, create_simulator_app
from textbridge.simulator.accounts import Accounts
from textbridge.simulator.tls import TlsFiles

from ..simulator.harness import AUTH_ID, AUTH_TOKEN
from ..simulator.tls_server import TlsLiveServer
from ..simulator.vonage_support import (
    API_KEY,
    API_SECRET,
    APPLICATION_ID,
    SIGNATURE_SECRET,
    private_key_pem,
)
from ..support.live import LiveServer

PLIVO_SMS = "+14155550170"
PLIVO_WHATSAPP = "+14155550171"
VONAGE_SMS = "+447700900170"
VONAGE_WHATSAPP = "+447700900171"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def webhook(public_url: str, provider: str, kind: str) -> str:
    return f"{public_url}/webhooks/{provider}/{kind}"


class Accounted:
    """The simulator serving both accounts, and the state tests change."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def accounts(self) -> Accounts:
        state = self.server.app.state.simulator_state  # type: ignore[union-attr]
        accounts: Accounts = state.accounts
        return accounts

    @property
    def state(self) -> Any:
        return self.server.app.state.simulator_state  # type: ignore[union-attr]


@contextmanager
def provider_accounts(public_url: str, tls: TlsFiles | None = None) -> Iterator[Accounted]:
    """Both accounts, their applications sending to `public_url`'s webhooks; over https
    with `tls` (Vonage's SDK speaks nothing else)."""
    config = SimulatorConfig(
        plivo_auth_id=AUTH_ID,
        plivo_auth_token=AUTH_TOKEN,
        plivo_message_url=webhook(public_url, "plivo", "inbound"),
        vonage_application_id=APPLICATION_ID,
        vonage_private_key_pem=private_key_pem(),
        vonage_api_key=API_KEY,
        vonage_api_secret=API_SECRET,
        vonage_signature_secret=SIGNATURE_SECRET,
        vonage_inbound_url=webhook(public_url, "vonage", "inbound"),
        vonage_status_url=webhook(public_url, "vonage", "status"),
        plivo_numbers=(PLIVO_SMS, PLIVO_WHATSAPP),
        vonage_numbers=(VONAGE_SMS, VONAGE_WHATSAPP),
    )
    app = create_simulator_app(config)
    with TlsLiveServer(app, tls) if tls else LiveServer(app) as server:
        yield Accounted(server)


def environment(
    simulator_url: str, public_url: str, database_url: str, **extra: str
) -> dict[str, str]:
    """The variables of a deployment on both providers, their APIs at the simulator."""
    return {
        "TEXTBRIDGE_ENV": "production",
        "TEXTBRIDGE_DATABASE_URL": database_url,
        "TEXTBRIDGE_PUBLIC_URL": public_url,
        "TEXTBRIDGE_API_KEY": "doctor-test-key-0123456789",
        "TEXTBRIDGE_SECRET_KEY": "doctor-test-session-secret-0123456789abcdef",
        "TEXTBRIDGE_PLIVO_API_BASE_URL": f"{simulator_url}/v1/Account",
        "TEXTBRIDGE_VONAGE_API_BASE_URL": simulator_url,
        "TEXTBRIDGE_VONAGE_REST_BASE_URL": simulator_url,
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "PLIVO_SMS_FROM_NUMBER": PLIVO_SMS,
        "PLIVO_WHATSAPP_NUMBER": PLIVO_WHATSAPP,
        "VONAGE_APPLICATION_ID": APPLICATION_ID,
        "VONAGE_PRIVATE_KEY_CONTENT": private_key_pem(),
        "VONAGE_API_KEY": API_KEY,
        "VONAGE_API_SECRET": API_SECRET,
        "VONAGE_SIGNATURE_SECRET": SIGNATURE_SECRET,
        "VONAGE_NUMBER": VONAGE_SMS,
        "VONAGE_WHATSAPP_NUMBER": VONAGE_WHATSAPP,
        **extra,
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    """The doctor's exit code and its checks by name (from `--json`)."""
    result = run(env, "doctor", "--json")
    document = json.loads(result.stdout)
    assert document["ok"] == (result.exit_code == 0)
    return result.exit_code, {check["check"]: check for check in document["checks"]}
