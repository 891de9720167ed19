"""`textbridge providers`: the providers' set-up, through their APIs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from textbridge.cli.common import Option, settings
from textbridge.config import Settings
from textbridge.providers.account import AccountApiError

if TYPE_CHECKING:
    from textbridge.operate import configure as setup

app = typer.Typer(help="The providers' set-up (applications, webhooks, numbers).")


@app.command("configure")
def configure(
    dry_run: Annotated[
        bool, Option("--dry-run", help="Show the changes as a diff; change nothing")
    ] = False,
) -> None:
    """Point each provider's application at our webhook URLs (TEXTBRIDGE_PUBLIC_URL) and link
    our numbers to it: Plivo's message_url and method, Vonage's Messages inbound and status
    URLs. Shows each change before making it; a second run changes nothing."""
    try:
        outcome = asyncio.run(_configure(settings(), dry_run))
    except AccountApiError as exc:
        fix = "check the credentials (`textbridge doctor` tells which) and run it again"
        Console().print(f"[red]{escape(str(exc))}. {fix}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    raise typer.Exit(outcome)


async def _configure(current: Settings, dry_run: bool) -> int:
    from textbridge.operate import configure as setup
    from textbridge.operate.doctor import TIMEOUT_SECONDS

    console = Console()
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        planned = await setup.plan(current, client)
        _show(console, planned)
        if planned.changes and not dry_run:
            await setup.apply(planned.changes)
            remaining = await setup.plan(current, client)
            if remaining.changes:
                console.print("[red]the providers did not keep every change: run it again[/]")
                return 1
            console.print(f"[green]{len(planned.changes)} change(s) made[/green]")
        elif planned.changes:
            console.print(f"dry run: {len(planned.changes)} change(s) shown, nothing changed")
        else:
            console.print("[green]nothing to change: the providers are set up[/green]")
    return 1 if planned.problems else 0


def _show(console: Console, planned: setup.Plan) -> None:
    for change in planned.changes:
        console.print(f"[bold]{change.provider}[/bold] {escape(change.target)}")
        for field in change.fields:
            console.print(f"[red]- {field.name}: {escape(field.before or '(none)')}[/red]")
            console.print(f"[green]+ {field.name}: {escape(field.after)}[/green]")
    for problem in planned.problems:
        console.print(f"[red]{escape(problem)}[/red]", soft_wrap=True)
