"""Contacts that are not phone numbers, in a real browser: the list and the thread header say
what kind of address it is, and a sender that cannot be replied to gets a reason, no composer."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ..support.textbridge import Textbridge
from ..webhooks.signed import plivo_sms, post_plivo
from .helpers import conversation_of, sign_in


def test_an_alphanumeric_sender_is_shown_as_such_and_not_offered_a_reply(
    textbridge: Textbridge, page: Page
) -> None:
    sign_in(page, textbridge)
    assert post_plivo(textbridge, "inbound", plivo_sms("AMAZON", "Your parcel")).status_code == 200

    item = conversation_of(page, "AMAZON")
    expect(item).to_have_attribute("data-address-kind", "alphanumeric")
    expect(item.get_by_test_id("conversation-name")).to_have_text("AMAZON")
    expect(item.get_by_test_id("address-kind")).to_have_text("sender ID")

    item.click()
    expect(page.get_by_test_id("thread-address-kind")).to_have_text("sender ID")
    refusal = page.get_by_test_id("composer-refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("alphanumeric sender ID")
    expect(page.get_by_test_id("composer")).to_be_hidden()
