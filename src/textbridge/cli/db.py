"""`textbridge db`: the database schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textbridge.cli.common import console, refuse_transaction_pooler, settings

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from textbridge.db import migrate

    current = settings()
    refuse_transaction_pooler(current, "db upgrade")
    newer = migrate.upgrade(current.database_url, revision)
    if newer is not None:
        console.print(
            f"database at {newer}, a newer release's migration: left as it is (this release "
            "runs on the schema of the next one during a rolling upgrade; finish the upgrade)",
            soft_wrap=True,
        )
        return
    console.print(f"database at {revision}")


@app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="The new file to write (never overwritten)")],
) -> None:
    """Copy the embedded SQLite database to PATH while textbridge runs (SQLite's online
    backup). On PostgreSQL, use pg_dump (docs/DEPLOY.md)."""
    from textbridge.db.backup import BackupError, backup_sqlite

    current = settings()
    if current.sqlite_path is None:
        console.print(
            "[red]textbridge db backup copies the embedded SQLite database; on PostgreSQL use "
            'pg_dump: pg_dump --format=custom --file=PATH "$TEXTBRIDGE_DATABASE_URL" '
            "(docs/DEPLOY.md)[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    try:
        size = backup_sqlite(current.sqlite_path, path)
    except BackupError as exc:
        console.print(f"[red]textbridge db backup: {exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"backed up {current.sqlite_path} to {path} ({size} bytes)")
