"""`textbridge consent`: the consent ledger in and out of CSV or JSON files (on the database
directly). Each imported record is an audit entry (`consent.changed`, by `cli:<user>`)."""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from textbridge.cli.common import Option, console, fail, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = typer.Typer(help="The consent ledger: import and export (CSV or JSON).", no_args_is_help=True)


class Format(StrEnum):
    csv = "csv"
    json = "json"


FormatOption = Annotated[Format | None, Option("--format", help="csv or json [default: by suffix]")]


def _format_of(path: Path, given: Format | None) -> Format:
    if given is not None:
        return given
    return Format.json if path.suffix.lower() == ".json" else Format.csv


@app.command("import")
def consent_import(
    file: Annotated[Path, typer.Argument(help="CSV (header row) or JSON list of records")],
    fmt: FormatOption = None,
) -> None:
    """Record the opt-ins and opt-outs of a file (source `import`). Bad rows are reported and
    skipped; the exit status is 1 when there were any."""
    from textbridge.audit import log
    from textbridge.compliance import transfer

    try:
        rows = transfer.rows_of(file.read_text(encoding="utf-8-sig"), _format_of(file, fmt).value)
    except (OSError, UnicodeDecodeError, transfer.UnreadableFile) as exc:
        raise fail(f"{file}: {exc}") from None

    async def work(session: AsyncSession) -> transfer.ImportResult:
        return await transfer.import_rows(session, rows, log.cli_actor(), log.CLI_ORIGIN)

    result = asyncio.run(with_session(work))
    console.print(f"recorded {result.recorded} of {len(rows)} record(s)")
    for bad in result.bad_rows:
        console.print(f"[yellow]row {bad['row']}: {bad['reason']}[/yellow]")
    if result.bad_rows:
        raise typer.Exit(1)


@app.command("export")
def consent_export(
    fmt: Annotated[Format, Option("--format", help="csv or json")] = Format.csv,
    output: Annotated[Path | None, Option(help="write here instead of stdout")] = None,
) -> None:
    """Every ledger record, oldest first (erased records keep only their address hash)."""
    from textbridge.compliance import transfer

    rows = asyncio.run(with_session(transfer.export_rows))
    text = transfer.as_json(rows) if fmt == Format.json else transfer.as_csv(rows)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else f"{text}\n")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(rows)} record(s) to {output}")
