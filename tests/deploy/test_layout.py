"""The deployment files against the code they run: every `textbridge ...` command and option
that deploy/compose.yaml, the Dockerfile and deploy/systemd use parses in our CLI, every
variable they set is one of our settings (or named in `FOREIGN_VARIABLES` with its reader),
and the health check asks a route the app serves. No image registry or docker daemon is
reachable from CI, so these checks, `systemd-analyze verify` and test_compose_commands.py
(which runs the same commands on PostgreSQL) stand in for `docker compose up`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from textbridge.app import create_app
from textbridge.config import load_settings

from ..support.ci import skip_or_fail
from .layout import (
    BINARY,
    ENV_EXAMPLE,
    FOREIGN_VARIABLES,
    ROOT,
    UNITS,
    cli_problem,
    compose,
    compose_references,
    dockerfile_instruction,
    dockerfile_instructions,
    env_example,
    interpolate,
    service_environment,
    setting_names,
    textbridge_services,
    unit_environment,
    units,
)


def _unknown(names: set[str]) -> set[str]:
    return names - setting_names() - set(FOREIGN_VARIABLES)


def test_compose_runs_serve_worker_and_migrations_from_our_image() -> None:
    services = textbridge_services()
    commands = {name: service["command"] for name, service in services.items()}
    assert commands == {
        "migrate": ["db", "upgrade"],
        "serve": ["serve", "--no-workers"],
        "worker": ["worker"],
    }
    assert services["serve"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("serve", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert {"postgres", "caddy"} <= set(compose()["services"])


def test_every_command_the_deployment_runs_parses_in_our_cli() -> None:
    unit_commands = [args for unit in units() for args in unit.commands()]
    docker_entrypoint = json.loads(dockerfile_instruction("ENTRYPOINT"))
    docker_default = json.loads(dockerfile_instruction("CMD"))
    assert docker_entrypoint == ["textbridge"]
    runs = [s["command"] for s in textbridge_services().values()] + unit_commands
    runs.append(docker_default)
    assert [problem for args in runs if (problem := cli_problem(args))] == []


def test_the_cli_check_catches_a_wrong_command_or_option() -> None:
    assert cli_problem(["serve", "--no-worker"]) is not None
    assert cli_problem(["serve", "--port", "not-a-port"]) is not None
    assert cli_problem(["db", "migrate"]) is not None
    assert cli_problem(["wroker"]) is not None
    assert cli_problem(["db", "upgrade"]) is None


def test_the_units_run_what_compose_runs() -> None:
    """tests/deploy/test_compose_commands.py runs compose's commands; the units' are the same
    ones (with the unit's own bind address and port)."""
    from_units = {" ".join(a for a in args if a not in {"--host", "127.0.0.1", "--port", "8001"})
                  for unit in units() for args in unit.commands()}  # fmt: skip
    from_compose = {" ".join(s["command"]) for s in textbridge_services().values()}
    assert from_units == from_compose


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    compose_variables = {
        key for service in compose()["services"].values() for key in service_environment(service)
    }
    unit_variables = {key for unit in units() for key in unit_environment(unit)}
    dockerfile_variables = {
        word.split("=", 1)[0]
        for line in dockerfile_instructions("ENV")
        for word in line.split()
        if "=" in word
    }
    example_variables = set(env_example())
    everything = compose_variables | unit_variables | dockerfile_variables | example_variables
    assert "TEXTBRIDGE_DATABASE_URL" in everything  # the reading above found them
    assert _unknown(everything) == set()


def test_the_setting_check_catches_a_misspelt_variable() -> None:
    assert _unknown({"TEXTBRIDGE_PUBLIC_ULR", "TEXTBRIDGE_PUBLIC_URL"}) == {"TEXTBRIDGE_PUBLIC_ULR"}


def test_compose_takes_from_env_only_what_env_example_names() -> None:
    assert compose_references() - set(env_example()) == set()


def test_compose_environment_is_accepted_by_our_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose gives a container, with .env.example filled in as a reader would, makes
    valid production settings."""
    filled = {**env_example(), "PLIVO_AUTH_ID": "MAEXAMPLE0123456789X", "PLIVO_AUTH_TOKEN": "x"}
    for service in textbridge_services().values():
        environment = {k: interpolate(v, filled) for k, v in service_environment(service).items()}
        settings = load_settings(
            **{**{k: v for k, v in filled.items() if k.startswith("PLIVO_")}, **environment}
        )
        assert settings.env == "production"
        assert settings.database_url.startswith("postgresql+asyncpg://textbridge:")
        assert settings.public_url == f"https://{filled['DOMAIN']}"


def test_the_health_check_asks_a_route_the_app_serves() -> None:
    healthcheck = dockerfile_instruction("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "/healthz" in create_app(load_settings()).openapi()["paths"]


def test_the_image_has_no_secret_and_runs_as_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER textbridge\n" in dockerfile
    secrets = {"TOKEN", "SECRET", "PASSWORD", "PRIVATE_KEY", "API_KEY"}
    words = [word for line in dockerfile_instructions("ENV") for word in line.split()]
    assert [word for word in words if any(s in word for s in secrets)] == []
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored  # everything is left out of the build context unless named
    assert [line for line in ignored if line.startswith("!")] == [
        "!pyproject.toml", "!uv.lock", "!README.md", "!src/",
    ]  # fmt: skip


def test_env_example_sets_no_secret() -> None:
    """Its secrets are commented out (an empty `PLIVO_AUTH_ID=` would count as set), and the
    only value it gives a password is one that says to change it."""
    active = [line for line in ENV_EXAMPLE.read_text().splitlines() if line[:1].isalpha()]
    secret_words = ("TOKEN", "SECRET", "KEY", "PASSWORD")
    secrets = [line for line in active if any(word in line.split("=")[0] for word in secret_words)]
    assert secrets == ["POSTGRES_PASSWORD=change-me-openssl-rand-hex-24"]


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` on each unit, with our installed binary in place of
    /opt/textbridge's and the instance units made from the templates."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        skip_or_fail("systemd-analyze is not installed (Debian's systemd package)")
    textbridge = str(Path(sys.executable).with_name("textbridge"))
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(BINARY, textbridge)
        text = text.replace("User=textbridge", "User=root").replace(
            "Group=textbridge", "Group=root"
        )
        (tmp_path / unit.name.replace("@.", "@8001.")).write_text(text)
    checked = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (checked.returncode, checked.stderr) == (0, "")
    assert ENV_EXAMPLE.exists()


def test_caddy_reads_the_caddyfile_and_proxies_to_the_serve_replicas() -> None:
    """`caddy adapt` parses deploy/Caddyfile with compose's environment for Caddy; its upstreams
    are the `serve` service's replicas on the port compose gives `serve`."""
    caddy = shutil.which("caddy")
    if caddy is None:
        skip_or_fail("caddy is not installed (Debian's caddy package)")
    services = compose()["services"]
    caddy_environment = {
        k: interpolate(v, env_example()) for k, v in service_environment(services["caddy"]).items()
    }
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert set(re.findall(r"\{\$([A-Z_]+)", caddyfile)) <= set(caddy_environment)
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
        env={"PATH": "/usr/bin:/bin", **caddy_environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert adapted.returncode == 0, adapted.stderr
    config = adapted.stdout
    serve_port = service_environment(services["serve"])["TEXTBRIDGE_PORT"]
    assert f'"host":["{caddy_environment["DOMAIN"]}"]' in config
    assert f'"dynamic_upstreams":{{"name":"serve","port":"{serve_port}"' in config
