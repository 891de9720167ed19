"""Scheduled and held messages in the inbox: the chip says so, and when they leave."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from ..support.textbridge import CONTACT, Textbridge
from .helpers import conversation_of, sign_in


def test_a_scheduled_message_shows_when_it_leaves(textbridge: Textbridge, page: Page) -> None:
    send_at = datetime.now(UTC) + timedelta(hours=3)
    textbridge.send(text="Later", send_at=send_at.isoformat())
    sign_in(page, textbridge)
    conversation_of(page, CONTACT).click()
    chip = page.get_by_test_id("message-status")
    expect(chip).to_have_attribute("data-status", "scheduled")
    expect(chip).to_have_text("Scheduled")
    expect(chip).to_have_attribute("title", re.compile(r"^Scheduled: scheduled; it leaves .+"))
