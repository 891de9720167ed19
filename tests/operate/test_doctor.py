"""`textbridge doctor` against the simulated accounts: green when all is right, and red, with
the fix, in each failure it reports."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from textbridge.db import migrate
from textbridge.operate.findings import ServerConnections, connections_finding

from ..deploy.pgbouncer import pgbouncer
from ..support.database import Database, own_postgres_database, sqlite_database
from ..support.textbridge import Textbridge
from .support import (
    NOWHERE,
    PLIVO_SMS,
    PLIVO_WHATSAPP,
    VONAGE_SMS,
    Accounted,
    doctor,
    environment,
    provider_accounts,
    run,
)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return sqlite_database(tmp_path_factory.mktemp("doctor"))


@pytest.fixture
def sqlite_url(sqlite: Database, tmp_path: Path) -> str:
    """A migrated SQLite database, for the checks that do not depend on the backend (those of
    the database run on both, in their own tests)."""
    return sqlite.fresh_url(tmp_path)


@pytest.fixture
def accounts() -> Iterator[Accounted]:
    """Accounts set up for a public URL where nothing answers (the checks of the providers
    do not need it to answer)."""
    with provider_accounts(NOWHERE) as accounted:
        yield accounted


def test_green_when_everything_is_right(textbridge: Textbridge) -> None:
    with provider_accounts(textbridge.url) as accounted:
        # A small pool, so the suite's own connections leave room for one more process.
        env = environment(
            accounted.url,
            textbridge.url,
            textbridge.settings.database_url,
            TEXTBRIDGE_DATABASE_POOL_SIZE="5",
        )
        code, checks = doctor(env)
        shown = run(env, "doctor")
    assert code == 0
    # The one caveat: the test's textbridge answers over plain http, as no proxy is in front.
    assert checks.pop("public_url")["detail"].endswith("answers over plain http")
    assert {check["status"] for check in checks.values()} == {"ok"}, checks
    for name in (
        "settings",
        "verification",
        "secret_key",
        "database",
        "migrations",
        "plivo.credentials",
        f"plivo.number.{PLIVO_SMS[1:]}",
        f"plivo.number.{PLIVO_WHATSAPP[1:]}",
        "vonage.credentials",
        "vonage.application",
        "vonage.signing",
        f"vonage.number.{VONAGE_SMS[1:]}",
        "clock.plivo",
        "clock.vonage",
    ):
        assert name in checks
    assert ("connections" in checks) == (not textbridge.settings.is_sqlite)
    assert shown.exit_code == 0
    assert "all checks passed" in shown.stdout


def test_wrong_credentials(accounts: Accounted, sqlite_url: str) -> None:
    env = environment(
        accounts.url,
        NOWHERE,
        sqlite_url,
        PLIVO_AUTH_TOKEN="not-the-token",
        VONAGE_API_SECRET="not-the-secret",
    )
    code, checks = doctor(env)
    assert code == 1
    for provider, variables in (("plivo", "PLIVO_AUTH_ID"), ("vonage", "VONAGE_API_KEY")):
        finding = checks[f"{provider}.credentials"]
        assert finding["status"] == "fail"
        assert "refused our credentials" in finding["detail"]
        assert "401" in finding["detail"]
        assert variables in finding["fix"]
    assert not any(name.startswith("plivo.number") for name in checks)


def test_missing_number(accounts: Accounted, sqlite_url: str) -> None:
    del accounts.accounts.plivo_numbers[PLIVO_SMS[1:]]
    del accounts.accounts.vonage_numbers[VONAGE_SMS[1:]]
    code, checks = doctor(environment(accounts.url, NOWHERE, sqlite_url))
    assert code == 1
    for name in (f"plivo.number.{PLIVO_SMS[1:]}", f"vonage.number.{VONAGE_SMS[1:]}"):
        assert checks[name]["status"] == "fail"
        assert "is not a number of this" in checks[name]["detail"]
    assert checks[f"plivo.number.{PLIVO_WHATSAPP[1:]}"]["status"] == "ok"


def test_wrong_webhook_urls(accounts: Accounted, sqlite_url: str) -> None:
    for app in accounts.accounts.plivo_applications.values():
        app.message_url = "https://old.example.com/sms"
    vonage_app = next(iter(accounts.accounts.vonage_applications.values()))
    webhooks = vonage_app["capabilities"]["messages"]["webhooks"]
    webhooks["status_url"]["address"] = "https://old.example.com/status"
    code, checks = doctor(environment(accounts.url, NOWHERE, sqlite_url))
    assert code == 1
    plivo = checks[f"plivo.number.{PLIVO_SMS[1:]}"]
    assert plivo["status"] == "fail"
    assert "https://old.example.com/sms" in plivo["detail"]
    assert "providers configure" in plivo["fix"]
    vonage = checks["vonage.application"]
    assert vonage["status"] == "fail"
    assert "status_url is https://old.example.com/status" in vonage["detail"]
    assert "inbound_url is" not in vonage["detail"]


def test_unlinked_numbers(accounts: Accounted, sqlite_url: str) -> None:
    accounts.accounts.plivo_numbers[PLIVO_SMS[1:]].app_id = None
    accounts.accounts.vonage_numbers[VONAGE_SMS[1:]].app_id = None
    code, checks = doctor(environment(accounts.url, NOWHERE, sqlite_url))
    assert code == 1
    assert "linked to no application" in checks[f"plivo.number.{PLIVO_SMS[1:]}"]["detail"]
    assert "no application" in checks[f"vonage.number.{VONAGE_SMS[1:]}"]["detail"]


def test_unreachable_public_url(accounts: Accounted, sqlite_url: str) -> None:
    code, checks = doctor(environment(accounts.url, NOWHERE, sqlite_url))
    assert code == 1
    finding = checks["public_url"]
    assert finding["status"] == "fail"
    assert f"{NOWHERE}/healthz does not answer" in finding["detail"]
    assert "TEXTBRIDGE_PUBLIC_URL" in finding["fix"]


def test_public_url_that_is_not_textbridge(accounts: Accounted, sqlite_url: str) -> None:
    # The simulator answers /healthz with a 404: something answers there, but not us.
    code, checks = doctor(environment(accounts.url, accounts.url, sqlite_url))
    assert code == 1
    assert "answered 404" in checks["public_url"]["detail"]


def test_verification_skipped_in_production(accounts: Accounted, sqlite_url: str) -> None:
    env = environment(
        accounts.url, NOWHERE, sqlite_url, TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION="true"
    )
    code, checks = doctor(env)
    assert code == 1
    assert checks["settings"]["status"] == "fail"
    assert checks["verification"]["status"] == "fail"
    assert "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION" in checks["verification"]["fix"]
    shown = run(env, "doctor")
    assert shown.exit_code == 1
    assert "fix: unset TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION" in shown.stdout


def test_no_session_secret(accounts: Accounted, sqlite_url: str) -> None:
    env = environment(accounts.url, NOWHERE, sqlite_url)
    del env["TEXTBRIDGE_SECRET_KEY"]
    code, checks = doctor(env)
    assert code == 1
    assert checks["secret_key"]["status"] == "fail"
    assert "the same in every process" in checks["secret_key"]["fix"]
    _, checks = doctor({**env, "TEXTBRIDGE_ENV": "development"})
    assert checks["secret_key"]["status"] == "warn"


def test_verification_skipped_in_development_is_a_warning(
    accounts: Accounted, sqlite_url: str
) -> None:
    env = environment(
        accounts.url,
        NOWHERE,
        sqlite_url,
        TEXTBRIDGE_ENV="development",
        TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION="true",
    )
    _, checks = doctor(env)
    assert checks["verification"]["status"] == "warn"


def test_clock_skew(accounts: Accounted, sqlite_url: str) -> None:
    accounts.state.clock_offset = timedelta(minutes=5)
    _, checks = doctor(environment(accounts.url, NOWHERE, sqlite_url))
    for provider in ("plivo", "vonage"):
        finding = checks[f"clock.{provider}"]
        assert finding["status"] == "fail"
        assert "behind" in finding["detail"]
        assert "NTP" in finding["fix"]


def test_no_database_file(accounts: Accounted, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    code, checks = doctor(environment(accounts.url, NOWHERE, f"sqlite:///{missing}"))
    assert code == 1
    assert checks["database"]["status"] == "fail"
    assert "textbridge db upgrade" in checks["database"]["fix"]
    assert not missing.exists()


def test_migrations_behind(database: Database, tmp_path: Path, accounts: Accounted) -> None:
    with _database_behind(database, tmp_path) as url:
        code, checks = doctor(environment(accounts.url, NOWHERE, url))
    assert code == 1
    assert checks["database"]["status"] == "ok"
    finding = checks["migrations"]
    assert finding["status"] == "fail"
    assert "1 migration(s) behind" in finding["detail"]
    assert "textbridge db upgrade" in finding["fix"]


def test_more_connections_than_the_server_allows(accounts: Accounted) -> None:
    with own_postgres_database() as own:
        # 100 + 4 (dispatcher) + 8 (API send) + 4 (inbox reads) + 1 (listener) > the server's 100.
        env = environment(accounts.url, NOWHERE, own.url, TEXTBRIDGE_DATABASE_POOL_SIZE="100")
        code, checks = doctor(env)
    assert code == 1
    finding = checks["connections"]
    assert finding["status"] == "fail"
    assert "up to 117 connections" in finding["detail"]
    assert "TEXTBRIDGE_DATABASE_POOL_SIZE" in finding["fix"]


@pytest.mark.parametrize(
    ("allowed", "in_use", "status", "said"),
    [
        (97, 10, "ok", "room for 2 more"),
        (97, 60, "warn", "no room for another process"),
        (40, 0, "fail", "not even one process fits"),
    ],
)
def test_connections_counted_at_each_process_peak(
    allowed: int, in_use: int, status: str, said: str
) -> None:
    finding = connections_finding(43, ServerConnections(allowed=allowed, in_use=in_use))
    assert finding.status == status
    assert said in finding.detail


def test_unreachable_database(accounts: Accounted) -> None:
    url = "postgresql://postgres@127.0.0.1:9/none"
    code, checks = doctor(environment(accounts.url, NOWHERE, url))
    assert code == 1
    assert checks["database"]["status"] == "fail"
    assert "TEXTBRIDGE_DATABASE_URL" in checks["database"]["fix"]


def test_transaction_pooler(accounts: Accounted) -> None:
    """The pooler `serve` and `worker` would refuse at start-up (tests/deploy/test_pooler.py):
    a real PgBouncer in transaction mode in front of a migrated database."""
    with own_postgres_database() as own, pgbouncer("transaction") as through:
        url = make_url(through).set(database=make_url(own.url).database)
        code, checks = doctor(environment(accounts.url, NOWHERE, url.render_as_string(False)))
    assert code == 1
    finding = checks["database"]
    assert finding["status"] == "fail"
    assert "transaction mode" in finding["detail"]
    assert "session mode" in finding["fix"]
    assert "migrations" not in checks


def test_vonage_without_an_application_is_unsigned(accounts: Accounted, sqlite_url: str) -> None:
    """Vonage signs (and sends) Messages webhooks to an application only; without a signature
    secret the settings themselves fail, naming it."""
    env = environment(accounts.url, NOWHERE, sqlite_url)
    del env["VONAGE_APPLICATION_ID"], env["VONAGE_PRIVATE_KEY_CONTENT"]
    code, checks = doctor(env)
    assert code == 1
    assert checks["vonage.signing"]["status"] == "fail"
    assert "VONAGE_APPLICATION_ID" in checks["vonage.signing"]["fix"]
    del env["VONAGE_SIGNATURE_SECRET"]
    code, checks = doctor(env)
    assert code == 1
    assert checks["settings"]["status"] == "fail"
    assert "VONAGE_SIGNATURE_SECRET" in checks["settings"]["detail"]


@contextlib.contextmanager
def _database_behind(database: Database, folder: Path) -> Iterator[str]:
    """A database of its own, one migration short of head."""
    if database.backend == "sqlite":
        url = database.fresh_url(folder)
        migrate.downgrade(url, "-1")
        yield url
        return
    with own_postgres_database() as own:
        migrate.downgrade(own.url, "-1")
        yield own.url


def test_vonage_without_the_account_key_is_a_warning(accounts: Accounted, sqlite_url: str) -> None:
    env = environment(accounts.url, NOWHERE, sqlite_url)
    del env["VONAGE_API_KEY"], env["VONAGE_API_SECRET"]
    _, checks = doctor(env)
    finding = checks["vonage.credentials"]
    assert finding["status"] == "warn"
    assert "VONAGE_API_KEY and VONAGE_API_SECRET" in finding["fix"]
    assert checks["vonage.signing"]["status"] == "ok"
    assert not any(name.startswith("vonage.number") for name in checks)
