"""What the inbox tests share: signing in, finding things on the page, recording statuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from ..support.live import scaled, wait_until
from ..support.textbridge import Textbridge

CHROMIUM = Path("/usr/bin/chromium")
LIVE_TIMEOUT_MS = int(scaled(10_000))


def pretty(number: str) -> str:
    """How the inbox shows a North American number: +14155550100 -> +1 415 555 0100."""
    match = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", number)
    assert match, number
    return "+1 {} {} {}".format(*match.groups())


def sign_in(
    page: Page, textbridge: Textbridge, username: str = "admin", role: str = "admin"
) -> None:
    password = textbridge.add_user(username, role)
    page.goto(textbridge.url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(textbridge.url + "/")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def conversation_of(page: Page, phone: str, channel: str | None = None) -> Locator:
    selector = f'[data-testid="conversation"][data-phone="{phone}"]'
    if channel:
        selector += f'[data-channel="{channel}"]'
    return page.locator(selector)


def simulate_inbound(
    page: Page, route: str, sender: str, text: str = "", image: str = "", button: bool = False
) -> None:
    """Fill and send the sandbox form; `route` is the label of the number it goes to."""
    if page.get_by_test_id("simulate-form").is_hidden():
        page.get_by_test_id("simulate-toggle").click()
    page.get_by_test_id("simulate-to").select_option(label=route)
    page.get_by_test_id("simulate-from").fill(sender)
    page.get_by_test_id("simulate-image").fill(image)
    if button:
        page.get_by_test_id("simulate-button").check()
    page.get_by_test_id("simulate-text").fill(text)
    page.get_by_test_id("simulate-send").click()
    expect(page.get_by_test_id("simulate-status")).to_have_text("Delivered to the inbox.")


def record_statuses(page: Page) -> None:
    """Remember every status a chip shows from now on (in `window.__statuses`), so a test can
    tell "delivered, then read" from a chip that jumped straight to read."""
    page.evaluate(
        """() => {
            window.__statuses = [];
            new MutationObserver((records) => {
                for (const record of records) {
                    const chip = record.target;
                    if (chip.dataset && chip.dataset.testid === "message-status") {
                        window.__statuses.push(chip.dataset.status);
                    }
                }
            }).observe(document.getElementById("message-items"), {
                subtree: true, attributes: true, attributeFilter: ["data-status"],
            });
        }"""
    )


def statuses_seen(page: Page) -> list[str]:
    seen: list[str] = page.evaluate("window.__statuses")
    return [status for i, status in enumerate(seen) if i == 0 or seen[i - 1] != status]


def age_last_inbound(textbridge: Textbridge, phone: str, hours: float) -> None:
    """Move the contact's last inbound message `hours` into the past, in the database. SQLite
    keeps naive UTC text, PostgreSQL a timestamptz."""
    at = datetime.now(UTC) - timedelta(hours=hours)
    value: Any = at
    if textbridge.database.backend == "sqlite":
        value = at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    textbridge.database.rows(
        "UPDATE conversations SET last_inbound_at = :at "
        "WHERE contact_id IN (SELECT id FROM contacts WHERE address = :phone)",
        at=value,
        phone=phone,
    )

    def closed() -> bool:
        listed = textbridge.api.get("/api/v1/conversations").json()
        mine = [c for c in listed if c["contact_phone"] == phone]
        return bool(mine) and all(
            c["window_expires_at"] is None
            or datetime.fromisoformat(c["window_expires_at"]) < datetime.now(UTC)
            for c in mine
        )

    wait_until(closed, timeout=2)


PHONE_WIDTH = 375
# What sticks out past a phone's width, for the failure message.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map((e) => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`)
    .slice(0, 10)"""


def assert_fits_a_phone(page: Page) -> None:
    """At a phone's width (375 px) the page scrolls down, never sideways."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, (width, page.evaluate(OVERFLOWING))
