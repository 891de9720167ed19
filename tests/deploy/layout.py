"""What the deployment files ask of textbridge, read from the files themselves: the commands
and environment of deploy/compose.yaml, the `ExecStart=` and `Environment=` of the systemd
units, the variables of deploy/.env.example, and checks of each against the CLI and settings."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import AliasChoices
from typer.core import TyperGroup
from typer.exceptions import TyperException

from textbridge.cli import app
from textbridge.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
UNITS = DEPLOY / "systemd"
DOCKERFILE = ROOT / "Dockerfile"
BINARY = "/opt/textbridge/bin/textbridge"

# Variables the deployment sets that are not textbridge settings, and who reads each.
FOREIGN_VARIABLES = {
    "FORWARDED_ALLOW_IPS": "uvicorn: the proxies whose X-Forwarded-* headers are trusted",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_client: metrics of several processes",
    "PYTHONUNBUFFERED": "Python: logs leave at once",
    "PATH": "the shell",
    "UV_COMPILE_BYTECODE": "uv, in the image's build stage",
    "UV_LINK_MODE": "uv, in the image's build stage",
    "UV_PYTHON_DOWNLOADS": "uv, in the image's build stage",
    "POSTGRES_USER": "the postgres image",
    "POSTGRES_DB": "the postgres image",
    "POSTGRES_PASSWORD": "the postgres image, and compose's database URL",
    "DOMAIN": "Caddy's site address, and compose's TEXTBRIDGE_PUBLIC_URL",
    "ACME_EMAIL": "Caddy: the account Let's Encrypt writes to",
}


def setting_names() -> set[str]:
    """Every environment variable our settings read (`config.py`)."""
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str) and c.isupper())
    return names


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def textbridge_services() -> dict[str, dict[str, Any]]:
    """The compose services that run our image (those built from the Dockerfile)."""
    return {name: s for name, s in compose()["services"].items() if "build" in s}


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def env_example() -> dict[str, str]:
    """deploy/.env.example's variables, the commented-out ones included (they are documentation
    a reader will uncomment)."""
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:?message}` and `${NAME:-default}`, as compose resolves them."""

    def one(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise KeyError(f"{name} is required: {rest}")
        return rest if operator == ":-" else ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:\?|:-)([^}]*))?\}", one, value)


def compose_references() -> set[str]:
    """Every `${NAME}` compose.yaml takes from .env."""
    return set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))


@dataclass(frozen=True)
class Unit:
    path: Path
    sections: dict[str, list[tuple[str, str]]]

    def values(self, key: str) -> list[str]:
        return [value for pairs in self.sections.values() for k, value in pairs if k == key]

    def commands(self) -> Iterator[list[str]]:
        """Each `ExecStart=` as the arguments after our binary, an instance `%i` made `8001`."""
        for line in self.values("ExecStart"):
            words = shlex.split(line.lstrip("-@+!:").replace("%i", "8001"))
            assert words[0] == BINARY, f"{self.path.name}: runs {words[0]}, not {BINARY}"
            yield words[1:]


def units() -> list[Unit]:
    return [read_unit(path) for path in sorted(UNITS.glob("*.service"))]


def read_unit(path: Path) -> Unit:
    """A systemd unit file's sections and their `Key=Value` lines, in order (systemd allows a
    key more than once, so this is not configparser's model)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return Unit(path, sections)


def unit_environment(unit: Unit) -> dict[str, str]:
    pairs = (
        word.split("=", 1) for line in unit.values("Environment") for word in shlex.split(line)
    )
    return {key: value for key, value in pairs}


def cli_problem(args: list[str]) -> str | None:
    """Why `textbridge ARGS` would not parse, or None: click's own parser reads the arguments
    (options, their values, positional arguments) without running the command."""
    command = typer.main.get_command(app)
    rest = list(args)
    while isinstance(command, TyperGroup):
        if not rest:
            return f"`textbridge {' '.join(args)}` names no command"
        name = rest.pop(0)
        found = command.commands.get(name)
        if found is None:
            return f"`textbridge {' '.join(args)}`: no command {name!r}"
        command = found
    try:
        command.make_context(f"textbridge {command.name}", rest)
    except TyperException as exc:  # click's errors (Typer carries its own click)
        return f"`textbridge {' '.join(args)}`: {exc}"
    return None


def dockerfile_instructions(name: str) -> list[str]:
    """The Dockerfile's instructions `name`, each with its continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [
        line.removeprefix(f"{name} ") for line in text.splitlines() if line.startswith(f"{name} ")
    ]


def dockerfile_instruction(name: str) -> str:
    """The Dockerfile's one instruction `name`."""
    found = dockerfile_instructions(name)
    assert len(found) == 1, f"the Dockerfile has {len(found)} {name} instructions"
    return found[0]
