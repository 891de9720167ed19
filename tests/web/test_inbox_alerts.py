"""Issue 9, alerts in the inbox: a real burst of forged webhooks (refused for their signature)
fires `refused_webhook_signatures`, and the banner under the header says what it means and what
to do, for an agent too; dismissed, it stays hidden for the session while the alert fires, and
shows again once the alert has cleared and fires anew. Writes docs/screenshots/inbox-alert.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from textbridge.db.base import utcnow
from textbridge.models import WebhookJournalEntry
from textbridge.webhooks import journal

from ..support.database import Database
from ..support.textbridge import Textbridge, running_textbridge
from .helpers import assert_fits_a_phone, sign_in

SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "inbox-alert.png"
SPIKE = 3


@pytest.fixture
def alerting(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    with running_textbridge(
        database, tmp_path, alert_refused_window_minutes=1, alert_refused_signatures=SPIKE
    ) as running:
        yield running


def forge_webhooks(textbridge: Textbridge) -> None:
    """Inbound SMS callbacks with no valid signature, as a wrong auth token would send them."""
    forged = {"From": "14155550199", "To": "14155550100", "Text": "hi", "MessageUUID": "x"}
    for _ in range(SPIKE):
        response = httpx.post(f"{textbridge.url}/webhooks/plivo/inbound", data=forged)
        assert response.status_code in (401, 403), response.text


def age_refusals(textbridge: Textbridge) -> None:
    """Move the refusals out of the alert's window, as two minutes passing would."""
    textbridge.database.run(
        update(WebhookJournalEntry)
        .where(WebhookJournalEntry.state == journal.REFUSED)
        .values(received_at=utcnow() - timedelta(minutes=2))
    )


def test_refused_signatures_show_in_a_banner(alerting: Textbridge, page: Page) -> None:
    sign_in(page, alerting, "ada", "agent")
    banner = page.get_by_test_id("alert-banner")
    expect(banner).to_be_hidden()

    # Fires for real; a live event (a genuine reply) makes the open inbox ask again.
    forge_webhooks(alerting)
    alerting.inbound("Are you open today?", sender="+14155550141")
    expect(banner).to_be_visible()
    alert = banner.get_by_test_id("alert")
    expect(alert).to_have_count(1)
    expect(alert).to_have_attribute("data-alert", "refused_webhook_signatures")
    expect(alert.get_by_test_id("alert-title")).to_have_text("Webhooks refused for their signature")
    expect(alert.get_by_test_id("alert-summary")).to_have_text(
        f"{SPIKE} webhook(s) refused for their signature in the last 1 min."
    )
    expect(alert.get_by_test_id("alert-advice")).to_contain_text("TEXTBRIDGE_PUBLIC_URL")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # Dismissed: gone, and still gone after a reload while the alert fires.
    alert.get_by_test_id("alert-dismiss").click()
    expect(banner).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("conversation")).to_have_count(1)
    expect(banner).to_be_hidden()

    # It clears (the refusals age out), which the page learns on the next event; a new spike
    # then shows again.
    age_refusals(alerting)
    alerting.inbound("Still there?", sender="+14155550141")
    expect(page.get_by_test_id("conversation")).to_contain_text("Still there?")
    page.wait_for_function(
        "() => (sessionStorage.getItem('textbridge.dismissedAlerts') || '[]') === '[]'"
    )
    forge_webhooks(alerting)
    alerting.inbound("Hello?", sender="+14155550141")
    expect(banner.get_by_test_id("alert")).to_have_attribute(
        "data-alert", "refused_webhook_signatures"
    )
    assert_fits_a_phone(page)  # the banner wraps at phone width
