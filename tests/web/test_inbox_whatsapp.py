"""Both providers and all three channels in the inbox, in a real browser against the real app
and the in-process simulator: WhatsApp through Vonage and Plivo (the 24-hour window, templates
when it is closed), SMS through Vonage from the sender picker, and MMS with media."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge
from .helpers import (
    age_last_inbound,
    conversation_of,
    pretty,
    record_statuses,
    sign_in,
    simulate_inbound,
    statuses_seen,
)

PLIVO_WHATSAPP = "+14155550101"
VONAGE_SMS = "+14155550102"
VONAGE_WHATSAPP = "+14155550103"
SCREENSHOTS = Path("/tmp")
DAY_AND_AN_HOUR = 25 * 3600


def outbound_texts(textbridge: Textbridge, provider: str) -> list[str]:
    """What the simulated provider was asked to send."""
    params = {"direction": "outbound", "provider": provider}
    return [m["text"] for m in textbridge.simulator.get("/control/messages", params=params).json()]


def test_whatsapp_via_vonage_runs_live(textbridge: Textbridge, page: Page) -> None:
    sign_in(page, textbridge)
    page.evaluate("window.__sameDocument = true")  # everything below arrives without reload

    # A new contact writes to the Vonage WhatsApp number: the conversation appears live.
    grace = "+14155550177"
    simulate_inbound(
        page, f"WhatsApp via Vonage · {pretty(VONAGE_WHATSAPP)}", grace, "Hi! Is my order ready?"
    )
    conversation = conversation_of(page, grace, channel="whatsapp")
    expect(conversation.get_by_test_id("conversation-channel")).to_have_text("WhatsApp · Vonage")
    expect(conversation.get_by_test_id("unread-badge")).to_have_text("1")
    conversation.click()
    expect(page.get_by_test_id("thread-channel")).to_have_text("WhatsApp")
    expect(page.get_by_test_id("thread-via")).to_have_text(
        f"via Vonage · {pretty(VONAGE_WHATSAPP)}"
    )

    # The window is open, counting down from 24 hours; free text goes, read receipts come back.
    window = page.get_by_test_id("window-state")
    expect(window).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("window-title")).to_have_text(
        re.compile(r"^Window open · closes in 2[34] h \d{1,2} min$")
    )
    composer = page.get_by_test_id("composer-text")
    expect(composer).to_be_enabled()
    record_statuses(page)
    composer.fill("Yes, it ships today!")
    composer.press("Enter")
    reply = page.get_by_test_id("message").filter(has_text="it ships today")
    expect(reply).to_have_attribute("data-direction", "outbound")
    chip = reply.get_by_test_id("message-status")
    expect(chip).to_have_attribute("data-status", "read")
    expect(chip).to_have_text("Read")
    seen = statuses_seen(page)
    assert "delivered" in seen, seen
    assert seen.index("delivered") < seen.index("read"), seen
    assert "Yes, it ships today!" in outbound_texts(textbridge, "vonage")

    # The contact taps a button: the chosen title, tagged as a button reply.
    simulate_inbound(
        page,
        f"WhatsApp via Vonage · {pretty(VONAGE_WHATSAPP)}",
        grace,
        "Track my parcel",
        button=True,
    )
    tapped = page.get_by_test_id("message").filter(has_text="Track my parcel")
    expect(tapped).to_have_attribute("data-content-type", "button")
    expect(tapped.get_by_test_id("reply-tag")).to_have_text("Button reply")
    expect(window).to_have_attribute("data-state", "open")
    page.get_by_test_id("simulate-toggle").click()
    page.screenshot(path=str(SCREENSHOTS / "inbox-whatsapp.png"))
    assert page.evaluate("window.__sameDocument") is True


def test_whatsapp_outside_the_window_sends_a_template(textbridge: Textbridge, page: Page) -> None:
    # A contact wrote to the Plivo WhatsApp number; the inbox is open on that conversation.
    ada = "+14155550188"
    sent = textbridge.simulator.post(
        "/control/plivo/inbound",
        json={"from": ada, "to": PLIVO_WHATSAPP, "type": "whatsapp", "text": "Where's my order?"},
    )
    assert sent.json()["status_code"] == 200, sent.text
    sign_in(page, textbridge)
    conversation = conversation_of(page, ada, channel="whatsapp")
    conversation.click()
    window = page.get_by_test_id("window-state")
    expect(window).to_have_attribute("data-state", "open")
    # Opening it marks it read; that answer carries the window too, so let it land first.
    expect(conversation.get_by_test_id("unread-badge")).to_have_count(0)
    composer = page.get_by_test_id("composer-text")
    composer.fill("It's on its way.")

    # A day and an hour pass for textbridge and the simulator alike, unknown to the page.
    age_last_inbound(textbridge, ada, hours=25)
    textbridge.simulator.put(
        "/control/clock", json={"offset_seconds": DAY_AND_AN_HOUR}
    ).raise_for_status()

    # The server refuses the free text: said inline, the text kept, templates offered.
    composer.press("Enter")
    error = page.get_by_test_id("composer-error")
    expect(error).to_contain_text("the WhatsApp window closed at")
    expect(error).to_contain_text("send an approved template")
    expect(composer).to_have_value("It's on its way.")
    expect(window).to_have_attribute("data-state", "closed")
    expect(page.get_by_test_id("message")).to_have_count(1)

    # After a reload the composer starts closed: no free text, a template picker instead.
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("thread-title")).to_have_text(pretty(ada))
    expect(window).to_have_attribute("data-state", "closed")
    expect(page.get_by_test_id("window-title")).to_have_text(
        "Window closed — send an approved template"
    )
    expect(composer).to_be_disabled()
    expect(page.get_by_test_id("template-panel")).to_be_visible()
    expect(page.get_by_test_id("template-empty")).to_contain_text("No templates yet")

    # Sync the templates from Plivo, pick the approved one and fill in its value.
    page.get_by_test_id("template-sync").click()
    expect(page.get_by_test_id("template-sync-status")).to_have_text(
        "Synced 3 templates from Plivo."
    )
    picker = page.get_by_test_id("template-select")
    expect(picker.locator("option", has_text="summer_sale")).to_be_disabled()
    expect(picker.locator("option", has_text="summer_sale")).to_contain_text("pending approval")
    picker.select_option("order_update|en_US")
    value = page.get_by_test_id("template-param")
    expect(value).to_have_count(1)
    expect(value).to_be_focused()
    page.get_by_test_id("composer-send").click()
    expect(page.get_by_test_id("composer-error")).to_contain_text("Fill in {{1}}")
    expect(value).to_have_attribute("aria-invalid", "true")
    value.fill("A-1042")
    expect(page.get_by_test_id("template-preview")).to_contain_text(
        "Your order A-1042 is on its way."
    )

    record_statuses(page)
    value.press("Enter")
    card = page.get_by_test_id("template-card").filter(has_text="order_update").last
    expect(card).to_contain_text("Your order A-1042 is on its way.")
    message = page.get_by_test_id("message").filter(has=card)
    expect(message.get_by_test_id("message-status")).to_have_attribute(
        "data-status", re.compile(r"^(delivered|read)$")
    )
    assert "delivered" in statuses_seen(page)
    expect(page.get_by_test_id("composer-error")).to_be_hidden()
    expect(composer).to_be_disabled()  # still closed: a template does not open it

    # The contact answers: the window reopens live and free text is back.
    textbridge.simulator.post(
        "/control/plivo/inbound",
        json={"from": ada, "to": PLIVO_WHATSAPP, "type": "whatsapp", "text": "Thanks!"},
    ).raise_for_status()
    expect(window).to_have_attribute("data-state", "open")
    expect(composer).to_be_enabled()
    expect(page.get_by_test_id("template-panel")).to_be_hidden()


def test_sms_via_vonage_from_the_sender_picker(textbridge: Textbridge, page: Page) -> None:
    sign_in(page, textbridge)
    page.get_by_test_id("new-conversation").click()
    picker = page.get_by_test_id("sender-picker")
    expect(picker.locator("option")).to_have_text(
        [
            "SMS · Plivo · +1 415 555 0100",
            "SMS · Vonage · +1 415 555 0102",
            "MMS · Plivo · +1 415 555 0100",
            "MMS · Vonage · +1 415 555 0102",
            "WhatsApp · Plivo · +1 415 555 0101",
            "WhatsApp · Vonage · +1 415 555 0103",
        ]
    )
    expect(picker).to_have_value(f"plivo/sms/{SANDBOX_NUMBER}")  # the API's default sender

    # Choosing a WhatsApp number for someone who never wrote: only templates are possible.
    picker.select_option(label=f"WhatsApp · Vonage · {pretty(VONAGE_WHATSAPP)}")
    expect(page.get_by_test_id("window-state")).to_have_attribute("data-state", "never")
    expect(page.get_by_test_id("composer-text")).to_be_disabled()

    picker.select_option(label=f"SMS · Vonage · {pretty(VONAGE_SMS)}")
    expect(page.get_by_test_id("window-state")).to_be_hidden()
    page.get_by_test_id("recipient").fill(CONTACT)
    composer = page.get_by_test_id("composer-text")
    composer.fill("Your table is ready.")
    expect(page.get_by_test_id("composer-counter")).to_have_text(
        "GSM-7 · 1 segment · 20/160 · $0.0080"
    )
    composer.press("Enter")

    expect(page.get_by_test_id("thread-title")).to_have_text(pretty(CONTACT))
    expect(page.get_by_test_id("thread-channel")).to_have_text("SMS")
    expect(page.get_by_test_id("thread-via")).to_have_text(f"via Vonage · {pretty(VONAGE_SMS)}")
    chip = page.get_by_test_id("message").first.get_by_test_id("message-status")
    expect(chip).to_have_attribute("data-status", "delivered")
    expect(conversation_of(page, CONTACT).get_by_test_id("conversation-channel")).to_have_text(
        "SMS · Vonage"
    )
    assert outbound_texts(textbridge, "vonage") == ["Your table is ready."]
    assert outbound_texts(textbridge, "plivo") == []


def test_mms_with_an_image_both_ways(textbridge: Textbridge, page: Page) -> None:
    # Thumbnails come from any https host; scripts, styles and connections stay same-origin.
    policy = page.request.get(textbridge.url + "/login").headers["content-security-policy"]
    assert "img-src 'self' https: data:;" in policy
    assert "default-src 'self'; script-src 'self'; style-src 'self';" in policy
    assert "connect-src 'self';" in policy
    sign_in(page, textbridge)
    photo = "https://media.example.com/photos/table-12.jpg"
    lin = "+14155550166"
    page.get_by_test_id("simulate-toggle").click()
    page.get_by_test_id("simulate-to").select_option(
        label=f"SMS via Plivo · {pretty(SANDBOX_NUMBER)}"
    )
    expect(page.get_by_test_id("simulate-hint")).to_have_text("An image makes it an MMS.")
    expect(page.get_by_test_id("simulate-button")).to_be_disabled()
    simulate_inbound(
        page, f"SMS via Plivo · {pretty(SANDBOX_NUMBER)}", lin, "Is this table free?", image=photo
    )
    conversation = conversation_of(page, lin, channel="sms")
    expect(conversation.get_by_test_id("conversation-preview")).to_have_text("Is this table free?")
    conversation.click()

    # The image is a lazy thumbnail over a framed placeholder naming the file and its host: the
    # sandbox's example host does not resolve, and that looks intended.
    inbound = page.get_by_test_id("message").filter(has_text="Is this table free?")
    attachment = inbound.get_by_test_id("attachment")
    expect(attachment).to_have_attribute("data-kind", "image")
    expect(attachment).to_have_attribute("href", photo)
    expect(attachment).to_have_attribute("referrerpolicy", "no-referrer")
    expect(attachment.get_by_test_id("attachment-name")).to_have_text("table-12.jpg")
    expect(attachment).to_contain_text("Image · media.example.com")
    thumbnail = attachment.locator("img")
    expect(thumbnail).to_have_attribute("loading", "lazy")
    expect(thumbnail).to_have_attribute("referrerpolicy", "no-referrer")
    expect(inbound).to_contain_text("MMS")

    # The reply is an MMS too: attach a media URL to the SMS number's composer.
    page.get_by_test_id("media-toggle").click()
    media = page.get_by_test_id("media-url")
    expect(media).to_be_focused()
    media.fill("https://media.example.com/menus/dinner.png")
    expect(page.get_by_test_id("media-help")).to_contain_text(
        f"Sent as MMS from {pretty(SANDBOX_NUMBER)} via Plivo"
    )
    composer = page.get_by_test_id("composer-text")
    composer.fill("Yes! Here is tonight's menu.")
    composer.press("Enter")
    sent = page.get_by_test_id("message").filter(has_text="tonight's menu")
    expect(sent.get_by_test_id("attachment")).to_have_attribute("data-kind", "image")
    expect(sent.get_by_test_id("attachment-name")).to_have_text("dinner.png")
    expect(sent.get_by_test_id("message-status")).to_have_attribute("data-status", "delivered")
    expect(page.get_by_test_id("media-draft")).to_be_hidden()
    page.get_by_test_id("simulate-toggle").click()
    page.screenshot(path=str(SCREENSHOTS / "inbox-mms.png"))
