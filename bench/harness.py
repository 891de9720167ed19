"""What the benchmarks share: free ports, processes started and always stopped, their CPU time,
PostgreSQL databases of their own.

dispatch.py, realtime.py, webhook_ingest.py (and through it api_send.py and apply.py),
campaign_enqueue.py and dashboard_scale.py take their ports, CPU times and database drops
from here; their own ways of starting and waiting for servers are still their own (fleet.py
uses `running` below).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
WORKER_READY_LINE = "textbridge worker: running"  # textbridge.cli.worker.READY_LINE
START_SECONDS = 90.0


def textbridge_binary() -> str:
    found = shutil.which("textbridge", path=str(Path(sys.executable).parent))
    if found is None:
        sys.exit("run `uv sync` first: the textbridge command is missing")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core, /proc/stat, idle and iowait
    excluded): over a run, what all processes together took, exited ones included."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    jiffies = [int(field) for field in fields]
    idle = jiffies[3] + jiffies[4]
    return (sum(jiffies[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _ready(ready: str, log: Path) -> bool:
    """`ready` is a URL that must answer 200, or a line the log must hold."""
    if ready.startswith("http"):
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(ready, timeout=2).status_code == 200
        return False
    return ready in log.read_text(errors="replace")


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path, ready: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process (its own session, output to `log`), wait until `ready` (see `_ready`),
    and always stop it: SIGINT (a graceful shutdown), SIGKILL if it hangs."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _ready(ready, log):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[1:3]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def upgrade(url: str, textbridge: Path | str | None = None) -> None:
    """`textbridge db upgrade` on the database at `url` (with another build's binary if given)."""
    subprocess.run(
        [str(textbridge or textbridge_binary()), "db", "upgrade"],
        check=True,
        capture_output=True,
        env={**os.environ, "TEXTBRIDGE_DATABASE_URL": url},
    )


def fresh_database(admin_url: str, name: str, textbridge: Path | str | None = None) -> str:
    """Drop and create database `name`, migrate it; its plain `postgresql://` URL."""
    asyncio.run(
        _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    )
    url = database_url(admin_url, name)
    upgrade(url, textbridge)
    return url


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def asyncpg_url(url: str) -> str:
    """SQLAlchemy's spelling of a plain PostgreSQL URL."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)
