"""How the command line answers a failure: one red line that says what went wrong and what to
do, exit code 1. Never a traceback, and never the local variables of one (they held the
credentials): `TEXTBRIDGE_DEBUG=1` shows the traceback, still without locals.

    `OneLineErrors` is the Typer app class; `describe` turns an exception into that line.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from textbridge.config import SettingsError

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

DEBUG_VARIABLE = "TEXTBRIDGE_DEBUG"
_console = Console(stderr=True)


class OneLineErrors(typer.Typer):
    """A Typer app whose commands' failures end in one line (see the module docstring)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(pretty_exceptions_show_locals=False, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            _console.print(f"[red]{escape(describe(exc))}[/red]", soft_wrap=True)
            raise SystemExit(1) from None


def describe(exc: BaseException) -> str:
    """What went wrong and what to do, in one line."""
    if isinstance(exc, httpx.HTTPError):
        return _http_failure(exc)
    if isinstance(exc, SettingsError):
        return f"{exc}. Fix it in the environment or in .env."
    if "sqlalchemy" in sys.modules:  # else it raised nothing: only database commands load it
        from sqlalchemy.exc import DBAPIError, NoSuchModuleError

        if isinstance(exc, DBAPIError | NoSuchModuleError):
            return _database_failure(exc)
    if isinstance(exc, OSError):
        return _os_failure(exc)
    return (
        f"unexpected error: {type(exc).__name__}: {_first_line(exc)}. "
        f"Run again with {DEBUG_VARIABLE}=1 to see where, and report it."
    )


def _http_failure(exc: httpx.HTTPError) -> str:
    url = _request_url(exc)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return (
            f"cannot reach textbridge at {url} ({_first_line(exc)}). Is `textbridge serve` "
            "running there? It is looked for at TEXTBRIDGE_HOST and TEXTBRIDGE_PORT (from the "
            "environment or .env); --url points elsewhere."
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"{url} did not answer in time. Check that the server is not overloaded."
    return f"the request to {url} failed: {_first_line(exc)}. Check --url."


def _request_url(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised before any request was made
        return "the server"
    return str(url.copy_with(username=None, password=None, query=None))


def _database_failure(exc: DBAPIError | NoSuchModuleError) -> str:
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

    reason = _first_line(exc.orig) if isinstance(exc, DBAPIError) else _first_line(exc)
    if isinstance(exc, OperationalError | ProgrammingError) and _missing_schema(reason):
        return f"the database has no schema yet ({reason}). Run `textbridge db upgrade`."
    return (
        f"cannot use the database ({reason}). "
        "Check TEXTBRIDGE_DATABASE_URL and that the database is running."
    )


def _missing_schema(reason: str) -> bool:
    return "no such table" in reason or ("relation" in reason and "does not exist" in reason)


def _os_failure(exc: OSError) -> str:
    what = exc.strerror or _first_line(exc)
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        # httpx's own errors are handled above: a bare connection error is the database's.
        return (
            f"cannot connect to the database ({what}). "
            "Check TEXTBRIDGE_DATABASE_URL and that the database is running."
        )
    where = f": {exc.filename}" if exc.filename else ""
    return f"{what}{where}. Check the path and its permissions."


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
