"""The command line as a new user meets it: `serve` on the embedded default, `send`,
`sim inbound`, `db upgrade`, and a clear stop on bad configuration."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from textbridge.db.base import utcnow
from textbridge.models import WebhookJournalEntry

from .support.database import Database
from .support.live import wait_until
from .support.processes import TEXTBRIDGE, environment, free_port


@dataclass
class Serve:
    url: str
    key: str
    process: subprocess.Popen[str]
    log: Path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`textbridge serve` in an empty folder, as on a fresh machine."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*TEXTBRIDGE, "serve", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url) or process.poll() is not None, timeout=120)
        assert process.poll() is None, log.read_text()
        key = re.search(r"(tb_[A-Za-z0-9_-]{20,})", log.read_text())
        assert key, log.read_text()
        yield Serve(url, key.group(1), process, log)
    finally:
        process.terminate()
        process.wait(15)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TEXTBRIDGE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(**env),
        check=False,
    )


def test_serve_runs_the_sandbox_and_cli_drives_it(serve: Serve, tmp_path: Path) -> None:
    output = serve.log.read_text()
    assert "SANDBOX" in output
    assert "simulator plays Plivo and Vonage" in output
    assert (tmp_path / "textbridge.db").exists()
    _sign_in_with_the_printed_link(serve)

    sent = _cli(
        "send",
        "--to",
        "+14155550199",
        "--text",
        "hi from the CLI",
        "--url",
        serve.url,
        cwd=tmp_path,
        TEXTBRIDGE_API_KEY=serve.key,
    )
    assert sent.returncode == 0, sent.stderr
    message_id = re.search(r'"id": "([0-9a-f-]{36})"', sent.stderr + sent.stdout)
    assert message_id

    api = httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {serve.key}"})
    wait_until(
        lambda: api.get(f"/api/v1/messages/{message_id.group(1)}").json()["status"] == "delivered",
        timeout=15,
    )

    # No --url: `sim inbound` finds the server where `serve` reads its port, here in .env.
    (tmp_path / ".env").write_text(f"TEXTBRIDGE_PORT={serve.url.rsplit(':', 1)[1]}\n")
    reply = _cli(
        "sim",
        "inbound",
        "--from",
        "+14155550199",
        "--to",
        "+14155550100",
        "--text",
        "hello back",
        cwd=tmp_path,
    )
    assert reply.returncode == 0, reply.stderr
    conversation = wait_until(lambda: api.get("/api/v1/conversations").json(), timeout=10)
    assert conversation[0]["last_message_preview"] == "hello back"
    assert serve.log.read_text().count(serve.key) == 1, "the key is printed once, at creation"


def _sign_in_with_the_printed_link(serve: Serve) -> None:
    """`serve` in sandbox mode prints a one-time link that signs the inbox in as its admin."""
    found = re.search(r"(http://\S+/login/once\?token=[\w-]+)", serve.log.read_text())
    assert found, serve.log.read_text()
    link = found.group(1)
    with httpx.Client(timeout=10) as browser:
        assert browser.get(link).status_code == 303
        assert "Sign out" in browser.get(f"{serve.url}/").text
    assert httpx.get(link, timeout=10).status_code == 401, "the link works once"


def test_send_with_a_bad_number_fails_clearly(serve: Serve, tmp_path: Path) -> None:
    result = _cli(
        "send",
        "--to",
        "4155550100",
        "--text",
        "x",
        "--url",
        serve.url,
        cwd=tmp_path,
        TEXTBRIDGE_API_KEY=serve.key,
    )
    assert result.returncode == 1
    assert "international format" in result.stdout + result.stderr


def test_send_later_is_scheduled(serve: Serve, tmp_path: Path) -> None:
    result = _cli(
        "send",
        "--to",
        "+14155550199",
        "--text",
        "later",
        "--send-at",
        "2099-01-01T09:00:00Z",
        "--url",
        serve.url,
        cwd=tmp_path,
        TEXTBRIDGE_API_KEY=serve.key,
    )
    assert result.returncode == 1  # 2099 is too far ahead: the API's 422, in one line
    assert "days ahead" in result.stdout + result.stderr
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    result = _cli(
        "send",
        "--to",
        "+14155550199",
        "--text",
        "later",
        "--send-at",
        soon,
        "--quiet-hours",
        "default",
        "--url",
        serve.url,
        cwd=tmp_path,
        TEXTBRIDGE_API_KEY=serve.key,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r'"status": "(scheduled|held)"', result.stdout + result.stderr)


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = _cli(
        "db", "upgrade", cwd=tmp_path, TEXTBRIDGE_DATABASE_URL=f"sqlite:///{tmp_path}/fresh.db"
    )
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "fresh.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {
        "contacts",
        "senders",
        "conversations",
        "messages",
        "message_events",
        "webhook_journal",
    } <= tables


@pytest.mark.alone
def test_bad_configuration_stops_start_up_naming_it(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _cli(
        "serve",
        cwd=tmp_path,
        TEXTBRIDGE_ENV="production",
        TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION="true",
    )
    assert result.returncode == 2
    assert "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION" in result.stdout + result.stderr
    assert time.monotonic() - started < 30


def test_templates_and_whatsapp_from_the_cli(serve: Serve, tmp_path: Path) -> None:
    key = {"TEXTBRIDGE_API_KEY": serve.key}
    synced = _cli("templates", "sync", "--url", serve.url, cwd=tmp_path, **key)
    assert synced.returncode == 0, synced.stderr
    listed = _cli("templates", "list", "--url", serve.url, cwd=tmp_path, **key)
    assert listed.returncode == 0, listed.stderr
    assert "order_update" in listed.stdout
    assert "APPROVED" in listed.stdout

    definition = tmp_path / "welcome.json"
    definition.write_text(
        '{"category": "MARKETING", "status": "APPROVED",'
        ' "components": [{"type": "BODY", "text": "Welcome {{name}}!"}]}'
    )
    added = _cli(
        "templates",
        "add",
        "welcome",
        "en_US",
        str(definition),
        "--url",
        serve.url,
        cwd=tmp_path,
        **key,
    )
    assert added.returncode == 0, added.stderr
    assert '"parameters": [' in added.stdout + added.stderr

    inbound = _cli(
        "sim",
        "inbound",
        "--provider",
        "vonage",
        "--channel",
        "whatsapp",
        "--from",
        "+14155550199",
        "--to",
        "+14155550103",
        "--text",
        "hola",
        "--url",
        f"{serve.url}/simulator",
        cwd=tmp_path,
    )
    assert inbound.returncode == 0, inbound.stderr
    api = httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {serve.key}"})
    conversations = wait_until(lambda: api.get("/api/v1/conversations").json(), timeout=10)
    assert (conversations[0]["channel"], conversations[0]["provider"]) == ("whatsapp", "vonage")
    assert conversations[0]["window_expires_at"]


def test_keys_create_list_revoke(serve: Serve, tmp_path: Path) -> None:
    created = _cli("keys", "create", "--name", "billing", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("tb_")
    api = httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/conversations").status_code == 200

    listed = _cli("keys", "list", cwd=tmp_path)
    assert "billing" in listed.stdout
    assert key not in listed.stdout + listed.stderr

    revoked = _cli("keys", "revoke", key[:8], cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    # `serve` keeps a verified key for TEXTBRIDGE_API_KEY_CACHE_SECONDS (3 s by default).
    wait_until(lambda: api.get("/api/v1/conversations").status_code == 401, timeout=4)


def _one_line_failure(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert "\u256d" not in output, "no Rich traceback box"
    assert len(output.splitlines()) == 1, output
    for text in expected:
        assert text in output
    return output


def test_client_commands_say_in_one_line_when_nothing_listens(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / ".env").write_text(f"TEXTBRIDGE_PORT={port}\n")
    where = f"http://127.0.0.1:{port}"
    inbound = _cli("sim", "inbound", "--from", "+14155550199", "--to", "+1415555", cwd=tmp_path)
    _one_line_failure(inbound, f"cannot reach textbridge at {where}/simulator", "serve")
    secret = "tb_secret-that-must-never-print-0123456789"
    sent = _cli("send", "--to", "+1", "--text", "x", cwd=tmp_path, TEXTBRIDGE_API_KEY=secret)
    assert secret not in _one_line_failure(sent, f"cannot reach textbridge at {where}/api/v1")
    listed = _cli("templates", "list", cwd=tmp_path, TEXTBRIDGE_API_KEY=secret)
    _one_line_failure(listed, where)


def test_database_failures_say_what_to_do(tmp_path: Path) -> None:
    fresh = _cli("keys", "list", cwd=tmp_path, TEXTBRIDGE_DATABASE_URL="sqlite:///empty.db")
    _one_line_failure(fresh, "no schema yet", "textbridge db upgrade")
    nowhere = _cli("keys", "list", cwd=tmp_path, TEXTBRIDGE_DATABASE_URL="sqlite:///no/such.db")
    _one_line_failure(nowhere, "no folder for the SQLite database: no")
    closed = f"postgresql://textbridge:pw-never-shown@127.0.0.1:{free_port()}/textbridge"
    down = _cli("keys", "list", cwd=tmp_path, TEXTBRIDGE_DATABASE_URL=closed)
    assert "pw-never-shown" not in _one_line_failure(down, "TEXTBRIDGE_DATABASE_URL")


def test_an_unexpected_error_is_one_line_too() -> None:
    from textbridge.cli.errors import describe

    line = describe(KeyError("surprise"))
    assert line.startswith("unexpected error: KeyError: 'surprise'")
    assert "TEXTBRIDGE_DEBUG=1" in line
    assert "\n" not in describe(ValueError("first line\nsecond line"))


def test_keys_with_scopes(database: Database, tmp_path: Path) -> None:
    url = {"TEXTBRIDGE_DATABASE_URL": database.fresh_url(tmp_path)}
    created = _cli("keys", "create", "--name", "bot", cwd=tmp_path, **url)
    assert created.returncode == 0, created.stderr
    assert "send read" in created.stderr  # no admin unless asked for
    admin = ("--scope", "admin", "--scope", "send", "--scope", "read")
    assert _cli("keys", "create", "--name", "all", *admin, cwd=tmp_path, **url).returncode == 0
    listed = _cli("keys", "list", cwd=tmp_path, **url)
    assert re.search(r"bot\s+│\s+send read\s+│", listed.stdout), listed.stdout
    assert re.search(r"all\s+│\s+send read admin\s+│", listed.stdout), listed.stdout
    unknown = _cli("keys", "create", "--scope", "root", cwd=tmp_path, **url)
    assert unknown.returncode == 2
    assert "unknown scope root; choose among send, read, admin" in unknown.stderr


def _journal_row(state: str, error: str | None) -> dict[str, object]:
    return {
        "provider": "plivo",
        "kind": "inbound",
        "method": "POST",
        "url": "https://example.test/webhooks/plivo/inbound",
        "headers": {},
        "body": "From=AMAZON",
        "state": state,
        "attempts": 10,
        "error": error,
        "received_at": utcnow(),
    }


def test_journal_list_and_replay(database: Database, tmp_path: Path) -> None:
    url = {"TEXTBRIDGE_DATABASE_URL": database.fresh_url(tmp_path)}
    reason = "NumberParseException: (1) not a phone number"
    ids = [
        row[0]
        for row in database.run(
            insert(WebhookJournalEntry)
            .values(
                [
                    _journal_row("dead", reason),
                    _journal_row("dead", reason),
                    _journal_row("applied", None),
                ]
            )
            .returning(WebhookJournalEntry.id)
        )
    ]
    listed = _cli("journal", "list", "--state", "dead", cwd=tmp_path, **url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(reason) == 2
    assert "applied" not in listed.stdout

    one = _cli("journal", "replay", str(ids[0]), cwd=tmp_path, **url)
    assert (one.returncode, one.stderr.strip()) == (0, "replayed 1 entry")
    rest = _cli("journal", "replay", "--state", "dead", cwd=tmp_path, **url)
    assert (rest.returncode, rest.stderr.strip()) == (0, "replayed 1 entry")
    states = database.rows("SELECT state, attempts, error FROM webhook_journal ORDER BY id")
    assert [tuple(row) for row in states] == [
        ("pending", 0, None),
        ("pending", 0, None),
        ("applied", 10, None),
    ]

    applied = _cli("journal", "replay", str(ids[2]), cwd=tmp_path, **url)
    assert applied.returncode == 1
    assert "applied entries cannot be replayed" in applied.stderr
    assert _cli("journal", "replay", "999999", cwd=tmp_path, **url).returncode == 1
    assert _cli("journal", "replay", cwd=tmp_path, **url).returncode == 2
    assert _cli("journal", "list", "--state", "lost", cwd=tmp_path, **url).returncode == 2
