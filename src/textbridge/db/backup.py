"""An online backup of the embedded SQLite database (`textbridge db backup PATH`).

SQLite's backup API copies the database page by page through a connection, so it may run
while `serve` writes: with `pages=-1` the whole copy is one step under one read transaction,
a consistent snapshot of the last commit (WAL mode lets the writer go on meanwhile). Copying
the file with `cp` instead can catch it between the main file and its `-wal` and make a
corrupt copy. The copy goes to `PATH.partial` first, is checked (`PRAGMA integrity_check`), and
only then takes its name, so a failed backup never leaves a file that looks like a good one.
PostgreSQL has `pg_dump` for this (docs/DEPLOY.md)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


class BackupError(Exception):
    """A backup that cannot be made; the message says why."""


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy the SQLite database at `source` to the new file `target`; its size in bytes."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists: a backup never overwrites a file, name a new one")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _copy(source, partial)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def _copy(source: Path, partial: Path) -> None:
    with (
        closing(sqlite3.connect(source, timeout=30)) as reader,
        closing(sqlite3.connect(partial)) as copy,
    ):
        reader.backup(copy)
        verdict = copy.execute("PRAGMA integrity_check").fetchone()
        if verdict != ("ok",):
            raise BackupError(f"the copy failed its integrity check: {verdict[0]}")
        # One file, readable on its own: the copy leaves WAL mode, so no -wal file goes with it.
        copy.execute("PRAGMA journal_mode=DELETE")
