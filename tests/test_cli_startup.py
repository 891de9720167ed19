"""The command line starts without the database, web-server and event-loop libraries: each
command imports what it needs when it runs (`textbridge.cli`'s docstring). A structural check,
in a fresh interpreter, rather than a timing, which a loaded machine would make flaky."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "uvloop",
    "asyncpg",
    "aiosqlite",
    "starlette",
)


def _heavy_loaded_after(code: str) -> list[str]:
    """The HEAVY modules loaded once `code` has run in a new interpreter."""
    script = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import textbridge.cli",
        # Every command's options are built for the help (Typer reads their annotations).
        "from textbridge.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass",
        "from textbridge.cli import app\ntry:\n    app(['journal', 'list', '--help'])\n"
        "except SystemExit:\n    pass",
    ],
    ids=["import", "help", "journal-help"],
)
def test_the_cli_starts_without_heavy_libraries(code: str) -> None:
    assert _heavy_loaded_after(code) == []


def test_an_error_before_any_database_work_is_described_without_sqlalchemy() -> None:
    code = (
        "from textbridge.cli.errors import describe\n"
        "line = describe(FileNotFoundError(2, 'No such file or directory', 'x.csv'))\n"
        "assert line == 'No such file or directory: x.csv. Check the path and its permissions.'"
        ", line"
    )
    assert _heavy_loaded_after(code) == []
