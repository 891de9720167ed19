"""Open the dashboard in a real browser: from the inbox's header, with the charts of a seeded
fortnight, a filter and a date range applied at once, a CSV per chart; the screenshot for the
README."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from ..analytics.seed import seed_a_fortnight
from ..support.textbridge import Textbridge
from .helpers import assert_fits_a_phone, sign_in

SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "dashboard.png"
CHARTS = ("messages", "delivery", "delivery-time", "failures", "cost", "inbound", "opt-outs",
          "campaigns")  # fmt: skip


def test_open_the_dashboard(page: Page, textbridge: Textbridge) -> None:
    today = datetime.now(UTC)
    seed_a_fortnight(textbridge.database, today)
    sign_in(page, textbridge)
    page.get_by_test_id("dashboard-link").click()
    expect(page).to_have_url(textbridge.url + "/dashboard")
    for key in CHARTS:
        expect(page.get_by_test_id(f"chart-{key}")).to_be_visible()
    expect(page.get_by_test_id("chart-messages").locator("svg rect").first).to_be_visible()
    expect(page.get_by_test_id("summary-delivery")).to_contain_text("with an outcome")
    expect(page.get_by_test_id("summary-delivery-time")).to_contain_text("median")

    page.get_by_test_id("filter-channel").select_option("whatsapp")  # applied at once
    expect(page).to_have_url(re.compile(r"channel=whatsapp"))
    expect(page.get_by_test_id("filter-channel")).to_have_value("whatsapp")
    csv_link = page.get_by_test_id("csv-messages")
    href = csv_link.get_attribute("href")
    assert href is not None
    assert "channel=whatsapp" in href
    assert "format=csv" in href
    answer = page.request.get(textbridge.url + href)  # the page's session cookie
    assert answer.status == 200
    lines = answer.text().splitlines()
    assert lines[0] == "day,direction,channel,provider,messages"
    assert len(lines) > 1
    assert all(",whatsapp,vonage," in line for line in lines[1:])

    page.get_by_test_id("filter-channel").select_option("")
    expect(page.get_by_test_id("filter-channel")).to_have_value("")
    expect(page.get_by_test_id("chart-messages").locator("svg rect").first).to_be_visible()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert_fits_a_phone(page)  # the charts included

    # A date range, applied at once: the page says it, each chart's CSV holds only its days.
    week_start = (today - timedelta(days=6)).date().isoformat()
    page.get_by_test_id("filter-from").fill(week_start)
    expect(page).to_have_url(re.compile(f"from={week_start}"))
    expect(page.get_by_test_id("dashboard-range")).to_contain_text(f"{week_start} to ")
    csv_link = page.get_by_test_id("csv-messages")
    expect(csv_link).to_have_attribute("href", re.compile(f"from={week_start}"))
    href = csv_link.get_attribute("href")
    assert href is not None
    assert f"from={week_start}" in href
    week = page.request.get(textbridge.url + href).text().splitlines()
    days = [line.split(",")[0] for line in week]
    assert days[0] == "day"
    assert days[1:]
    assert all(day >= week_start for day in days[1:]), days


def test_a_bad_range_is_said_on_the_page(page: Page, textbridge: Textbridge) -> None:
    sign_in(page, textbridge, "ada", "agent")
    page.goto(textbridge.url + "/dashboard?from=2026-03-31&to=2026-03-01&tz=UTC")
    expect(page.get_by_test_id("dashboard-error")).to_have_text("`from` is after `to`")
