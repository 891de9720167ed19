"""Search and filter: the inbox's search box and filter chips ask the server, and the list
loads its next page as it is scrolled to its end."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from .helpers import conversation_of, sign_in

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "search.png"
LIST_PAGE = 100  # static/inbox/state.js
CARL = "+14155550177"
DORA = "+14155550188"
PLIVO_WHATSAPP = "+14155550101"


def _numbers(count: int) -> list[str]:
    return [f"+1415555{2000 + n}" for n in range(count)]


def test_search_and_filter(textbridge: Textbridge, page: Page) -> None:
    numbers = _numbers(LIST_PAGE + 3)
    for n, number in enumerate(numbers):
        textbridge.send(number, "the blue invoice, as promised" if n == 3 else f"hello {n}")
    textbridge.inbound("Quarterly report attached", sender=CARL)
    whatsapp = {"from": DORA, "to": PLIVO_WHATSAPP, "type": "whatsapp", "text": "hola"}
    assert textbridge.simulator.post("/control/plivo/inbound", json=whatsapp).status_code == 200
    every = len(numbers) + 2
    wait_until(lambda: len(textbridge.database.rows("SELECT id FROM conversations")) == every)

    sign_in(page, textbridge)
    rows = page.get_by_test_id("conversation")
    expect(rows).to_have_count(LIST_PAGE)
    page.get_by_test_id("conversation-list").evaluate("list => list.scrollTo(0, list.scrollHeight)")
    expect(rows).to_have_count(every)  # the next page, loaded by scrolling

    search = page.get_by_test_id("search")
    search.fill("invoice")
    expect(rows).to_have_count(1)
    expect(conversation_of(page, numbers[3])).to_be_visible()
    search.fill("(415) 555-2005")  # a number in national notation
    expect(conversation_of(page, numbers[3])).to_have_count(0)
    expect(rows).to_have_count(1)
    expect(conversation_of(page, numbers[5])).to_be_visible()
    search.fill("nothing like it")
    expect(page.get_by_test_id("list-empty")).to_have_text("No conversation matches your search.")
    search.fill("")
    expect(rows).to_have_count(every)

    chips = page.get_by_test_id("filter-chips")
    chips.get_by_role("button", name="Unread").click()
    expect(rows).to_have_count(2)
    chips.get_by_role("button", name="WhatsApp").click()
    expect(rows).to_have_count(1)
    expect(conversation_of(page, DORA, "whatsapp")).to_be_visible()
    chips.get_by_role("button", name="WhatsApp").click()
    expect(chips.get_by_role("button", name="WhatsApp")).to_have_attribute("aria-pressed", "false")
    expect(rows).to_have_count(2)
    search.fill("report")
    # Each step waits for what only the new answer shows: the list keeps the last one until then.
    expect(conversation_of(page, DORA)).to_have_count(0)
    expect(rows).to_have_count(1)
    expect(conversation_of(page, CARL)).to_be_visible()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
