"""deploy/compose.yaml's commands, run as compose runs them, on PostgreSQL: its one-shot
`migrate` service, then every replica of `serve` and `worker`, each with the environment
compose gives it (deploy/.env.example filled in as an operator would). No docker daemon is
reachable here, so what the network gives a container is replaced by this machine's: the test's
own database, a port per `serve` (each container has its own), 127.0.0.1 instead of 0.0.0.0,
and the provider simulator in its own process in place of Plivo. Then the Dockerfile's health
check answers for each `serve`, a message sent through one replica is sent by a worker and
delivered, and every process stops cleanly on SIGTERM, as `docker compose stop` asks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from textbridge.cli.worker import READY_LINE
from textbridge.db.migrate import alembic_config

from ..support.live import scaled, wait_until
from ..support.processes import TEXTBRIDGE, Command, answers, environment, free_port
from ..support.textbridge import CONTACT, SANDBOX_NUMBER
from .layout import dockerfile_instruction, env_example, interpolate, service_environment
from .layout import textbridge_services as compose_services
from .postgres import empty_postgres_database, query

AUTH_ID = "MADEPLOYTEST01234567"
AUTH_TOKEN = "deploy-test-token-0123456789"
API_KEY = "tb_deploy_test_key_0123456789abcdefghij"
OPERATOR_ENV = {  # what an operator writes into .env (deploy/.env.example's commented lines)
    "TEXTBRIDGE_SECRET_KEY": "deploy-test-session-secret-0123456789abcdef",
    "TEXTBRIDGE_API_KEY": API_KEY,
    "PLIVO_AUTH_ID": AUTH_ID,
    "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
    "PLIVO_SMS_FROM_NUMBER": SANDBOX_NUMBER,
}
START_UP = 60


@dataclass
class Fleet:
    folder: Path
    database_url: str
    simulator_url: str = ""
    public_url: str = ""
    commands: list[Command] = field(default_factory=list)

    def environment(self, service: str, **machine: str) -> dict[str, str]:
        """compose's environment for `service` (interpolated from .env.example), the .env it
        reads (env_file), and what this machine stands in for."""
        compose_env = service_environment(compose_services()[service])
        dotenv = {**env_example(), **OPERATOR_ENV}
        resolved = {key: interpolate(value, dotenv) for key, value in compose_env.items()}
        return {
            **OPERATOR_ENV,
            **resolved,
            "TEXTBRIDGE_DATABASE_URL": self.database_url,
            "TEXTBRIDGE_PUBLIC_URL": self.public_url,
            "TEXTBRIDGE_HOST": "127.0.0.1",
            "TEXTBRIDGE_PLIVO_API_BASE_URL": f"{self.simulator_url}/v1/Account",
            **machine,
        }

    def run_once(self, service: str) -> subprocess.CompletedProcess[str]:
        args = compose_services()[service]["command"]
        return subprocess.run(
            [*TEXTBRIDGE, *args],
            cwd=self.folder,
            env=environment(**self.environment(service)),
            capture_output=True,
            text=True,
            timeout=scaled(60),
        )

    def start(self, service: str, name: str, **machine: str) -> Command:
        args = compose_services()[service]["command"]
        command = Command(args, self.folder, self.folder / f"{name}.log", **machine)
        command.env = self.environment(service, **machine)
        command.spawn()
        self.commands.append(command)
        return command

    def kill_all(self) -> None:
        for command in self.commands:
            command.kill()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with empty_postgres_database() as database_url:
        running = Fleet(tmp_path, database_url)
        try:
            yield running
        finally:
            running.kill_all()


def _spawn_simulator(fleet: Fleet) -> Command:
    port = free_port()
    args = ["simulator", "--port", str(port), "--auth-id", AUTH_ID, "--auth-token", AUTH_TOKEN]
    simulator = Command(args, fleet.folder, fleet.folder / "simulator.log")
    fleet.commands.append(simulator)
    fleet.simulator_url = f"http://127.0.0.1:{port}"
    simulator.spawn()
    return simulator


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _health_check(port: int) -> int:
    """The Dockerfile's HEALTHCHECK command, run against one `serve` (its `python` is ours)."""
    healthcheck = dockerfile_instruction("HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[0] == "python"
    env = environment(TEXTBRIDGE_PORT=str(port))
    return subprocess.run([sys.executable, *command[1:]], env=env, timeout=30).returncode


def _stops_cleanly(command: Command) -> int | None:
    process = command.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    return process.wait(scaled(30))


@pytest.mark.timeout(400)  # seven process start-ups on a loaded machine
def test_compose_commands_run_a_fleet_on_postgresql(fleet: Fleet) -> None:
    simulator = _spawn_simulator(fleet)  # starts while the migrations run
    serve_replicas = compose_services()["serve"]["deploy"]["replicas"]
    worker_replicas = compose_services()["worker"]["deploy"]["replicas"]
    ports = [free_port() for _ in range(serve_replicas)]
    fleet.public_url = f"http://127.0.0.1:{ports[0]}"  # where Caddy would send the callbacks
    migrated = fleet.run_once("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert query(fleet.database_url, "SELECT version_num FROM alembic_version") == [
        (_head_revision(),)
    ]
    simulator.wait_ready(lambda: answers(f"{fleet.simulator_url}/control/faults"), START_UP)
    serves = [fleet.start("serve", f"serve-{p}", TEXTBRIDGE_PORT=str(p)) for p in ports]
    workers = [fleet.start("worker", f"worker-{n}") for n in range(worker_replicas)]
    for port, serve in zip(ports, serves, strict=True):
        serve.wait_ready(lambda port=port: answers(f"http://127.0.0.1:{port}/readyz"), START_UP)
    for worker in workers:
        worker.wait_ready(lambda worker=worker: READY_LINE in worker.log.read_text(), START_UP)

    assert [_health_check(port) for port in ports] == [0] * serve_replicas
    message_id = _send(f"http://127.0.0.1:{ports[-1]}")
    _wait_delivered(fleet.public_url, message_id)

    # uvicorn ends `serve` by raising the SIGTERM again once it has shut down (so docker sees
    # 143); a worker exits 0.
    assert [_stops_cleanly(command) for command in serves] == [-signal.SIGTERM] * serve_replicas
    assert all("Application shutdown complete" in s.log.read_text() for s in serves)
    assert [_stops_cleanly(command) for command in workers] == [0] * worker_replicas


def _send(url: str) -> str:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
        sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": "from compose"})
    assert sent.status_code == 202, sent.text
    return str(sent.json()["id"])


def _wait_delivered(url: str, message_id: str) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as api:

        def status() -> bool:
            return api.get(f"/api/v1/messages/{message_id}").json()["status"] == "delivered"

        wait_until(status, timeout=30, interval=0.2)
