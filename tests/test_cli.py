"""The command line as a new user meets it: `serve` on the embedded default, `send`,
`sim inbound`, `db upgrade`, and a clear stop on bad configuration."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .support.live import wait_until

TEXTBRIDGE = [sys.executable, "-m", "textbridge"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTBRIDGE_", "PLIVO_"))}
    return {**keep, "NO_COLOR": "1", "COLUMNS": "200", **extra}


@dataclass
class Serve:
    url: str
    key: str
    process: subprocess.Popen[str]
    log: Path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`textbridge serve` in an empty folder, as on a fresh machine."""
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*TEXTBRIDGE, "serve", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=_environment(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url) or process.poll() is not None, timeout=30)
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
        env=_environment(**env),
        check=False,
    )


def test_serve_runs_the_sandbox_and_cli_drives_it(serve: Serve, tmp_path: Path) -> None:
    output = serve.log.read_text()
    assert "SANDBOX" in output
    assert (tmp_path / "textbridge.db").exists()

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

    reply = _cli(
        "sim",
        "inbound",
        "--from",
        "+14155550199",
        "--to",
        "+14155550100",
        "--text",
        "hello back",
        "--url",
        f"{serve.url}/simulator",
        cwd=tmp_path,
    )
    assert reply.returncode == 0, reply.stderr
    conversation = wait_until(lambda: api.get("/api/v1/conversations").json(), timeout=10)
    assert conversation[0]["last_message_preview"] == "hello back"
    assert serve.log.read_text().count(serve.key) == 1, "the key is printed once, at creation"


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
    assert api.get("/api/v1/conversations").status_code == 401
