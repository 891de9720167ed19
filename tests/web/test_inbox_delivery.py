"""Issue 9, the inbox: delivery ticks, what to do about a failure (retry, review), the composer's
encoding, segments and cost with the look-alike replacement, the WhatsApp window, the contact
panel (name, country, local time, consent) and keyboard navigation at phone width. Each test
leaves a screenshot in docs/screenshots/ (shown in the README)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from textbridge.models import Message

from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge
from .helpers import (
    LIVE_TIMEOUT_MS,
    age_last_inbound,
    conversation_of,
    pretty,
    record_statuses,
    sign_in,
    statuses_seen,
)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PLIVO_WHATSAPP = "+14155550101"
DAY_AND_AN_HOUR = 25 * 3600


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def conversation_of_contact(textbridge: Textbridge, phone: str) -> str:
    """The id of the contact's conversation, once its first message has been stored."""

    def found() -> str | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        return next((c["id"] for c in listed if c["contact_phone"] == phone), None)

    return wait_until(found)


def ticks_seen(page: Page) -> list[str]:
    """The ticks shown, in order (recorded by `record_ticks`), repeats folded."""
    seen: list[str] = page.evaluate("window.__ticks")
    return [tick for i, tick in enumerate(seen) if i == 0 or seen[i - 1] != tick]


def record_ticks(page: Page) -> None:
    page.evaluate(
        """() => {
            window.__ticks = [];
            new MutationObserver(() => {
                const tick = document.querySelector('[data-testid="message-ticks"]');
                if (tick) window.__ticks.push(tick.dataset.tick);
            }).observe(document.getElementById("message-items"), {
                subtree: true, childList: true, characterData: true, attributes: true,
            });
        }"""
    )


def test_a_sent_message_ticks_to_delivered(textbridge: Textbridge, page: Page) -> None:
    sign_in(page, textbridge)
    page.get_by_test_id("new-conversation").click()
    page.get_by_test_id("recipient").fill(CONTACT)
    composer = page.get_by_test_id("composer-text")

    # Curly quotes and an ellipsis force UCS-2: marked, and replaced in one click.
    composer.fill("Your table\u2019s ready… see you “soon”")
    counter = page.get_by_test_id("composer-counter")
    expect(counter).to_have_text("UCS-2 · 1 segment · 34/70 · $0.0055")
    expect(page.get_by_test_id("ucs2-char")).to_have_text(["\u2019", "…", "“", "”"])
    page.get_by_test_id("smart-encoding").click()
    expect(composer).to_have_value('Your table\'s ready... see you "soon"')
    expect(counter).to_have_text("GSM-7 · 1 segment · 36/160 · $0.0055")
    expect(page.get_by_test_id("ucs2-note")).to_be_hidden()

    # Sent: the ticks go from queued to sent to delivered, live.
    record_ticks(page)
    composer.press("Enter")
    expect(page.get_by_test_id("message")).to_have_count(1)
    ticks = page.get_by_test_id("message-ticks")
    expect(ticks).to_have_attribute("data-tick", "delivered")
    expect(ticks).to_have_accessible_name("Delivered")
    seen = ticks_seen(page)
    assert seen[-1] == "delivered", seen
    assert seen.index("delivered") > 0, seen  # it was queued or sent before
    composer.fill("Thanks — we\u2019ll keep your table until 8 pm… " + "see you soon, " * 5)
    expect(counter).to_have_text("UCS-2 · 2 segments · 113/134 · $0.0110")
    expect(page.get_by_test_id("smart-encoding")).to_have_text(
        "Replace “—” “\u2019” “…” with plain characters (1 segment)"
    )
    screenshot(page, "inbox-ticks")


