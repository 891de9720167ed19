"""`textbridge doctor`: check this deployment, one line per check (green, yellow or red with
the fix), exit code 1 when any check fails (for scripts), `--json` for machines."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from textbridge.cli.common import Option

if TYPE_CHECKING:
    from textbridge.operate.findings import Finding

MARKS = {"ok": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]"}
COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


def doctor(
    as_json: Annotated[bool, Option("--json", help="One JSON object on stdout")] = False,
) -> None:
    """Check the settings, database, public URL and each provider's set-up; say how to fix
    what is wrong. Exit code 1 when a check fails."""
    from textbridge.operate import doctor as checks

    settings, findings = checks.load()
    if settings is not None:
        findings += asyncio.run(checks.diagnose(settings))
    failed = any(finding.status == "fail" for finding in findings)
    if as_json:
        document = {"ok": not failed, "checks": [finding.as_json() for finding in findings]}
        typer.echo(json.dumps(document, indent=2))
    else:
        _print(findings)
    if failed:
        raise typer.Exit(1)


def _print(findings: list[Finding]) -> None:
    console = Console()
    for finding in findings:
        colour = COLOURS[finding.status]
        line = f"{MARKS[finding.status]} [{colour}]{finding.check}[/{colour}]: "
        console.print(line + escape(finding.detail), soft_wrap=True)
        if finding.fix and finding.status != "ok":
            console.print(f"    fix: {escape(finding.fix)}", soft_wrap=True)
    failures = sum(finding.status == "fail" for finding in findings)
    summary = f"{failures} check(s) failed" if failures else "all checks passed"
    console.print(f"[{'red' if failures else 'green'}]{summary}[/]")
