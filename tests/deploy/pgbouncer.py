"""A PgBouncer of the test's own in front of the test PostgreSQL, in the pool mode asked for
(Debian's `pgbouncer` package; `.ci/run` installs it). As root it runs as `postgres`: PgBouncer
refuses to run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from ..support.ci import skip_or_fail
from ..support.database import POSTGRES_URL
from ..support.live import wait_until
from ..support.processes import free_port


def _binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        skip_or_fail("pgbouncer is not installed (Debian's pgbouncer package)")
    return found


def _config(folder: Path, port: int, pool_mode: str) -> str:
    server = make_url(POSTGRES_URL)
    return f"""[databases]
* = host={server.host} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = {pool_mode}
default_pool_size = 4
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def pgbouncer(pool_mode: str) -> Iterator[str]:
    """The URL of the test PostgreSQL through a new PgBouncer in `pool_mode`."""
    binary = _binary()
    folder = Path(tempfile.mkdtemp(prefix="tb-pgbouncer-"))  # open to `postgres`, unlike tmp_path
    port = free_port()
    user = make_url(POSTGRES_URL).username or "postgres"
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(_config(folder, port, pool_mode))
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(port) or process.poll() is not None, timeout=15)
        assert process.poll() is None, (folder / "pgbouncer.log").read_text()
        url = make_url(POSTGRES_URL).set(host="127.0.0.1", port=port)
        yield url.render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
