"""Signing in: a username and password, audited with the client's address; the tenth failed
attempt in a minute (per name, per address) gets 429 with `Retry-After`, counted from the
audit log so that every process shares it; the sandbox's one-time sign-in link."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from textbridge.db.base import utcnow
from textbridge.models import AuditEntry

from ..support.textbridge import API_KEY, Textbridge, csrf_of

ADMIN = {"Authorization": f"Bearer {API_KEY}"}


def _browser(textbridge: Textbridge, address: str = "127.0.0.1") -> httpx.Client:
    """A browser at `address` (a loopback address of its own: the server sees it as such)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=textbridge.url, transport=transport, timeout=30)


def _attempt(browser: httpx.Client, username: str, password: str) -> httpx.Response:
    token = csrf_of(browser.get("/login").text)
    form = {"username": username, "password": password, "csrf_token": token}
    return browser.post("/login", data=form)


def _audit(textbridge: Textbridge, **filters: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = textbridge.api.get("/api/v1/audit", params=filters).json()
    return found


def test_a_login_and_a_failed_one_are_audited_with_the_address(textbridge: Textbridge) -> None:
    password = textbridge.add_user("ada", "agent")
    with _browser(textbridge) as browser:
        assert _attempt(browser, "ada", "wrong password!").status_code == 401
        assert _attempt(browser, "nobody", "wrong password!").status_code == 401
        signed_in = _attempt(browser, "ADA ", password)  # names are trimmed, case-folded
        assert signed_in.status_code == 303
        assert browser.get("/").status_code == 200
    entries = _audit(textbridge, action="login.")
    assert [(e["actor"], e["action"], e["target"], e["origin"]) for e in entries] == [
        ("user:ada", "login.succeeded", "user:ada", "127.0.0.1"),
        ("anonymous", "login.failed", "user:nobody", "127.0.0.1"),
        ("anonymous", "login.failed", "user:ada", "127.0.0.1"),
    ]
    assert password not in str(entries)
    assert "wrong password" not in str(entries)


def test_the_tenth_failed_login_in_a_minute_gets_429(textbridge: Textbridge) -> None:
    password = textbridge.add_user("ada", "agent")
    textbridge.add_user("bob", "agent")
    with _browser(textbridge) as browser, _browser(textbridge, "127.0.0.2") as elsewhere:
        for _ in range(9):
            assert _attempt(browser, "ada", "guess guess guess").status_code == 401
        tenth = _attempt(browser, "ada", password)  # even the right one is not checked now
        assert tenth.status_code == 429
        assert 1 <= int(tenth.headers["Retry-After"]) <= 60
        assert "Too many failed sign-ins" in tenth.text
        # Per name: from another address too. Per address: another name too.
        assert _attempt(elsewhere, "ada", password).status_code == 429
        assert _attempt(browser, "bob", "any password 123").status_code == 429
        assert _attempt(elsewhere, "bob", "guess guess guess").status_code == 401
    assert len(_audit(textbridge, action="login.throttled")) == 3


def test_failures_recorded_by_another_process_count(textbridge: Textbridge) -> None:
    """The count is the audit log's: failures another `serve` recorded weigh the same."""
    password = textbridge.add_user("ada", "agent")
    failure = {"actor": "anonymous", "action": "login.failed", "target": "user:ada"}
    for _ in range(9):
        textbridge.database.run(
            insert(AuditEntry).values(at=utcnow(), origin="10.1.2.3", **failure)
        )
    with _browser(textbridge) as browser:
        assert _attempt(browser, "ada", password).status_code == 429


def test_a_disabled_user_cannot_sign_in(textbridge: Textbridge) -> None:
    password = textbridge.add_user("ada", "agent")
    textbridge.database.rows("UPDATE users SET disabled_at = CURRENT_TIMESTAMP")
    with _browser(textbridge) as browser:
        assert _attempt(browser, "ada", password).status_code == 401


def test_the_sandbox_sign_in_link_works_once(textbridge: Textbridge) -> None:
    link = textbridge.runtime.sign_in_link()
    with _browser(textbridge) as browser:
        signed_in = browser.get(link)
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get("/")
        assert page.status_code == 200
        assert 'data-testid="audit-link"' in page.text
    with _browser(textbridge) as again:
        assert again.get(link).status_code == 401
        assert again.get("/").headers["location"] == "/login"
    (entry,) = _audit(textbridge, action="login.succeeded")
    assert (entry["target"], entry["detail"]) == ("user:admin", {"via": "sign-in link"})


@pytest.mark.parametrize("origin", ["https://evil.example"])
def test_a_sign_in_from_another_site_is_refused(textbridge: Textbridge, origin: str) -> None:
    password = textbridge.add_user("ada", "agent")
    with _browser(textbridge) as browser:
        token = csrf_of(browser.get("/login").text)
        form = {"username": "ada", "password": password, "csrf_token": token}
        assert browser.post("/login", data=form, headers={"origin": origin}).status_code == 403
