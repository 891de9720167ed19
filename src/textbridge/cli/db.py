"""`textbridge db`: the database schema."""

from __future__ import annotations

import typer

from textbridge.cli.common import console, settings
from textbridge.db import migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(settings().database_url, revision)
    console.print(f"database at {revision}")
