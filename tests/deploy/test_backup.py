"""`textbridge db backup PATH`: SQLite's online backup. It copies a database while another
connection is in the middle of a write (as `serve` would be), gets the last commit and not the
write in progress, makes one file that passes `integrity_check` and that textbridge runs on as
it is (the restore), never overwrites a file, and on PostgreSQL points at pg_dump."""

from __future__ import annotations

import sqlite3
from contextlib import chdir, closing
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from textbridge.cli import app


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def _cli(*args: str, database: Path | str, cwd: Path) -> Outcome:
    """The command in this process (as a subprocess it costs seconds of imports each time)."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    with chdir(cwd):
        result = CliRunner().invoke(app, list(args), env={"TEXTBRIDGE_DATABASE_URL": url})
    return Outcome(result.exit_code, result.stdout, result.stderr)


def _key_names(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM api_keys ORDER BY name")]


def test_backup_while_a_write_is_in_progress_then_restore(tmp_path: Path) -> None:
    live = tmp_path / "textbridge.db"
    assert _cli("db", "upgrade", database=live, cwd=tmp_path).returncode == 0
    made = _cli("keys", "create", "--name", "committed", database=live, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    with closing(sqlite3.connect(live, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held through the backup
        writer.execute(
            "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_at) "
            "SELECT 'in-progress', 'uncommitted', 'x', 'x', scopes, created_at FROM api_keys"
        )
        backed_up = _cli("db", "backup", str(tmp_path / "copy.db"), database=live, cwd=tmp_path)
        writer.execute("ROLLBACK")
    assert backed_up.returncode == 0, backed_up.stderr
    copy = tmp_path / "copy.db"
    assert sorted(p.name for p in tmp_path.glob("copy.db*")) == ["copy.db"]  # one file, whole
    with closing(sqlite3.connect(copy)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _key_names(copy) == ["committed"]

    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "textbridge.db").write_bytes(copy.read_bytes())
    listed = _cli("keys", "list", database=restored / "textbridge.db", cwd=restored)
    assert listed.returncode == 0, listed.stderr
    assert "committed" in listed.stdout + listed.stderr


def test_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    live = tmp_path / "textbridge.db"
    assert _cli("db", "upgrade", database=live, cwd=tmp_path).returncode == 0
    existing = tmp_path / "precious.db"
    existing.write_bytes(b"do not touch")
    refused = _cli("db", "backup", str(existing), database=live, cwd=tmp_path)
    assert refused.returncode == 2
    assert "exists" in refused.stderr
    assert existing.read_bytes() == b"do not touch"


def test_backup_of_a_missing_database_says_so(tmp_path: Path) -> None:
    missing = _cli("db", "backup", "copy.db", database=tmp_path / "none.db", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no SQLite database" in missing.stderr
    assert not (tmp_path / "copy.db").exists()


def test_backup_on_postgresql_points_at_pg_dump(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    refused = _cli("db", "backup", "copy.db", database=url, cwd=tmp_path)
    assert refused.returncode == 2
    assert "pg_dump" in refused.stderr
