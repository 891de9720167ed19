"""A real browser (Debian's Chromium, driven by Playwright) for the inbox tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from ..support.ci import skip_or_fail
from ..support.database import Database
from .helpers import CHROMIUM, LIVE_TIMEOUT_MS

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(database: Database) -> Iterator[Browser]:
    """One Chromium per backend and module. It depends on `database` so that it is closed
    before the next backend is set up: Playwright's sync API holds an event loop on this
    thread, and the migrations run `asyncio.run` here."""
    if not CHROMIUM.exists():
        skip_or_fail("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(LIVE_TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: _console_problem(message, problems))
    try:
        yield page
    finally:
        context.close()
    assert problems == [], problems  # no script errors, no CSP violations


def _console_problem(message: ConsoleMessage, problems: list[str]) -> None:
    # A 4xx answer the page handles (the invalid number, the wrong key) is logged by Chromium
    # as "Failed to load resource", and so is a media thumbnail whose host does not resolve
    # (the sandbox's example hosts); anything else at error level is a real problem.
    if message.type == "error" and "Failed to load resource" not in message.text:
        problems.append(f"console: {message.text}")
