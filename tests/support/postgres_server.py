"""A PostgreSQL server of the test's own: initdb in a fresh folder, its own port, TCP only.

For a test that restarts PostgreSQL: restarting the machine's shared server would cut every
other test's connections (and, on a shared machine, other people's). The binaries are the
machine's own (Debian's `postgresql` package); as root, the server runs as `postgres`, since
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .processes import free_port


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def unavailable() -> str | None:
    """Why no server of our own can be made here, or None."""
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        return "initdb and pg_ctl are not installed (Debian's postgresql package)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to start PostgreSQL as postgres"
    return None


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: as root that is closed to the postgres user.
        self.folder = Path(tempfile.mkdtemp(prefix="tb-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._pg_ctl("start")

    def restart(self) -> None:
        """A fast shutdown (every connection is cut) and a start."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "immediate", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c max_connections=300"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", options, action, *extra,
        )  # fmt: skip

    def _run(self, name: str, *args: str, check: bool = True) -> None:
        command = [_bin(name) or name, *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=check, capture_output=True, timeout=120, cwd=self.folder)
