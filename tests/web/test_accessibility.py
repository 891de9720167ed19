"""An automated accessibility audit (axe-core, the engine behind Lighthouse's and Deque's
audits, run in the real Chromium) of every page a person uses: signed out, the inbox with an
open conversation and its panels, the campaigns page, the dashboard, the audit log and the
sessions page. WCAG 2.1 A and AA rules; any violation fails, with its nodes named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from ..analytics.seed import seed_a_fortnight
from ..support.textbridge import CONTACT, Textbridge
from .helpers import conversation_of, sign_in

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(page: Page) -> list[str]:
    results = Axe().run(page, options=WCAG_AA)
    found: list[dict[str, Any]] = results.response["violations"]
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} at "
        + "; ".join(" ".join(node["target"]) for node in rule["nodes"][:5])
        for rule in found
    ]


def test_the_signed_out_pages_pass_the_audit(page: Page, textbridge: Textbridge) -> None:
    page.goto(textbridge.url + "/login")
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    assert violations(page) == []


def test_the_inbox_with_a_conversation_open_passes_the_audit(
    page: Page, textbridge: Textbridge
) -> None:
    textbridge.send(text="Your table is ready")
    textbridge.inbound("On my way")
    sign_in(page, textbridge)
    conversation_of(page, CONTACT).click()
    expect(page.get_by_test_id("thread").get_by_text("On my way")).to_be_visible()
    page.get_by_test_id("composer-text").fill("Caf\u00e9 \u2014 see you \U0001f642")  # UCS-2 marks
    expect(page.get_by_test_id("composer-counter")).to_contain_text("UCS-2")
    page.get_by_test_id("simulate-toggle").click()
    expect(page.get_by_test_id("simulate-form")).to_be_visible()
    page.get_by_test_id("contact-toggle").click()
    expect(page.get_by_test_id("contact-panel")).to_be_visible()
    assert violations(page) == []


def test_every_other_page_passes_the_audit(page: Page, textbridge: Textbridge) -> None:
    seed_a_fortnight(textbridge.database, datetime.now(UTC))
    sign_in(page, textbridge)
    problems: dict[str, list[str]] = {}
    for path in ("/campaigns", "/dashboard", "/audit", "/sessions"):
        page.goto(textbridge.url + path)
        expect(page.locator("main")).to_be_visible()
        problems[path] = violations(page)
    assert problems == {path: [] for path in problems}