def test_a_failed_message_says_what_to_do_and_retries(textbridge: Textbridge, page: Page) -> None:
    failing = "+14155550124"
    fate = {"outcome": "undelivered", "error_code": "300"}
    textbridge.simulator.put(f"/control/numbers/{failing}", json=fate).raise_for_status()
    sign_in(page, textbridge)
    page.get_by_test_id("new-conversation").click()
    page.get_by_test_id("recipient").fill(failing)
    page.get_by_test_id("composer-text").fill("Are you there?")
    page.get_by_test_id("composer-send").click()

    failed = page.get_by_test_id("message").filter(has=page.locator('[data-status="undelivered"]'))
    expect(failed.get_by_test_id("message-error")).to_contain_text("code 300")
    expect(failed.get_by_test_id("message-remedy")).to_have_text(
        "The phone is unreachable or blocks us: retry later, or reach the contact another way."
    )
    expect(failed.get_by_test_id("message-ticks")).to_have_count(0)
    screenshot(page, "inbox-failed")

    # The phone is back: Retry sends the same text again, as a new message, which arrives.
    textbridge.simulator.delete(f"/control/numbers/{failing}").raise_for_status()
    failed.get_by_test_id("message-retry").click()
    expect(page.get_by_test_id("message")).to_have_count(2)
    retried = page.get_by_test_id("message").last
    expect(retried.get_by_test_id("message-bubble")).to_have_text("Are you there?")
    expect(retried.get_by_test_id("message-ticks")).to_have_attribute("data-tick", "delivered")


def test_an_unknown_message_is_reviewed(textbridge: Textbridge, page: Page) -> None:
    message = textbridge.send(text="Did this leave?")
    textbridge.wait_for_status(message["id"], "delivered")
    # An outcome nobody knows (a timeout after the provider took it) is rare to provoke: set it.
    textbridge.database.run(
        update(Message).where(Message.id == uuid.UUID(message["id"])).values(status="unknown")
    )
    sign_in(page, textbridge)
    conversation_of(page, CONTACT).click()
    unknown = page.get_by_test_id("message")
    expect(unknown.get_by_test_id("message-status")).to_have_attribute("data-status", "unknown")
    expect(unknown.get_by_test_id("message-remedy")).to_contain_text("Check its dashboard")
    unknown.get_by_test_id("review-not-sent").click()
    expect(unknown.get_by_test_id("message-status")).to_have_attribute("data-status", "failed")
    expect(unknown.get_by_test_id("message-remedy")).to_have_text(
        "A reviewer found it never left: retry to send it again."
    )
    expect(unknown.get_by_test_id("message-retry")).to_be_visible()


def test_a_reply_arrives_live(textbridge: Textbridge, page: Page) -> None:
    textbridge.send(text="Your order is ready for pick-up.")
    sign_in(page, textbridge)
    conversation_of(page, CONTACT).click()
    expect(page.get_by_test_id("message")).to_have_count(1)
    page.evaluate("window.__sameDocument = true")
    textbridge.inbound("Great, I'll come at 5!")
    reply = page.get_by_test_id("message").filter(has_text="Great, I'll come at 5!")
    expect(reply).to_have_attribute("data-direction", "inbound")
    expect(page.get_by_test_id("announcer")).to_contain_text("Great, I'll come at 5!")
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "inbox-reply")


def test_the_window_counts_down_then_a_template_is_sent(textbridge: Textbridge, page: Page) -> None:
    grace = "+14155550189"
    sent = textbridge.simulator.post(
        "/control/plivo/inbound",
        json={"from": grace, "to": PLIVO_WHATSAPP, "type": "whatsapp", "text": "Order status?"},
    )
    assert sent.json()["status_code"] == 200, sent.text
    textbridge.age_conversation(conversation_of_contact(textbridge, grace), hours=21.5)
    sign_in(page, textbridge)
    conversation_of(page, grace, channel="whatsapp").click()
    window = page.get_by_test_id("window-state")
    expect(window).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("window-title")).to_have_text(
        re.compile(r"^Window open · closes in 2 h \d{1,2} min$")
    )
    screenshot(page, "inbox-window-open")

    # Outside the window: free text is disabled and the template form takes its place.
    age_last_inbound(textbridge, grace, hours=25)
    textbridge.simulator.put(
        "/control/clock", json={"offset_seconds": DAY_AND_AN_HOUR}
    ).raise_for_status()
    page.reload()
    expect(window).to_have_attribute("data-state", "closed")
    expect(page.get_by_test_id("composer-text")).to_be_disabled()
    expect(page.get_by_test_id("template-panel")).to_be_visible()
    page.get_by_test_id("template-sync").click()
    expect(page.get_by_test_id("template-sync-status")).to_contain_text("Synced")
    page.get_by_test_id("template-select").select_option("order_update|en_US")
    page.get_by_test_id("template-param").fill("A-2001")
    expect(page.get_by_test_id("template-preview")).to_contain_text("Your order A-2001")
    record_statuses(page)
    page.get_by_test_id("template-param").press("Enter")
    card = page.get_by_test_id("template-card").filter(has_text="A-2001")
    message = page.get_by_test_id("message").filter(has=card)
    expect(message.get_by_test_id("message-ticks")).to_have_attribute(
        "data-tick", re.compile(r"^(delivered|read)$")
    )
    assert "delivered" in statuses_seen(page)
    screenshot(page, "inbox-template")


