"""Several textbridge processes on one PostgreSQL database, as deployed: `serve` (with or
without workers), `textbridge worker`, and the provider simulator in its own process (Plivo),
each a real process the test can SIGKILL. Plus a reader of `/api/v1/events` that keeps ids."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from textbridge.cli.worker import READY_LINE

from ..support.live import scaled
from ..support.processes import Command, answers, free_port
from ..support.textbridge import API_KEY, SANDBOX_NUMBER

AUTH_ID = "MAWORKERSTEST0123456"  # Plivo's shape: MA + 18 characters
AUTH_TOKEN = "workers-test-token-0123456789"
START_UP = 60  # a loaded machine may take this long to start a process


@dataclass
class Serve:
    command: Command
    url: str

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@dataclass
class Deployment:
    folder: Path
    database_url: str
    lease_seconds: int = 15
    simulator_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Settings every process gets on top of `env()` (e.g. media downloads on)."""
    commands: list[Command] = field(default_factory=list)
    _pending: list[tuple[Command, Callable[[], bool]]] = field(default_factory=list)

    def start_simulator(self, wait: bool = True, message_url: str | None = None) -> None:
        """The fake Plivo alone (`control()` drives it); its inbound messages are posted to
        `message_url`."""
        port = free_port()
        args = ["simulator", "--port", str(port), "--auth-id", AUTH_ID, "--auth-token", AUTH_TOKEN]
        if message_url is not None:
            args += ["--message-url", message_url]
        command = self._command(args, "simulator")
        self.simulator_url = f"http://127.0.0.1:{port}"
        self._start(command, lambda: answers(f"{self.simulator_url}/control/faults"), wait)

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.simulator_url}/control", timeout=60)

    def serve(self, *flags: str, wait: bool = True, port: int | None = None) -> Serve:
        port = port or free_port()
        url = f"http://127.0.0.1:{port}"
        command = self._command(
            ["serve", "--port", str(port), *flags], f"serve-{port}", TEXTBRIDGE_PUBLIC_URL=url
        )
        self._start(command, lambda: answers(f"{url}/readyz"), wait)
        return Serve(command, url)

    def worker(
        self, name: str, public_url: str, wait: bool = True, database_url: str | None = None
    ) -> Command:
        """A `textbridge worker`; the status callbacks of its sends go to `public_url`. It
        reaches the database at `database_url` when given (a proxy), else as the others do."""
        env = {"TEXTBRIDGE_PUBLIC_URL": public_url}
        if database_url is not None:
            env["TEXTBRIDGE_DATABASE_URL"] = database_url
        command = self._command(["worker"], name, **env)
        self._start(command, command.logs(READY_LINE), wait)
        return command

    def wait_ready(self) -> None:
        """Wait for every process started with `wait=False`."""
        pending, self._pending = self._pending, []
        for command, ready in pending:
            command.wait_ready(ready, START_UP)

    def _start(self, command: Command, ready: Callable[[], bool], wait: bool) -> None:
        command.spawn()
        self._pending.append((command, ready))
        if wait:
            self.wait_ready()

    def _command(self, args: list[str], name: str, **env: str) -> Command:
        command = Command(args, self.folder, self.folder / f"{name}.log", **{**self.env(), **env})
        self.commands.append(command)
        return command

    def env(self) -> dict[str, str]:
        return {
            "TEXTBRIDGE_ENV": "test",
            "TEXTBRIDGE_DATABASE_URL": self.database_url,
            "TEXTBRIDGE_API_KEY": API_KEY,
            "TEXTBRIDGE_DISPATCH_LEASE_SECONDS": str(self.lease_seconds),
            "TEXTBRIDGE_PLIVO_API_BASE_URL": f"{self.simulator_url}/v1/Account",
            "PLIVO_AUTH_ID": AUTH_ID,
            "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
            "PLIVO_SMS_FROM_NUMBER": SANDBOX_NUMBER,
            # These tests are about processes, not rates: a long code's 1/s would make the
            # crash test's 10 000 messages take hours (tests/dispatch/test_governor* cover it).
            "TEXTBRIDGE_GOVERNOR": "false",
            **self.extra_env,
        }

    def stop(self) -> None:
        for command in self.commands:
            command.kill()


@contextmanager
def deployment(
    folder: Path, database_url: str, lease_seconds: int = 15, **extra_env: str
) -> Iterator[Deployment]:
    running = Deployment(folder, database_url, lease_seconds, extra_env=extra_env)
    try:
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class StreamEvent:
    id: int
    event: str
    data: dict[str, Any]


@contextmanager
def event_stream(serve: Serve) -> Iterator[queue.Queue[StreamEvent]]:
    """Read `/api/v1/events` of `serve` in a thread; yields a queue of events with their ids."""
    received: queue.Queue[StreamEvent] = queue.Queue()
    ready = threading.Event()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    client = httpx.Client(base_url=serve.url, headers=headers, timeout=httpx.Timeout(5, read=None))
    streams: list[httpx.Response] = []

    def listen() -> None:
        fields: dict[str, str] = {}
        try:
            with client.stream("GET", "/api/v1/events") as response:
                streams.append(response)
                for line in response.iter_lines():
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = value.strip()
                        continue
                    if fields.get("event") == "ready":
                        ready.set()
                    elif "id" in fields and "data" in fields:
                        data = json.loads(fields["data"])
                        received.put(StreamEvent(int(fields["id"]), fields["event"], data))
                    fields = {}
        except httpx.HTTPError:
            return  # closed by the test

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(scaled(5)), "the event stream did not open"
    try:
        yield received
    finally:
        network = streams[0].extensions["network_stream"]
        network.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        thread.join(5)
        client.close()


def drain(events: queue.Queue[StreamEvent]) -> list[StreamEvent]:
    taken = []
    while True:
        try:
            taken.append(events.get_nowait())
        except queue.Empty:
            return taken
