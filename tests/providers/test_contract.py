"""Every provider contract case, for every provider, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from textbridge.providers import testing
from textbridge.providers.plivo import signature
from textbridge.providers.vonage import sign_webhook
from textbridge.webhooks import journal

from ..support.live import wait_until
from ..support.textbridge import Textbridge

PLIVO_FIXTURES = Path(testing.__file__).parent / "plivo" / "fixtures"
VONAGE_FIXTURES = Path(testing.__file__).parent / "vonage" / "fixtures"


@dataclass
class Target:
    """`testing.ContractTarget` over a running textbridge."""

    textbridge: Textbridge
    http: httpx.Client
    capture: Callable[[], str]
    provider: str = "plivo"

    @property
    def url(self) -> str:
        return self.textbridge.url

    @property
    def api(self) -> httpx.Client:
        return self.textbridge.api

    def scalar(self, sql: str, **params: Any) -> Any:
        return self.textbridge.database.scalar(sql, **params)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return self.textbridge.database.rows(sql, **params)

    def send_and_wait_for_provider_id(self) -> str:
        sent = self.textbridge.send(text="contract", provider=self.provider)
        message = self.textbridge.wait_for_status(sent["id"], "delivered")
        return str(message["provider_message_id"])

    def wait_until_applied(self) -> None:
        pending = f"SELECT count(*) FROM webhook_journal WHERE state = '{journal.PENDING}'"
        wait_until(lambda: int(self.scalar(pending)) == 0, timeout=10)

    def output(self) -> str:
        return self.capture()


def plivo_spec(textbridge: Textbridge) -> testing.ProviderSpec:
    assert textbridge.runtime.sandbox is not None
    token = textbridge.runtime.sandbox.plivo_auth_token

    def sign(fixture: testing.WebhookFixture, url: str) -> dict[str, str]:
        params: signature.SignedParams = [] if fixture.method == "GET" else fixture.params
        if fixture.is_json:
            params = json.loads(fixture.payload)
        return signature.signed_headers(token, fixture.method, url, params)

    return testing.ProviderSpec("plivo", PLIVO_FIXTURES, sign, secrets=(token,))


def vonage_spec(textbridge: Textbridge) -> testing.ProviderSpec:
    sandbox = textbridge.runtime.sandbox
    assert sandbox is not None
    secret = sandbox.vonage_signature_secret

    def sign(fixture: testing.WebhookFixture, _url: str) -> dict[str, str]:
        return sign_webhook(secret, fixture.payload.encode())

    return testing.ProviderSpec(
        "vonage",
        VONAGE_FIXTURES,
        sign,
        secrets=(secret, sandbox.vonage_private_key_pem),
        failure_fixture="status_undeliverable",
        refused_status=401,
        signs_url=False,
        keeps_unsigned=True,
    )


SPECS = {"plivo": plivo_spec, "vonage": vonage_spec}


@pytest.fixture(params=sorted(SPECS))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def target(
    textbridge: Textbridge,
    provider: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Target]:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def capture() -> str:
        out, err = capfd.readouterr()
        seen.append(out + err)
        return "".join(seen) + caplog.text

    with httpx.Client(base_url=textbridge.url, timeout=10) as anonymous:
        yield Target(textbridge, anonymous, capture, provider)


@pytest.mark.parametrize("case", testing.CONTRACT_CASES, ids=lambda case: case.__name__[5:])
def test_contract(
    provider: str,
    case: Callable[[testing.ProviderSpec, testing.ContractTarget], None],
    textbridge: Textbridge,
    target: Target,
) -> None:
    case(SPECS[provider](textbridge), target)
