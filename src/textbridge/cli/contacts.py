"""`textbridge contacts export|erase`: a person's data rights, on the database directly."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import anyio
import typer

from textbridge.cli.common import Option, console, fail, settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

app = typer.Typer(
    help="A person's data: export it, or erase it (works on the database directly).",
    no_args_is_help=True,
)
T = TypeVar("T")
Address = Annotated[str, typer.Argument(help="The contact's address, e.g. +14155550199")]


async def _with_sessions(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    from textbridge.db.engine import create_engine, create_session_factory

    engine = create_engine(settings().database_url)
    try:
        return await work(create_session_factory(engine))
    finally:
        await engine.dispose()


@app.command("export")
def contacts_export(
    address: Address,
    output: Annotated[
        Path | None, Option("--output", "-o", help="Write to this file [default: stdout]")
    ] = None,
) -> None:
    """Everything stored about one person, as JSON (streamed: any number of messages)."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.compliance import export

    async def run(sessions: async_sessionmaker[AsyncSession]) -> None:
        who = await export.begin(sessions, address, actor=cli_actor(), origin=CLI_ORIGIN)
        chunks = export.stream(sessions, who)
        if output is None:
            async for chunk in chunks:
                sys.stdout.write(chunk)
            return
        async with await anyio.open_file(output, "w", encoding="utf-8") as out:
            async for chunk in chunks:
                await out.write(chunk)

    try:
        asyncio.run(_with_sessions(run))
    except export.NothingToExport:
        raise fail("nothing is stored for this address", 1) from None
    if output is not None:
        console.print(f"exported to {output}")


@app.command("erase")
def contacts_erase(
    address: Address,
    yes: Annotated[bool, Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Erase one person: name, texts, media files, journal entries and every copy of the
    address; counts and an opt-out (a keyed-hash tombstone) are kept. Safe to repeat."""
    from textbridge.audit.log import CLI_ORIGIN, cli_actor
    from textbridge.compliance import erasure

    if not yes and not typer.confirm(f"Erase everything stored about {address}?"):
        raise fail("nothing erased", 1)
    report = asyncio.run(
        _with_sessions(
            lambda sessions: erasure.erase(
                sessions,
                address,
                actor=cli_actor(),
                origin=CLI_ORIGIN,
                media_dir=settings().media_dir,
            )
        )
    )
    counts = ", ".join(f"{name} {value}" for name, value in report.counts().items())
    console.print(f"erased (address hash {report.address_hash[:12]}…): {counts}")
    if report.files_failed:
        raise fail(
            f"{report.files_failed} stored file(s) could not be deleted yet "
            f"({'; '.join(report.file_errors)}); a running textbridge retries them, "
            "or run this command again",
            1,
        )
