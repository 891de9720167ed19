"""The inbox in a real browser (Debian's Chromium, driven by Playwright), against the real app
and the in-process simulator, the way a new user meets it: sign in, start a conversation, watch
the status go to delivered, get a reply, see other clients' messages arrive, make mistakes.
Writes docs/screenshots/inbox-live.png."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge
from .helpers import conversation_of, pretty

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "inbox-live.png"


def sign_in(page: Page, textbridge: Textbridge) -> None:
    page.goto(textbridge.url + "/")
    expect(page).to_have_url(textbridge.url + "/login")
    expect(page.get_by_test_id("login-sandbox-note")).to_contain_text("textbridge serve")

    password = textbridge.add_user("ada", "agent")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("not her password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("do not match")

    page.get_by_label("Password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(textbridge.url + "/")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def test_a_new_user_runs_a_conversation_live(textbridge: Textbridge, page: Page) -> None:
    sign_in(page, textbridge)
    banner = page.get_by_test_id("sandbox-banner")
    expect(banner).to_contain_text("Sandbox mode")
    expect(banner).to_contain_text("No real messages are sent")
    expect(page.get_by_test_id("list-empty")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # proves later updates come without reload

    # Start a conversation with a mistyped number: a clear error, and the text is kept.
    page.get_by_test_id("new-conversation").click()
    recipient = page.get_by_test_id("recipient")
    expect(recipient).to_be_focused()
    recipient.fill("4155550199")
    composer = page.get_by_test_id("composer-text")
    composer.fill("Hi Ada, your table for two is ready.")
    expect(page.get_by_test_id("composer-counter")).to_contain_text("GSM-7 · 1 segment · 36/160")
    composer.press("Enter")
    error = page.get_by_test_id("recipient-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("international format")
    expect(recipient).to_have_attribute("aria-invalid", "true")
    expect(composer).to_have_value("Hi Ada, your table for two is ready.")
    expect(page.get_by_test_id("message")).to_have_count(0)

    # Fix the number and send: the conversation opens, the status chip goes to delivered live.
    recipient.fill(CONTACT)
    expect(error).to_be_hidden()
    composer.press("Enter")
    expect(page.get_by_test_id("thread-title")).to_have_text(pretty(CONTACT))
    expect(page.get_by_test_id("thread-channel")).to_have_text("SMS")
    expect(page.get_by_test_id("thread-via")).to_have_text(f"via Plivo · {pretty(SANDBOX_NUMBER)}")
    expect(composer).to_have_value("")
    expect(composer).to_be_enabled()
    first = page.get_by_test_id("message").first
    greeting = "Hi Ada, your table for two is ready."
    expect(first.get_by_test_id("message-text")).to_have_text(greeting)
    expect(first).to_have_attribute("data-direction", "outbound")
    chip = first.get_by_test_id("message-status")
    expect(chip).to_have_attribute("data-status", "delivered")
    expect(chip).to_have_text("Delivered")
    expect(chip).to_have_class(re.compile(r"\bchip-delivered\b"))
    conversation = conversation_of(page, CONTACT)
    expect(conversation).to_have_attribute("aria-current", "true")
    expect(conversation.get_by_test_id("conversation-preview")).to_have_text(
        "Hi Ada, your table for two is ready."
    )

    # The contact replies, simulated with the sandbox form: it appears in the same thread.
    page.get_by_test_id("simulate-toggle").click()
    expect(page.get_by_test_id("simulate-from")).to_have_value(CONTACT)
    expect(page.get_by_test_id("simulate-to")).to_have_value(f"plivo/sms/{SANDBOX_NUMBER}")
    page.get_by_test_id("simulate-text").fill("Lovely, we're 5 minutes away!")
    page.get_by_test_id("simulate-send").click()
    reply = page.get_by_test_id("message").filter(has_text="5 minutes away")
    expect(reply).to_have_attribute("data-direction", "inbound")
    expect(page.get_by_test_id("simulate-status")).to_have_text("Delivered to the inbox.")
    expect(page.get_by_test_id("message")).to_have_count(2)
    expect(conversation.get_by_test_id("unread-badge")).to_have_count(0)  # read: it is open

    # Another client sends through the API: the message shows up live, as plain text.
    textbridge.send(text="<b>Booked</b> by the front desk app")
    from_api = page.get_by_test_id("message").filter(has_text="by the front desk app")
    expect(from_api.get_by_test_id("message-text")).to_have_text(
        "<b>Booked</b> by the front desk app"
    )
    expect(page.locator("[data-testid=messages] b")).to_have_count(0)
    expect(from_api.get_by_test_id("message-status")).to_have_attribute("data-status", "delivered")

    # A new contact writes in: a new conversation at the top of the list, with a badge.
    textbridge.inbound("Do you have a table at 8?", sender="+14155550142")
    newcomer = page.get_by_test_id("conversation").first
    expect(newcomer).to_have_attribute("data-phone", "+14155550142")
    expect(newcomer.get_by_test_id("unread-badge")).to_have_text("1")
    expect(page).to_have_title("(1) Inbox · textbridge")

    # Typing in the composer shows the encoding and names what forced UCS-2.
    composer.fill("See you soon ☕")
    expect(page.get_by_test_id("composer-counter")).to_contain_text("UCS-2 · 1 segment · 14/70")
    expect(page.get_by_test_id("ucs2-char")).to_have_text("☕")
    page.get_by_test_id("simulate-toggle").click()  # close it for a calm screenshot
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert page.evaluate("window.__sameDocument") is True

    # Opening the new conversation marks it read; signing out ends the session.
    newcomer.click()
    expect(page.get_by_test_id("thread-title")).to_have_text("+1 415 555 0142")
    expect(newcomer.get_by_test_id("unread-badge")).to_have_count(0)
    expect(page).to_have_title("Inbox · textbridge")
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(textbridge.url + "/login")
    page.goto(textbridge.url + "/")
    expect(page).to_have_url(textbridge.url + "/login")


def test_a_failed_message_shows_why(textbridge: Textbridge, page: Page) -> None:
    textbridge.simulator.put(
        "/control/numbers/+14155550123", json={"outcome": "undelivered", "error_code": "300"}
    ).raise_for_status()
    sign_in(page, textbridge)
    page.get_by_test_id("new-conversation").click()
    page.get_by_test_id("recipient").fill("+14155550123")
    page.get_by_test_id("composer-text").fill("Are you there?")
    page.get_by_test_id("composer-send").click()

    chip = page.get_by_test_id("message-status")
    expect(chip).to_have_attribute("data-status", "undelivered")
    expect(chip).to_have_class(re.compile(r"\bchip-failed\b"))
    expect(chip).to_have_attribute("title", re.compile(r"code 300"))
    expect(page.get_by_test_id("message-error")).to_be_visible()
