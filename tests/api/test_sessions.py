"""Access that ends: signing out ends the inbox session on the server (a kept cookie no longer
works), disabling a user or an admin's revocation ends their sessions, and an open event
stream ends with its key or its session. Over HTTP, on both databases."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from ..support.textbridge import API_KEY, Textbridge

STREAM_END_TIMEOUT = 30.0
ADMIN = {"Authorization": f"Bearer {API_KEY}"}


def _kept_copy(textbridge: Textbridge, inbox: httpx.Client) -> httpx.Client:
    """The same cookie and token, as someone who copied them would keep them."""
    return httpx.Client(
        base_url=textbridge.url, cookies=inbox.cookies, headers=inbox.headers, timeout=10
    )


def _revoke_all_keys(textbridge: Textbridge) -> None:
    textbridge.database.rows("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP")


def _sign_out(inbox: httpx.Client, token: str) -> None:
    assert inbox.post("/logout", data={"csrf_token": token}).status_code == 303


def test_sign_out_ends_the_session_on_the_server(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "agent") as inbox, _kept_copy(textbridge, inbox) as kept:
        assert kept.get("/api/v1/conversations").status_code == 200
        assert kept.get("/").status_code == 200
        _sign_out(inbox, inbox.headers["x-csrf-token"])
        # The same cookie, kept by someone after sign-out, opens nothing.
        assert kept.get("/api/v1/conversations").status_code == 401
        assert kept.get("/").headers.get("location") == "/login"
    assert textbridge.database.scalar("SELECT count(*) FROM web_sessions") == 0


def test_sign_out_without_the_csrf_token_is_refused(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "agent") as inbox:
        assert inbox.post("/logout").status_code == 403
        assert inbox.post("/logout", data={"csrf_token": "forged"}).status_code == 403
        assert inbox.get("/api/v1/conversations").status_code == 200


def test_disabling_a_user_ends_all_their_sessions(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "agent") as first, textbridge.sign_in("ada", "agent") as second:
        assert first.get("/api/v1/conversations").status_code == 200
        textbridge.database.rows("UPDATE users SET disabled_at = CURRENT_TIMESTAMP")
        for inbox in (first, second):
            assert inbox.get("/api/v1/conversations").status_code == 401
            assert inbox.get("/").headers.get("location") == "/login"


def test_an_admin_revokes_one_session(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "agent") as ada, textbridge.sign_in("bob", "agent") as bob:
        sessions = textbridge.api.get("/api/v1/sessions", headers=ADMIN).json()
        assert sorted(s["username"] for s in sessions) == ["ada", "bob"]
        ada_session = next(s["id"] for s in sessions if s["username"] == "ada")
        revoked = textbridge.api.delete(f"/api/v1/sessions/{ada_session}")
        assert revoked.status_code == 204, revoked.text
        assert ada.get("/api/v1/conversations").status_code == 401
        assert bob.get("/api/v1/conversations").status_code == 200
        assert textbridge.api.delete(f"/api/v1/sessions/{ada_session}").status_code == 404
    audit = textbridge.api.get("/api/v1/audit", params={"action": "session.revoked"}).json()
    assert [(a["actor"], a["target"]) for a in audit] == [("key:tb_test_", "user:ada")]


def test_a_role_change_applies_to_open_sessions(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "admin") as ada:
        assert ada.get("/api/v1/audit").status_code == 200
        textbridge.database.rows("UPDATE users SET role = 'agent'")
        assert ada.get("/api/v1/audit").status_code == 403
        assert ada.get("/api/v1/conversations").status_code == 200


@contextmanager
def _open_stream(client: httpx.Client) -> Iterator[threading.Event]:
    """Read `/api/v1/events` in a thread; yields an event set when the server ends it."""
    ready, ended = threading.Event(), threading.Event()

    def read() -> None:
        try:
            with client.stream("GET", "/api/v1/events") as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("event:") and "ready" in line:
                        ready.set()
        except httpx.HTTPError:
            pass
        ended.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert ready.wait(10), "the event stream did not open"
    try:
        yield ended
    finally:
        client.close()
        thread.join(STREAM_END_TIMEOUT)


def _stream_client(textbridge: Textbridge, **options: object) -> httpx.Client:
    timeout = httpx.Timeout(10, read=None)
    return httpx.Client(base_url=textbridge.url, timeout=timeout, **options)  # type: ignore[arg-type]


def test_a_revoked_key_ends_its_event_stream(textbridge: Textbridge) -> None:
    client = _stream_client(textbridge, headers=ADMIN)
    with _open_stream(client) as ended:
        assert not ended.wait(1), "the stream ended on its own"
        _revoke_all_keys(textbridge)
        assert ended.wait(STREAM_END_TIMEOUT), "the stream outlived its revoked key"


@pytest.mark.parametrize("how", ["sign-out", "disabled"])
def test_the_inbox_stream_ends_with_its_session(textbridge: Textbridge, how: str) -> None:
    with textbridge.sign_in("ada", "agent") as inbox:
        client = _stream_client(textbridge, cookies=inbox.cookies)
        with _open_stream(client) as ended:
            if how == "sign-out":
                _sign_out(inbox, inbox.headers["x-csrf-token"])
            else:
                textbridge.database.rows("UPDATE users SET disabled_at = CURRENT_TIMESTAMP")
            assert ended.wait(STREAM_END_TIMEOUT), f"the stream outlived the {how}"


def test_an_admin_ends_a_session_from_the_sessions_page(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "agent") as ada, textbridge.sign_in("root", "admin") as root:
        assert ada.get("/sessions").status_code == 403
        page = root.get("/sessions")
        assert page.status_code == 200
        found = re.search(r'action="/sessions/([0-9a-f-]{36})/revoke"', page.text)
        assert found, page.text  # only the other session has a button
        revoke = f"/sessions/{found.group(1)}/revoke"
        assert root.post(revoke).status_code == 403  # no CSRF token
        assert ada.get("/api/v1/conversations").status_code == 200
        token = {"csrf_token": root.headers["x-csrf-token"]}
        assert ada.post(revoke, data={"csrf_token": ada.headers["x-csrf-token"]}).status_code == 403
        assert root.post(revoke, data=token).status_code == 303
        assert ada.get("/api/v1/conversations").status_code == 401
        assert root.get("/api/v1/conversations").status_code == 200
