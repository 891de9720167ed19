"""A real textbridge `serve` (app, dispatcher, simulator) over HTTP, for end-to-end tests."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update

from textbridge.app import create_app
from textbridge.auth.passwords import hash_password
from textbridge.config import Settings, load_settings
from textbridge.db.base import utcnow
from textbridge.media.downloader import MediaDownloader
from textbridge.models import Conversation, User
from textbridge.runtime import Runtime, build_runtime

from .database import Database
from .live import LiveServer, OnlyTo, wait_until

API_KEY = "tb_test_key_0123456789abcdefghijklmnop"
PASSWORD = "a test password 0123"
SANDBOX_NUMBER = "+14155550100"
CONTACT = "+14155550199"


@dataclass
class Textbridge:
    server: LiveServer
    settings: Settings
    runtime: Runtime
    database: Database
    api: httpx.Client
    simulator: httpx.Client
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def send(self, to: str = CONTACT, text: str = "hello", **extra: Any) -> dict[str, Any]:
        response = self.api.post("/api/v1/messages", json={"to": to, "text": text, **extra})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def message(self, message_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/messages/{message_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_for_status(
        self, message_id: str, *statuses: str, timeout: float = 10
    ) -> dict[str, Any]:
        """Wait until the message is in one of `statuses` (give every status a later callback
        may move it on to: a poll can miss a short-lived one). "read" counts as "delivered": the
        simulator reports a WhatsApp message read right after delivered; the poll can miss that."""
        wanted = set(statuses) | ({"read"} if "delivered" in statuses else set())
        return wait_until(
            lambda: (m := self.message(message_id))["status"] in wanted and m, timeout=timeout
        )

    def age_conversation(self, conversation_id: str, hours: float) -> None:
        """Pretend the contact last wrote `hours` ago (the WhatsApp window is 24 h)."""
        moment = datetime.now(UTC) - timedelta(hours=hours)
        self.database.run(
            update(Conversation)
            .where(Conversation.id == uuid.UUID(conversation_id))
            .values(last_inbound_at=moment)
        )

    def add_user(self, username: str, role: str, password: str = PASSWORD) -> str:
        """A user, straight into the database (as `textbridge users create` would make it);
        one that exists already is left as it is."""
        if self.database.scalar("SELECT count(*) FROM users WHERE username = :u", u=username):
            return password
        self.database.run(
            insert(User).values(
                id=uuid.uuid4(),
                username=username,
                password_hash=hash_password(password),
                role=role,
                created_at=utcnow(),
            )
        )
        return password

    @contextmanager
    def sign_in(self, username: str = "admin", role: str = "admin") -> Iterator[httpx.Client]:
        """A client signed in to the inbox as a user with `role` (made if missing), as a
        browser would be: its session cookie, our origin, the session's CSRF token."""
        password = self.add_user(username, role)
        with httpx.Client(base_url=self.url, headers={"origin": self.url}, timeout=10) as client:
            page = client.get("/login")
            form = {"username": username, "password": password, "csrf_token": csrf_of(page.text)}
            signed_in = client.post("/login", data=form)
            assert signed_in.status_code == 303, signed_in.text
            client.headers["x-csrf-token"] = csrf_of(client.get("/").text)
            yield client

    def inbound(self, text: str, sender: str = CONTACT, to: str = SANDBOX_NUMBER) -> str:
        response = self.simulator.post(
            "/control/plivo/inbound", json={"from": sender, "to": to, "text": text}
        )
        assert response.status_code == 200, response.text
        assert response.json()["status_code"] == 200, response.text
        return str(response.json()["message_uuid"])


def csrf_of(page: str) -> str:
    """The CSRF token a page carries (a form's hidden field, or the inbox's `data-csrf`)."""
    found = re.search(r'(?:name="csrf_token" value|data-csrf)="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def settings_for(database_url: str, public_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "public_url": public_url,
        "api_key": API_KEY,
        "secret_key": "test-session-secret-0123456789abcdef",
        **overrides,
    }
    return load_settings(**values)


@contextmanager
def running_textbridge(
    database: Database,
    folder: Path,
    downloader: MediaDownloader | None = None,
    workers: bool = True,
    **overrides: Any,
) -> Iterator[Textbridge]:
    """`workers=False`: only the HTTP role (`serve --no-workers`), for a test whose database
    must not change under it (no dispatcher, applier, purgers or count compactor)."""
    server = LiveServer()
    settings = settings_for(database.fresh_url(folder), server.url, **overrides)
    network = OnlyTo(server.url)  # the in-process simulator, nothing else
    runtime = build_runtime(settings, network, downloader)
    runtime.workers_role = workers
    app = create_app(settings, runtime)
    server.app = app
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with (
        server,
        httpx.Client(base_url=server.url, headers=headers, timeout=10) as api,
        httpx.Client(base_url=f"{server.url}/simulator", timeout=10) as simulator,
    ):
        yield Textbridge(server, settings, app.state.runtime, database, api, simulator)
    assert not network.refused, f"unexpected outbound requests: {network.refused}"


@contextmanager
def event_stream(textbridge: Textbridge) -> Iterator[queue.Queue[dict[str, Any]]]:
    """Collect `/api/v1/events` in a thread; yields a queue of {"event", "data"} dicts."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    ready = threading.Event()
    client = httpx.Client(
        base_url=textbridge.url, headers=textbridge.api.headers, timeout=httpx.Timeout(5, read=None)
    )

    streams: list[httpx.Response] = []

    def listen() -> None:
        event = ""
        try:
            with client.stream("GET", "/api/v1/events") as response:
                streams.append(response)
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and event == "ready":
                        ready.set()
                    elif line.startswith("data:"):
                        received.put({"event": event, "data": json.loads(line.split(":", 1)[1])})
        except httpx.HTTPError:
            return  # closed by the test

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(5), "the event stream did not open"
    try:
        yield received
    finally:
        # Closing the client does not wake a thread blocked reading the socket; shutting the
        # socket down does.
        network = streams[0].extensions["network_stream"]
        network.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        thread.join(5)
        assert not thread.is_alive(), "the event stream reader did not stop"
        client.close()
