"""`textbridge providers configure` against the simulated accounts: afterwards the
applications send to our URLs and our numbers are linked to them (read back with the
official SDKs); a second run changes nothing; `--dry-run` shows the diff and changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import plivo
import plivo.rest.client
import pytest
from vonage import Auth, HttpClientOptions, Vonage

from textbridge.simulator.tls import TlsFiles, ensure_tls_files

from ..simulator.harness import AUTH_ID, AUTH_TOKEN
from ..simulator.vonage_support import API_KEY, API_SECRET, APPLICATION_ID
from ..support.database import Database, sqlite_database
from .support import (
    PLIVO_SMS,
    PLIVO_WHATSAPP,
    VONAGE_SMS,
    VONAGE_WHATSAPP,
    Accounted,
    doctor,
    environment,
    provider_accounts,
    run,
    webhook,
)

PUBLIC_URL = "https://127.0.0.1:9/textbridge"
"""Where the deployment says it is: configure sets the providers to it. Nothing answers there
(the discard port), so the doctor run after it stays off the network."""
OLD = "https://old.example.com"


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return sqlite_database(tmp_path_factory.mktemp("configure"))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def accounts(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[Accounted]:
    """Accounts over https, left pointing at an old address, with our numbers unlinked."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca))  # the SDKs trust it
    with provider_accounts(OLD, tls_files) as accounted:
        for number in accounted.accounts.plivo_numbers.values():
            number.app_id = None
        accounted.accounts.vonage_numbers[VONAGE_SMS[1:]].app_id = "someone-elses-app"
        yield accounted


@pytest.fixture
def env(
    accounts: Accounted, sqlite: Database, tmp_path: Path, tls_files: TlsFiles
) -> dict[str, str]:
    url = sqlite.fresh_url(tmp_path)  # httpx trusts SSL_CERT_FILE
    return environment(accounts.url, PUBLIC_URL, url, SSL_CERT_FILE=str(tls_files.ca))


