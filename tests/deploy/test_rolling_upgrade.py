"""A rolling upgrade on PostgreSQL (docs/DEPLOY.md "Upgrades": migrations are backward
compatible for one version). The previous release (deploy/PREVIOUS_RELEASE, its `src/` taken
from this repository's history with `git archive`) runs its `textbridge serve` on a database
that the current code migrated to head, next to the current release's `serve`, both at once,
with the provider simulator in its own process. Through the old one: an API send that is
delivered, an inbound webhook in its conversation list, a number and a word search, a campaign.
Through the new one: the same messages, and its own send delivered.

Then the next upgrade, from this release: the database is moved one revision past our head (a
revision we do not know, with the additive change such a migration makes), and the current
`db upgrade` leaves it as it is and the current `serve` keeps sending on it (the previous
release's `db upgrade` refused that, so a unit restarted mid-upgrade could not start)."""

from __future__ import annotations

import re
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

from textbridge.db.migrate import alembic_config

from ..support.live import scaled, wait_until
from ..support.processes import TEXTBRIDGE, Command, answers, environment, free_port
from ..support.textbridge import CONTACT, SANDBOX_NUMBER
from .postgres import empty_postgres_database, query

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = ROOT / "deploy" / "PREVIOUS_RELEASE"
AUTH_ID = "MAROLLINGTEST0123456"
AUTH_TOKEN = "rolling-test-token-0123456789"
API_KEY = "tb_rolling_test_key_0123456789abcdefghij"
START_UP = 60
IMPORTS = "import textbridge.app, textbridge.cli.serve; print(textbridge.__file__)"
NEXT_REVISION = "fffffffffff1"  # a revision no release has: "the next release's"


def previous_release() -> str:
    lines = PREVIOUS_RELEASE.read_text().splitlines()
    [commit] = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return commit


