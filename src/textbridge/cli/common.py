"""What every command group shares: the stderr console, settings, the running server's URL,
an API client for commands that go through HTTP, and a database session for those that work
on the database directly."""

from __future__ import annotations

import asyncio
import errno
import gc
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from textbridge.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

console = Console(stderr=True)
SERVER_URL_HELP = "textbridge base URL [default: TEXTBRIDGE_HOST and TEXTBRIDGE_PORT, as serve]"
T = TypeVar("T")
Option = typer.Option

UrlOption = Annotated[str | None, typer.Option(help=SERVER_URL_HELP)]
KeyOption = Annotated[str, typer.Option(envvar="TEXTBRIDGE_API_KEY", help="API key")]
DEFAULT_URL = None  # the running `serve`, from TEXTBRIDGE_HOST and TEXTBRIDGE_PORT


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def freeze_startup_heap() -> None:
    """Everything loaded at start-up lives as long as the process: move it out of the cycle
    collector's sight (`gc.freeze`), so that full collections only walk what was made since.
    Unfrozen, a full collection took 110 to 275 ms in a worker (a stall that made the governor's
    rate slots pass unused) and made most of the webhook p99 tail in `serve`."""
    gc.collect()
    gc.freeze()


def local_url(host: str, port: int) -> str:
    """Where a process on this machine reaches `serve` bound to host:port."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def server_url() -> str:
    """The running `serve`, read from the same settings and .env as `serve` reads: its
    TEXTBRIDGE_HOST and TEXTBRIDGE_PORT."""
    current = settings()
    return local_url(current.host, current.port)


def api(url: str | None, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url or server_url()}/api/v1",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=60,
    )


def print_response(response: httpx.Response) -> None:
    console.print_json(response.text) if response.text else console.print(response.status_code)
    if response.is_error:
        raise typer.Exit(1)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` in red; the caller raises what this returns."""
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


async def with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from textbridge.db.engine import create_engine, create_session_factory

    current = settings()
    folder = current.sqlite_path.parent if current.sqlite_path else None
    if folder is not None and not folder.is_dir():
        # Said here: aiosqlite's failed open, raised out of asyncio.run, prints a thread traceback.
        raise FileNotFoundError(errno.ENOENT, "no folder for the SQLite database", str(folder))
    engine = create_engine(current.database_url)
    try:
        async with create_session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def refuse_transaction_pooler(current: Settings, command: str) -> None:
    """Stop with one line when the database is reached through a transaction-mode pooler
    (`db/pooler.py`). A database that does not answer is not checked: the command goes on and
    reports that failure its own way (or a `serve` starts, and `/readyz` says it)."""
    from textbridge.db import pooler

    try:
        reason = asyncio.run(pooler.transaction_pooler(current.database_url))
    except pooler.PROBE_FAILURES as exc:
        console.print(
            f"[yellow]textbridge {command}: could not check the database for a transaction "
            f"pooler ({type(exc).__name__}); going on[/yellow]",
            soft_wrap=True,
        )
        return
    if reason is not None:
        console.print(f"[red]textbridge {command}: {escape(reason)}[/red]", soft_wrap=True)
        raise typer.Exit(2)
