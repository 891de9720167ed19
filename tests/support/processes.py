"""textbridge commands as real processes (`serve`, `simulator`), for tests that kill them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from .live import wait_until

TEXTBRIDGE = [sys.executable, "-m", "textbridge"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    """The test's environment without any textbridge or provider setting, plus `extra`."""
    prefixes = ("TEXTBRIDGE_", "PLIVO_", "VONAGE_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**keep, "NO_COLOR": "1", "COLUMNS": "200", **extra}


class Command:
    """One `textbridge ...` process, its output appended to `log`."""

    def __init__(self, args: list[str], cwd: Path, log: Path, **env: str) -> None:
        self.args, self.cwd, self.log, self.env = args, cwd, log, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str, timeout: float = 60) -> None:
        self.start_until(lambda: answers(ready_url), timeout)

    def start_logged(self, line: str, timeout: float = 60) -> None:
        """Start, ready once `line` appears in the log after this start (a process without
        HTTP, such as `worker`)."""
        self.start_until(self.logs(line), timeout)

    def start_until(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        self.spawn()
        self.wait_ready(ready, timeout)

    def logs(self, line: str) -> Callable[[], bool]:
        """A readiness probe: `line` appears in the log after what is there now."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        return lambda: line.encode() in self.log.read_bytes()[offset:]

    def spawn(self) -> None:
        """Start without waiting (several processes start faster side by side)."""
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [*TEXTBRIDGE, *self.args],
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment(**self.env),
            )

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        process = self.process
        assert process is not None
        wait_until(lambda: ready() or process.poll() is not None, timeout=timeout)
        assert process.poll() is None, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