def extract_src(commit: str, target: Path) -> Path:
    """The commit's `src/` under `target` (`git archive <commit> src`): its package, as the
    previous release's wheel would install it."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True
    )
    if found.returncode != 0:
        pytest.fail(
            f"the previous release {commit} (deploy/PREVIOUS_RELEASE) is not in this clone: "
            "fetch the full history (`git fetch --unshallow`, or actions/checkout with "
            "`fetch-depth: 0`), or, if that commit is gone from main, set deploy/PREVIOUS_RELEASE "
            "to the commit of the release that is deployed"
        )
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


@dataclass
class Site:
    folder: Path
    database_url: str
    simulator_url: str = ""
    commands: list[Command] = field(default_factory=list)

    def env(self, port: int, **extra: str) -> dict[str, str]:
        return {
            "TEXTBRIDGE_ENV": "test",
            "TEXTBRIDGE_DATABASE_URL": self.database_url,
            "TEXTBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TEXTBRIDGE_API_KEY": API_KEY,
            "TEXTBRIDGE_SECRET_KEY": "rolling-test-session-secret-0123456789abcdef",
            "TEXTBRIDGE_DATABASE_POOL_SIZE": "2",
            "TEXTBRIDGE_API_SEND_CONNECTIONS": "2",
            "PLIVO_AUTH_ID": AUTH_ID,
            "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
            "PLIVO_SMS_FROM_NUMBER": SANDBOX_NUMBER,
            "TEXTBRIDGE_PLIVO_API_BASE_URL": f"{self.simulator_url}/v1/Account",
            **extra,
        }

    def spawn(self, name: str, args: list[str], **env: str) -> Command:
        command = Command(args, self.folder, self.folder / f"{name}.log", **env)
        command.spawn()
        self.commands.append(command)
        return command

    def serve(self, name: str, port: int, **extra: str) -> Command:
        return self.spawn(name, ["serve", "--port", str(port)], **self.env(port, **extra))

    def run(self, args: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TEXTBRIDGE, *args],
            cwd=self.folder,
            env=environment(**self.env(free_port()), **extra),
            capture_output=True,
            text=True,
            timeout=scaled(120),
        )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with empty_postgres_database() as database_url:
        running = Site(tmp_path, database_url)
        try:
            yield running
        finally:
            for command in running.commands:
                command.kill()


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _client(port: int) -> httpx.Client:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)


def _send(api: httpx.Client, to: str, text: str) -> str:
    sent = api.post("/api/v1/messages", json={"to": to, "text": text})
    assert sent.status_code == 202, sent.text
    return str(sent.json()["id"])


def _delivered(api: httpx.Client, message_id: str) -> dict[str, Any]:
    def status() -> dict[str, Any] | None:
        message: dict[str, Any] = api.get(f"/api/v1/messages/{message_id}").json()
        return message if message["status"] == "delivered" else None

    return wait_until(status, timeout=30, interval=0.1)


def _search(api: httpx.Client, q: str) -> list[str]:
    found = api.get("/api/v1/conversations", params={"q": q})
    assert found.status_code == 200, found.text
    return [conversation["contact_address"] for conversation in found.json()]


def _texts(api: httpx.Client, address: str) -> list[str]:
    [conversation] = [
        c for c in api.get("/api/v1/conversations").json() if c["contact_address"] == address
    ]
    messages = api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    return sorted(m["text"] for m in messages)


@pytest.mark.timeout(scaled(300))
def test_previous_release_runs_next_to_this_one_on_the_migrated_database(
    site: Site, tmp_path: Path
) -> None:
    commit = previous_release()
    old_src = extract_src(commit, tmp_path / "previous")
    old_env = {"PYTHONPATH": str(old_src)}
    # Its modules compiled (as a wheel's install does) and imported with the current
    # dependencies, while the migrations run.
    check = f"import compileall; compileall.compile_dir({str(old_src)!r}, quiet=1); {IMPORTS}"
    importing = subprocess.Popen(
        [TEXTBRIDGE[0], "-c", check],
        env=environment(**old_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    simulator_port, old_port, new_port = free_port(), free_port(), free_port()
    site.simulator_url = f"http://127.0.0.1:{simulator_port}"
    inbound_url = f"http://127.0.0.1:{old_port}/webhooks/plivo/inbound"
    simulator_args = ["simulator", "--port", str(simulator_port), "--auth-id", AUTH_ID]
    simulator_args += ["--auth-token", AUTH_TOKEN, "--message-url", inbound_url]
    simulator = site.spawn("simulator", simulator_args)

    # 1. The current release's `db upgrade` (in a real upgrade the old processes run meanwhile).
    migrated = site.run(["db", "upgrade"])
    assert migrated.returncode == 0, migrated.stderr
    head = _head_revision()
    assert query(site.database_url, "SELECT version_num FROM alembic_version") == [(head,)]
    out, err = importing.communicate(timeout=scaled(60))
    assert importing.returncode == 0, f"the previous release does not import: {err}"
    assert out.strip().startswith(str(old_src)), out

    # 2. The previous release's `serve` alone on that schema first, so that its own workers
    # (dispatcher, journal applier, campaign runner) do the work, not the current release's.
    old = site.serve("old-serve", old_port, **old_env)
    simulator.wait_ready(lambda: answers(f"{site.simulator_url}/control/faults"), START_UP)
    old.wait_ready(lambda: answers(f"http://127.0.0.1:{old_port}/readyz"), START_UP)
    with (
        _client(old_port) as old_api,
        httpx.Client(base_url=site.simulator_url, timeout=30) as control,
    ):
        first = _send(old_api, CONTACT, "sent by the previous release")
        _delivered(old_api, first)
        reply = {"from": CONTACT, "to": SANDBOX_NUMBER, "text": "a pineapple reply"}
        answered = control.post("/control/plivo/inbound", json=reply)  # signed, to the old serve
        assert answered.status_code == 200, answered.text
        assert answered.json()["status_code"] == 200, answered.text
        wait_until(lambda: "a pineapple reply" in _texts(old_api, CONTACT), timeout=30)
        assert _search(old_api, "555 0199") == [CONTACT]  # a number, in another notation
        assert _search(old_api, "pineapple") == [CONTACT]  # a word
        assert _search(old_api, "mango") == []
        body = {
            "name": "rolling",
            "text": "campaign from the previous release",
            "recipients": [{"to": "+14155550124"}, {"to": "+14155550125"}],
            "start": True,
            "quiet_hours": False,  # else its US recipients wait for their morning
        }
        created = old_api.post("/api/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
        campaign = created.json()["campaign"]["id"]
        report = wait_until(lambda: _completed(old_api, campaign), timeout=30, interval=0.1)
        assert report["progress"]["sent"] == 2

    # 3. The current release's `serve` next to it, both at once on the same database.
    new = site.serve("new-serve", new_port)
    new.wait_ready(lambda: answers(f"http://127.0.0.1:{new_port}/readyz"), START_UP)
    with _client(old_port) as old_api, _client(new_port) as new_api:
        assert _delivered(new_api, first)["text"] == "sent by the previous release"
        assert _completed(new_api, campaign) is not None
        assert _search(new_api, "pineapple") == [CONTACT]
        assert _search(new_api, "+1 415 555 0125") == ["+14155550125"]
        from_new = _send(new_api, CONTACT, "sent by the current release")
        from_old = _send(old_api, CONTACT, "sent by the previous release again")
        _delivered(new_api, from_new)
        _delivered(old_api, from_old)
        texts = [
            "a pineapple reply",
            "sent by the current release",
            "sent by the previous release",
            "sent by the previous release again",
        ]
        assert _texts(new_api, CONTACT) == _texts(old_api, CONTACT) == texts
    for command in (old, new):
        assert not _errors(command.log.read_text()), command.log.read_text()

    # The previous release's own `db upgrade` (an old node's unit restarted mid-upgrade runs
    # it first): releases before the fix below stop on the revision they do not know.
    old_upgrade = site.run(["db", "upgrade"], **old_env)
    assert old_upgrade.returncode == 0 or head in old_upgrade.stderr, old_upgrade.stderr
    assert query(site.database_url, "SELECT version_num FROM alembic_version") == [(head,)]

    # 4. The next upgrade, from this release: a revision it does not know, with the additive
    # change such a migration makes; its `db upgrade` leaves it, its `serve` starts and sends.
    query(site.database_url, "ALTER TABLE contacts ADD COLUMN next_release_note text")
    query(site.database_url, f"UPDATE alembic_version SET version_num = '{NEXT_REVISION}'")
    ahead = site.run(["db", "upgrade"])
    assert ahead.returncode == 0, ahead.stdout + ahead.stderr
    assert f"database at {NEXT_REVISION}, a newer release" in ahead.stdout + ahead.stderr
    assert query(site.database_url, "SELECT version_num FROM alembic_version") == [(NEXT_REVISION,)]
    next_port = free_port()
    restarted = site.serve("new-serve-on-next-schema", next_port)
    restarted.wait_ready(lambda: answers(f"http://127.0.0.1:{next_port}/readyz"), START_UP)
    with _client(next_port) as next_api:
        _delivered(next_api, _send(next_api, "+14155550126", "on the next release's schema"))
        assert "a pineapple reply" in _texts(next_api, CONTACT)


def _completed(api: httpx.Client, campaign: str) -> dict[str, Any] | None:
    report: dict[str, Any] = api.get(f"/api/v1/campaigns/{campaign}/report").json()
    done = report["campaign"]["state"] == "completed" and report["progress"]["delivered"] == 2
    return report if done else None


def _errors(log: str) -> list[str]:
    """Lines of a `serve` log at error level, or of a traceback."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
    marks = ("Traceback", "ERROR:", "[error", "[critical")
    return [line for line in plain.splitlines() if any(mark in line for mark in marks)]