@pytest.fixture
def plivo_sdk(
    accounts: Accounted, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> Iterator[plivo.RestClient]:
    base = f"{accounts.url}/v1/Account"
    for constant in ("PLIVO_API_BASE_URI", "API_VOICE_BASE_URI"):
        monkeypatch.setattr(plivo.rest.client, constant, base)
    client = plivo.RestClient(AUTH_ID, AUTH_TOKEN)
    # Its `Session.send` reads no REQUESTS_CA_BUNDLE: it is told the CA itself.
    client.session.verify = str(tls_files.ca)
    yield client
    client.session.close()


@pytest.fixture
def vonage_sdk(accounts: Accounted) -> Iterator[Vonage]:
    host = accounts.url.removeprefix("https://")
    client = Vonage(
        Auth(api_key=API_KEY, api_secret=API_SECRET),
        HttpClientOptions(api_host=host, rest_host=host, timeout=10),
    )
    yield client
    client.http_client._session.close()


def test_configure_points_the_providers_at_us(
    env: dict[str, str], plivo_sdk: plivo.RestClient, vonage_sdk: Vonage
) -> None:
    result = run(env, "providers", "configure")

    assert result.exit_code == 0, result.stdout
    assert "change(s) made" in result.stdout
    for number in (PLIVO_SMS, PLIVO_WHATSAPP):
        linked = plivo_sdk.numbers.get(number[1:]).application
        assert linked, f"{number} is linked to no application"
        app = plivo_sdk.applications.get(linked.rstrip("/").rsplit("/", 1)[-1])
        assert app.message_url == webhook(PUBLIC_URL, "plivo", "inbound")
        assert app.message_method == "POST"
    messages = vonage_sdk.application.get_application(APPLICATION_ID).capabilities.messages  # type: ignore[union-attr]
    assert messages.version == "v1"  # type: ignore[union-attr]
    hooks = messages.webhooks  # type: ignore[union-attr]
    assert hooks.inbound_url.address == webhook(PUBLIC_URL, "vonage", "inbound")  # type: ignore[union-attr]
    assert hooks.status_url.address == webhook(PUBLIC_URL, "vonage", "status")  # type: ignore[union-attr]
    numbers, _, _ = vonage_sdk.numbers.list_owned_numbers()
    assert {number.msisdn: number.app_id for number in numbers} == {
        VONAGE_SMS[1:]: APPLICATION_ID,
        VONAGE_WHATSAPP[1:]: APPLICATION_ID,
    }
    _, checks = doctor(env)
    provider_checks = {
        name: c for name, c in checks.items() if name.startswith(("plivo", "vonage"))
    }
    assert {c["status"] for c in provider_checks.values()} == {"ok"}, provider_checks


def test_the_existing_application_is_kept_when_the_numbers_share_one(
    env: dict[str, str], accounts: Accounted
) -> None:
    (app_id,) = accounts.accounts.plivo_applications
    for number in accounts.accounts.plivo_numbers.values():
        number.app_id = app_id
    accounts.accounts.plivo_applications[app_id].answer_url = "https://voice.example.com/answer"

    assert run(env, "providers", "configure").exit_code == 0

    (kept,) = accounts.accounts.plivo_applications.values()
    assert kept.app_id == app_id
    assert kept.message_url == webhook(PUBLIC_URL, "plivo", "inbound")
    assert kept.answer_url == "https://voice.example.com/answer"


def test_an_application_is_made_when_there_is_none(
    env: dict[str, str], accounts: Accounted, plivo_sdk: plivo.RestClient
) -> None:
    accounts.accounts.plivo_applications.clear()

    result = run(env, "providers", "configure")

    assert result.exit_code == 0, result.stdout
    (made,) = plivo_sdk.applications.list(app_name="textbridge")
    assert made.message_url == webhook(PUBLIC_URL, "plivo", "inbound")
    assert plivo_sdk.numbers.get(PLIVO_SMS[1:]).application.endswith(f"/{made.app_id}/")


def test_a_second_run_changes_nothing(env: dict[str, str], accounts: Accounted) -> None:
    assert run(env, "providers", "configure").exit_code == 0
    before = copy.deepcopy(accounts.accounts)

    again = run(env, "providers", "configure")

    assert again.exit_code == 0
    assert "nothing to change" in again.stdout
    assert accounts.accounts == before


def test_dry_run_shows_the_diff_and_changes_nothing(
    env: dict[str, str], accounts: Accounted, vonage_sdk: Vonage
) -> None:
    before = copy.deepcopy(accounts.accounts)

    result = run(env, "providers", "configure", "--dry-run")

    assert result.exit_code == 0
    assert accounts.accounts == before
    out = result.stdout
    assert f"- messages.inbound_url: {OLD}/webhooks/vonage/inbound" in out
    assert f"+ messages.inbound_url: {PUBLIC_URL}/webhooks/vonage/inbound" in out
    assert f"- message_url: {OLD}/webhooks/plivo/inbound" in out
    assert f"+ message_url: {PUBLIC_URL}/webhooks/plivo/inbound" in out
    assert f"vonage number {VONAGE_SMS}" in out
    assert "- app_id: someone-elses-app" in out
    assert "nothing changed" in out
    hooks = vonage_sdk.application.get_application(APPLICATION_ID).capabilities.messages.webhooks  # type: ignore[union-attr]
    assert hooks.inbound_url.address == f"{OLD}/webhooks/vonage/inbound"  # type: ignore[union-attr]


def test_a_number_not_on_the_account_is_a_problem_the_rest_is_done(
    env: dict[str, str], accounts: Accounted
) -> None:
    del accounts.accounts.vonage_numbers[VONAGE_WHATSAPP[1:]]

    result = run(env, "providers", "configure")

    assert result.exit_code == 1
    assert f"Vonage: {VONAGE_WHATSAPP} (whatsapp) is not a number of the account" in result.stdout
    assert accounts.accounts.vonage_numbers[VONAGE_SMS[1:]].app_id == APPLICATION_ID


def test_wrong_credentials_are_one_red_line(env: dict[str, str]) -> None:
    result = run({**env, "PLIVO_AUTH_TOKEN": "wrong"}, "providers", "configure")
    assert result.exit_code == 1
    assert "Plivo answered 401" in result.stdout
