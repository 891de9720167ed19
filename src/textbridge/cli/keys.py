"""`textbridge keys`: API keys, on the database directly."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from textbridge.cli.common import Option, console, fail, with_session

app = typer.Typer(help="API keys (works on the database directly).", no_args_is_help=True)


@app.command("create")
def keys_create(
    name: Annotated[str, Option(help="Who or what uses it")] = "api",
    scope: Annotated[
        list[str] | None, Option(help="send, read or admin; repeatable (default: send, read)")
    ] = None,
) -> None:
    """Create an API key and print it (only its hash is stored)."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.auth import keys

    try:
        scopes = keys.scopes_text(scope)
    except ValueError as exc:
        raise fail(str(exc)) from None
    key, _ = asyncio.run(
        with_session(
            lambda session: keys.create(session, name, scopes, actor=cli_actor(), origin=CLI_ORIGIN)
        )
    )
    console.print(f"API key [bold]{name}[/bold] with scopes {scopes} (shown only now):")
    print(key)


@app.command("list")
def keys_list() -> None:
    """Show the API keys: prefix, name, scopes, created, revoked."""
    from textbridge.auth import keys

    rows = asyncio.run(with_session(keys.list_keys))
    table = Table("prefix", "name", "scopes", "created", "revoked")
    for row in rows:
        revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else ""
        created = row.created_at.isoformat(timespec="seconds")
        table.add_row(row.prefix, row.name, row.scopes, created, revoked)
    Console().print(table)


@app.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix (as shown by `keys list`). On PostgreSQL every running
    process forgets it at once; on SQLite `serve` does within TEXTBRIDGE_API_KEY_CACHE_SECONDS."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.auth import keys

    try:
        count = asyncio.run(
            with_session(
                lambda session: keys.revoke(session, prefix, actor=cli_actor(), origin=CLI_ORIGIN)
            )
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if count == 0:
        raise fail(f"no active key starts with {prefix[:8]}", 1)
    console.print(f"revoked {count} key(s)")
