"""Access that ends: signing out ends the inbox session on the server (a kept cookie no longer
works), revoking an API key ends its sessions, and an open event stream ends with its key or
its session. Over HTTP, on both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from ..support.textbridge import API_KEY, Textbridge

STREAM_END_TIMEOUT = 30.0


def _sign_in(textbridge: Textbridge) -> httpx.Cookies:
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        response = client.post("/login", data={"api_key": API_KEY})
        assert response.status_code == 303, response.text
        return client.cookies


def _client(textbridge: Textbridge, cookies: httpx.Cookies) -> httpx.Client:
    headers = {"origin": textbridge.url}
    return httpx.Client(base_url=textbridge.url, cookies=cookies, headers=headers, timeout=10)


def _revoke_all_keys(textbridge: Textbridge) -> None:
    textbridge.database.rows("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP")


def test_sign_out_ends_the_session_on_the_server(textbridge: Textbridge) -> None:
    cookies = _sign_in(textbridge)
    with _client(textbridge, cookies) as kept:
        assert kept.get("/api/v1/conversations").status_code == 200
        assert kept.get("/").status_code == 200
        with _client(textbridge, cookies) as signing_out:
            assert signing_out.post("/logout").status_code == 303
        # The same cookie, kept by someone after sign-out, opens nothing.
        assert kept.get("/api/v1/conversations").status_code == 401
        assert kept.get("/").headers.get("location") == "/login"
    assert textbridge.database.scalar("SELECT count(*) FROM web_sessions") == 0


def test_revoking_the_key_ends_its_sessions(textbridge: Textbridge) -> None:
    cookies = _sign_in(textbridge)
    with _client(textbridge, cookies) as inbox:
        assert inbox.get("/api/v1/conversations").status_code == 200
        _revoke_all_keys(textbridge)
        assert inbox.get("/api/v1/conversations").status_code == 401
        assert inbox.get("/").headers.get("location") == "/login"


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
    client = _stream_client(textbridge, headers={"Authorization": f"Bearer {API_KEY}"})
    with _open_stream(client) as ended:
        assert not ended.wait(1), "the stream ended on its own"
        _revoke_all_keys(textbridge)
        assert ended.wait(STREAM_END_TIMEOUT), "the stream outlived its revoked key"


@pytest.mark.parametrize("how", ["sign-out", "revocation"])
def test_the_inbox_stream_ends_with_its_session(textbridge: Textbridge, how: str) -> None:
    cookies = _sign_in(textbridge)
    client = _stream_client(textbridge, cookies=cookies)
    with _open_stream(client) as ended:
        if how == "sign-out":
            with _client(textbridge, cookies) as signing_out:
                assert signing_out.post("/logout").status_code == 303
        else:
            _revoke_all_keys(textbridge)
        assert ended.wait(STREAM_END_TIMEOUT), f"the stream outlived the {how}"
