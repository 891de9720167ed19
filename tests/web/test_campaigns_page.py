"""The campaigns page in a real browser (Debian's Chromium, driven by Playwright), against the
real app and the in-process simulator: a small campaign from a CSV upload, its preview (first
rows, a refused row and why, an opted-out recipient, the cost, quiet hours), started, followed
live to its final report. Writes docs/screenshots/campaign.png."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from ..support.textbridge import Textbridge
from .helpers import assert_fits_a_phone, sign_in

SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "campaign.png"
CSV = (
    "phone,name\n"
    "+14155550201,Ann\n"
    "+14155550202,Bob\n"
    "+14155550203,Cleo\n"
    "415 555 0199,Nobody\n"
    "+14155550204,Dan\n"
)


def test_a_csv_campaign_from_preview_to_report(
    textbridge: Textbridge, page: Page, tmp_path: Path
) -> None:
    opted = textbridge.api.post("/api/v1/contacts/+14155550204/consent", json={"action": "opt_out"})
    assert opted.status_code == 201, opted.text
    fate = {"outcome": "undelivered", "error_code": "300"}
    assert textbridge.simulator.put("/control/numbers/+14155550203", json=fate).status_code == 200
    recipients = tmp_path / "spring.csv"
    recipients.write_text(CSV)

    sign_in(page, textbridge)
    page.get_by_test_id("campaigns-link").click()
    expect(page).to_have_url(textbridge.url + "/campaigns")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("quiet-from")).to_have_value("08:00")
    expect(page.get_by_test_id("quiet-to")).to_have_value("21:00")

    # A missing file is a clear error, before anything is created.
    page.get_by_test_id("campaign-name").fill("Spring sale")
    page.get_by_test_id("campaign-text").fill("Hi {name}, our spring sale starts tomorrow.")
    page.get_by_test_id("campaign-preview-button").click()
    expect(page.get_by_test_id("campaign-form-error")).to_have_text(
        "Choose the CSV file of recipients."
    )
    page.get_by_test_id("campaign-file").set_input_files(str(recipients))
    page.get_by_test_id("quiet-on").uncheck()  # whatever hour the test runs at
    page.get_by_test_id("campaign-preview-button").click()

    preview = page.get_by_test_id("campaign-preview")
    expect(preview).to_be_visible()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Draft")
    expect(page.get_by_test_id("preview-recipients")).to_have_text("3")
    expect(page.get_by_test_id("preview-invalid-count")).to_have_text("1")
    expect(page.get_by_test_id("preview-opted-out")).to_have_text("1")
    expect(page.get_by_test_id("preview-cost")).to_contain_text("0.0165")
    expect(page.get_by_test_id("preview-departure")).to_contain_text("No quiet hours")
    rows = page.get_by_test_id("preview-rows").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Hi Ann, our spring sale starts tomorrow.")
    expect(page.get_by_test_id("preview-invalid")).to_contain_text("not in international format")
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0

    page.evaluate("window.__sameDocument = true")  # the progress below comes live, no reload
    page.get_by_test_id("campaign-start").click()
    expect(page.get_by_test_id("campaign-progress")).to_be_visible()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Completed")
    report = page.get_by_test_id("campaign-report")
    expect(report).to_be_visible()
    expect(page.get_by_test_id("report-sent")).to_have_text("3")
    expect(page.get_by_test_id("report-delivered")).to_have_text("2")
    expect(page.get_by_test_id("report-failed")).to_have_text("1")
    expect(page.get_by_test_id("report-opted-out")).to_have_text("1")
    expect(page.get_by_test_id("report-invalid")).to_have_text("1")
    expect(page.get_by_test_id("report-erased")).to_have_text("0")
    expect(page.get_by_test_id("report-cost-sent")).to_contain_text("0.0165")
    expect(page.get_by_test_id("report-failures")).to_contain_text("300")
    expect(page.get_by_test_id("progress-label")).to_have_text("3 of 3 messages done")
    assert page.evaluate("window.__sameDocument") is True
    item = page.get_by_test_id("campaign-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Completed")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert_fits_a_phone(page)  # the report included


def test_a_whatsapp_campaign_fills_its_template_from_the_file(
    textbridge: Textbridge, page: Page, tmp_path: Path
) -> None:
    assert textbridge.api.post("/api/v1/templates/sync").status_code == 200
    recipients = tmp_path / "reminders.csv"
    recipients.write_text(
        "phone,customer_name,time\n+14155550211,Ann,3 pm\n+14155550212,Bob,4 pm\n"
    )
    sign_in(page, textbridge)
    page.goto(textbridge.url + "/campaigns")
    expect(page.get_by_test_id("campaign-text")).to_be_visible()

    page.get_by_test_id("campaign-channel").select_option("whatsapp")
    expect(page.get_by_test_id("campaign-text")).to_be_hidden()
    page.get_by_test_id("campaign-template").select_option(label="appointment_reminder (en_US)")
    expect(page.get_by_test_id("campaign-template-help")).to_have_text(
        "Its values come from the columns of your file named “customer_name”, “time”."
    )
    page.get_by_test_id("campaign-name").fill("Reminders")
    page.get_by_test_id("campaign-file").set_input_files(str(recipients))
    page.get_by_test_id("quiet-on").uncheck()
    page.get_by_test_id("campaign-preview-button").click()

    expect(page.get_by_test_id("campaign-preview")).to_be_visible()
    expect(page.get_by_test_id("preview-recipients")).to_have_text("2")
    expect(page.locator("#campaign-text-shown")).to_have_text(
        "WhatsApp template appointment_reminder (en_US)"
    )
    page.get_by_test_id("campaign-start").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Completed")
    expect(page.get_by_test_id("report-sent")).to_have_text("2")
    expect(page.get_by_test_id("report-delivered")).to_have_text("2")
    sent = textbridge.simulator.get("/control/messages", params={"direction": "outbound"}).json()
    assert len(sent) == 2
    rows = textbridge.database.rows("SELECT payload FROM messages")
    payloads = [json.loads(p) if isinstance(p, str) else p for (p,) in rows]
    assert {"appointment_reminder", "Ann", "3 pm", "Bob", "4 pm"} <= set(_strings_in(payloads))


def test_a_campaign_for_later_says_when_it_leaves(
    textbridge: Textbridge, page: Page, tmp_path: Path
) -> None:
    recipients = tmp_path / "later.csv"
    recipients.write_text("phone\n+14155550221\n")
    sign_in(page, textbridge)
    page.goto(textbridge.url + "/campaigns")
    page.get_by_test_id("campaign-name").fill("Tomorrow")
    page.get_by_test_id("campaign-text").fill("See you tomorrow")
    page.get_by_test_id("campaign-file").set_input_files(str(recipients))
    leaves = (datetime.now() + timedelta(days=30)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )  # the page's zone
    page.get_by_test_id("campaign-send-at").fill(leaves.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("quiet-on").uncheck()  # only the send time holds it
    page.get_by_test_id("campaign-preview-button").click()
    expect(page.get_by_test_id("campaign-preview")).to_be_visible()
    expect(page.locator("#campaign-text-shown")).to_contain_text("See you tomorrow · leaves from")
    expect(page.get_by_test_id("preview-departure")).to_contain_text("wait for their send time")
    campaign_id = page.url.rsplit("#", 1)[1]
    stored = textbridge.api.get(f"/api/v1/campaigns/{campaign_id}").json()["campaign"]
    assert datetime.fromisoformat(stored["send_at"]) == leaves.astimezone(UTC)


def _strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings_in(item)]
    return []
