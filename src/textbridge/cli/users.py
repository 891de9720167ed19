"""`textbridge users`: inbox users, on the database directly. A password is read from a
prompt (or, piped, from standard input), never from an argument that shell history keeps.
Every change is in the audit log, as `cli:<operating-system user>`."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from textbridge.auth.roles import ROLES
from textbridge.cli.common import Option, console, fail, with_session

app = typer.Typer(help="Inbox users (works on the database directly).", no_args_is_help=True)

RoleOption = Annotated[str, Option(help=f"{' or '.join(ROLES)}")]


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Again", hide_input=True) != first:
        raise fail("the two passwords differ")
    return str(first)


@app.command("create")
def users_create(username: str, role: RoleOption = "agent") -> None:
    """Create a user; the password is asked for (or read from standard input)."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.auth import users

    password = _read_password()

    try:
        asyncio.run(
            with_session(
                lambda session: users.create(
                    session, username, password, role, actor=cli_actor(), origin=CLI_ORIGIN
                )
            )
        )
    except users.UserError as exc:
        raise fail(str(exc)) from None
    console.print(f"user [bold]{users.normalized(username)}[/bold] created with role {role}")


@app.command("list")
def users_list() -> None:
    """Show the users: name, role, created, disabled."""
    from textbridge.auth import users

    rows = asyncio.run(with_session(users.list_users))
    table = Table("username", "role", "created", "disabled")
    for row in rows:
        disabled = row.disabled_at.isoformat(timespec="seconds") if row.disabled_at else ""
        table.add_row(
            row.username, row.role, row.created_at.isoformat(timespec="seconds"), disabled
        )
    Console().print(table)


@app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user: they cannot sign in, and every session of theirs ends now."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.auth import users

    try:
        asyncio.run(
            with_session(
                lambda session: users.disable(
                    session, username, actor=cli_actor(), origin=CLI_ORIGIN
                )
            )
        )
    except users.UserError as exc:
        raise fail(str(exc), 1) from None
    console.print(f"user [bold]{users.normalized(username)}[/bold] disabled; their sessions ended")


@app.command("role")
def users_role(username: str, role: Annotated[str, typer.Argument(help="admin or agent")]) -> None:
    """Give a user another role (it applies to their open sessions at once)."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.auth import users

    try:
        asyncio.run(
            with_session(
                lambda session: users.set_role(
                    session, username, role, actor=cli_actor(), origin=CLI_ORIGIN
                )
            )
        )
    except users.UserError as exc:
        raise fail(str(exc), 1) from None
    console.print(f"user [bold]{users.normalized(username)}[/bold] is now {role}")
