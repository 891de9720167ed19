"""docs/DEPLOY.md says only what exists: every `textbridge ...` command in its code blocks
parses in our CLI, every variable it names is a setting (or one the deployment's other readers
take), and every file of this repository it points at is there."""

from __future__ import annotations

import re
import shlex

from .layout import FOREIGN_VARIABLES, ROOT, cli_problem, setting_names

DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"
SHELL_OPERATORS = {"&&", "||", "|", ";", "&", ">", ">>", "<"}
# libpq's, read by asyncpg (docs/DEPLOY.md: TLS).
LIBPQ_VARIABLES = {"PGSSLMODE", "PGSSLROOTCERT"}


def _code_lines() -> list[str]:
    """Each line of the code blocks, and each inline code span that runs `textbridge`."""
    text = DEPLOY_DOC.read_text()
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    spans = [" ".join(span.split()) for span in re.findall(r"`(textbridge [^`]+)`", prose)]
    return [line for block in blocks for line in block.splitlines()] + spans


def _textbridge_commands() -> list[list[str]]:
    """The arguments of every `textbridge` (or `/opt/textbridge/bin/textbridge`) run in a code
    block, up to a shell operator or a comment."""
    commands = []
    for line in _code_lines():
        words = shlex.split(line.replace("%i", "8001"), comments=True)  # a unit's instance
        starts = [i for i, _ in enumerate(words) if _runs_textbridge(words, i)]
        if not starts:
            continue
        args = words[starts[0] + 1 :]
        cut = next((i for i, w in enumerate(args) if w in SHELL_OPERATORS), len(args))
        commands.append(args[:cut])
    return commands


def _runs_textbridge(words: list[str], index: int) -> bool:
    """`textbridge` as the command: first on the line, as a path to the binary, or after
    `docker compose exec SERVICE` (elsewhere it is a user or database name)."""
    word = words[index]
    if word.endswith("/bin/textbridge"):
        return True
    return word == "textbridge" and (index == 0 or words[index - 2 : index - 1] == ["exec"])


def test_every_textbridge_command_in_deploy_md_exists() -> None:
    commands = _textbridge_commands()
    assert len(commands) >= 10  # the reading found them
    assert {"doctor", "providers"} <= {args[0] for args in commands if args}
    assert [problem for args in commands if (problem := cli_problem(args))] == []


def test_every_variable_deploy_md_names_exists() -> None:
    named = set(re.findall(r"\b((?:TEXTBRIDGE|PLIVO|VONAGE)_[A-Z0-9_]+)\b", DEPLOY_DOC.read_text()))
    known = setting_names() | set(FOREIGN_VARIABLES) | LIBPQ_VARIABLES
    assert "TEXTBRIDGE_PUBLIC_URL" in named
    assert named - known == set()


def test_every_file_deploy_md_points_at_exists() -> None:
    paths = set(re.findall(r"`((?:deploy|docs|src|tests)/[\w./@-]+)`", DEPLOY_DOC.read_text()))
    assert "deploy/compose.yaml" in paths
    made_by_the_operator = {"deploy/.env"}
    missing = sorted(p for p in paths - made_by_the_operator if not (ROOT / p).exists())
    assert missing == []
