"""`textbridge users` and the CLI's audit trail: a password comes from standard input (never
an argument), every change is audited as `cli:<user>`, and disabling ends sessions."""

from __future__ import annotations

import getpass
import re
import subprocess
from pathlib import Path

import pytest

from textbridge.auth import users
from textbridge.db.engine import create_engine, create_session_factory

from .support.database import Database, run_sync
from .support.processes import TEXTBRIDGE, environment

PASSWORD = "a long enough password"


def _cli(*args: str, url: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TEXTBRIDGE, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(TEXTBRIDGE_DATABASE_URL=url),
        check=False,
    )


def test_users_create_reads_the_password_from_stdin(database: Database, tmp_path: Path) -> None:
    url = database.fresh_url(tmp_path)
    created = _cli(
        "users", "create", "Ada", "--role", "admin", url=url, cwd=tmp_path, stdin=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    stored = database.scalar("SELECT password_hash FROM users WHERE username = 'ada'")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    short = _cli("users", "create", "bob", url=url, cwd=tmp_path, stdin="short")
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr
    audited = database.rows("SELECT actor, action, target, origin, detail FROM audit_log")
    actor = f"cli:{getpass.getuser()}"
    assert [tuple(row)[:4] for row in audited] == [(actor, "user.created", "user:ada", "cli")]


def test_users_role_disable_and_list(database: Database, tmp_path: Path) -> None:
    url = database.fresh_url(tmp_path)
    _add_user(url, "ada", "admin")
    assert _cli("users", "role", "ada", "agent", url=url, cwd=tmp_path).returncode == 0
    assert _cli("users", "disable", "ada", url=url, cwd=tmp_path).returncode == 0
    listed = _cli("users", "list", url=url, cwd=tmp_path)
    assert re.search(r"ada\s+│\s+agent\s+│\s+\S+\s+│\s+\d{4}-", listed.stdout), listed.stdout
    actor = f"cli:{getpass.getuser()}"
    audited = database.rows("SELECT actor, action, target, origin FROM audit_log ORDER BY id")
    assert [tuple(row) for row in audited] == [
        ("test", "user.created", "user:ada", None),
        (actor, "user.role_changed", "user:ada", "cli"),
        (actor, "user.disabled", "user:ada", "cli"),
    ]


def _add_user(url: str, name: str, role: str, password: str = PASSWORD) -> None:
    async def add() -> None:
        engine = create_engine(url)
        try:
            async with create_session_factory(engine)() as db:
                await users.create(db, name, password, role, actor="test", origin=None)
                await db.commit()
        finally:
            await engine.dispose()

    run_sync(add())


@pytest.mark.parametrize(
    ("name", "password", "role", "why"),
    [
        ("ada", PASSWORD, "agent", "a user ada exists already"),
        ("bob", "short", "agent", "at least 10 characters"),
        ("bob", PASSWORD, "root", "unknown role root; choose among admin, agent"),
        ("bob smith", PASSWORD, "agent", "a username is 1 to 100 characters"),
        ("", PASSWORD, "agent", "a username is 1 to 100 characters"),
    ],
)
def test_what_a_user_cannot_be(
    database: Database, tmp_path: Path, name: str, password: str, role: str, why: str
) -> None:
    url = database.fresh_url(tmp_path)
    _add_user(url, "ada", "agent")
    with pytest.raises(users.UserError, match=re.escape(why)):
        _add_user(url, name, role, password)


def test_keys_from_the_cli_are_audited(database: Database, tmp_path: Path) -> None:
    url = database.fresh_url(tmp_path)
    created = _cli("keys", "create", "--name", "bot", url=url, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert _cli("keys", "revoke", key[:8], url=url, cwd=tmp_path).returncode == 0
    audited = database.rows("SELECT action, target, detail FROM audit_log ORDER BY id")
    assert [(row[0], row[1]) for row in audited] == [
        ("key.created", f"key:{key[:8]}"),
        ("key.revoked", f"key:{key[:8]}"),
    ]
    assert key not in str(audited)