def test_a_contact_is_renamed_and_opted_out(textbridge: Textbridge, page: Page) -> None:
    textbridge.inbound("Hello, this is Lin.")
    on_whatsapp = {"from": CONTACT, "to": PLIVO_WHATSAPP, "type": "whatsapp", "text": "Me again"}
    assert textbridge.simulator.post("/control/plivo/inbound", json=on_whatsapp).status_code == 200
    sign_in(page, textbridge)
    conversation = conversation_of(page, CONTACT, channel="sms")
    conversation.click()
    page.get_by_test_id("contact-toggle").click()
    panel = page.get_by_test_id("contact-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("contact-name")).to_be_focused()
    expect(page.get_by_test_id("contact-address")).to_have_text(pretty(CONTACT))
    expect(page.get_by_test_id("contact-country")).to_have_text("United States (US)")
    expect(page.get_by_test_id("contact-local-time")).to_contain_text("America/Los Angeles")
    expect(page.get_by_test_id("consent-state")).to_have_attribute("data-state", "none")
    other = page.get_by_test_id("contact-other")  # the same person on WhatsApp
    expect(other).to_have_text(re.compile(r"^WhatsApp via Plivo"))

    page.get_by_test_id("contact-name").fill("Lin Chen")
    page.get_by_test_id("contact-name").press("Enter")
    expect(page.get_by_test_id("contact-name-status")).to_have_text("Saved.")
    expect(page.get_by_test_id("thread-title")).to_have_text("Lin Chen")
    expect(conversation.get_by_test_id("conversation-name")).to_have_text("Lin Chen")

    page.get_by_test_id("consent-opt-out").click()
    expect(page.get_by_test_id("consent-state")).to_have_attribute("data-state", "opted_out")
    record = page.get_by_test_id("consent-record").first
    expect(record).to_contain_text("Opted out · inbox by admin")
    expect(page.get_by_test_id("consent-opt-in")).to_be_visible()
    expect(page.get_by_test_id("consent-opt-out")).to_be_hidden()
    screenshot(page, "inbox-contact")

    # The opt-out holds: a message to them is refused, and the API agrees on the name.
    composer = page.get_by_test_id("composer-text")
    composer.fill("One more thing")
    composer.press("Enter")
    expect(page.get_by_test_id("composer-error")).to_contain_text("opted out")
    assert textbridge.api.get(f"/api/v1/contacts/{CONTACT}").json()["name"] == "Lin Chen"
    other.click()  # the panel's link opens the person's WhatsApp conversation
    expect(page.get_by_test_id("window-state")).to_have_attribute("data-state", "open")


def test_keyboard_navigation_at_phone_width(textbridge: Textbridge, browser: Browser) -> None:
    for number, text in (("+14155550131", "First"), ("+14155550132", "Second")):
        textbridge.inbound(text, sender=number)
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(LIVE_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(page, textbridge)
        rows = page.get_by_test_id("conversation")
        expect(rows).to_have_count(2)
        first, second = rows.nth(0), rows.nth(1)
        second_phone = second.get_attribute("data-phone")
        assert second_phone
        page.keyboard.press("/")
        expect(page.get_by_test_id("search")).to_be_focused()
        page.keyboard.press("Escape")
        expect(first).to_be_focused()
        page.keyboard.press("j")
        expect(second).to_be_focused()
        page.keyboard.press("k")
        expect(first).to_be_focused()
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("thread-title")).to_have_text(pretty(second_phone))
        expect(page.get_by_test_id("conversation-list")).to_be_hidden()  # one pane at a time
        expect(page.get_by_test_id("composer-text")).to_be_focused()
        expect(page.get_by_test_id("composer-counter")).to_have_text(
            "GSM-7 · 1 segment · 0/160 · $0.0055"
        )
        screenshot(page, "inbox-phone")
        # A letter typed into the composer is text; Esc goes back to the list, on the same row.
        page.keyboard.type("jk")
        expect(page.get_by_test_id("composer-text")).to_have_value("jk")
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("conversation-list")).to_be_visible()
        expect(conversation_of(page, second_phone)).to_be_focused()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, width  # nothing overflows sideways
    finally:
        context.close()
    assert errors == []
