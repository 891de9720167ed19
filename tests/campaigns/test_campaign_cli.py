"""`textbridge campaign` against the real app over HTTP, on each database: a CSV file with
per-recipient variables, an invalid and a duplicate row, the preview, the progress bar (plain
text when not on a terminal) and the report; a JSON Lines draft started later; a WhatsApp
template campaign; pause, resume and cancel, and a report with every kind of skip; a custom
price table behind the preview's estimate and the report's cost.

The CLI runs in-process (Typer's runner, the real commands and HTTP client): a `textbridge`
process takes seconds to import on a loaded machine, and `tests/test_cli.py` covers that."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from textbridge.cli import app, common
from textbridge.models import Message

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import API_KEY, Textbridge, running_textbridge


@pytest.fixture(autouse=True)
def _wide_console() -> Iterator[None]:
    """The CLI's shared console (made at import) keeps the width it found then: 80 columns
    when no terminal and no COLUMNS were there, as in CI's workers, where tables and lines
    then wrap. The commands' output is read at 200 columns, as the runner's COLUMNS says."""
    kept = common.console._width
    common.console.width = 200
    yield
    common.console._width = kept


def _cli(textbridge: Textbridge, *args: str) -> Result:
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"})
    return runner.invoke(
        app,
        ["campaign", *args, "--url", textbridge.url, "--api-key", API_KEY],
        catch_exceptions=False,
    )


def test_send_a_csv_and_follow_it_to_the_report(textbridge: Textbridge, tmp_path: Path) -> None:
    recipients = tmp_path / "spring.csv"
    recipients.write_text(
        "phone,name\n+14155550201,Ann\n+14155550202,Bob\n415-555-0199,Eve\n+14155550201,Ann\n"
    )
    sent = _cli(textbridge, "send", str(recipients), "--text", "Hi {name}!", "--quiet-hours", "off")
    output = sent.stdout + sent.stderr
    assert sent.exit_code == 0, output
    assert re.search(r"│\s+2\s+│\s+1\s+│\s+1\s+│\s+2\s+│\s+0\.0110 USD", output), output
    assert "'415-555-0199' is not in international format" in output
    assert "completed" in output
    assert "skipped: invalid 1, duplicate 1, cancelled 0" in output
    campaign_id = re.search(r"campaign ([0-9a-f-]{36}) started", output)
    assert campaign_id, output

    listed = _cli(textbridge, "list")
    assert listed.exit_code == 0, listed.stderr
    assert campaign_id.group(1) in listed.stdout
    assert "spring" in listed.stdout
    again = _cli(textbridge, "resume", campaign_id.group(1))
    assert again.exit_code == 1
    assert "only a paused campaign can be resumed" in again.stderr


def test_a_draft_is_started_later(textbridge: Textbridge, tmp_path: Path) -> None:
    recipients = tmp_path / "list.jsonl"
    recipients.write_text('{"to": "+14155550203", "name": "Cy"}\n')
    drafted = _cli(textbridge, "send", str(recipients), "--text", "Hi {name}", "--draft")
    assert drafted.exit_code == 0, drafted.stderr
    campaign_id = re.search(r"draft ([0-9a-f-]{36})", drafted.stderr)
    assert campaign_id, drafted.stderr
    started = _cli(textbridge, "start", campaign_id.group(1))
    assert started.exit_code == 0, started.stderr
    assert "started (running)" in started.stderr
    status = _cli(textbridge, "status", campaign_id.group(1))
    assert status.exit_code == 0, status.stderr
    assert "total" in status.stdout


def test_send_at_and_quiet_hours(textbridge: Textbridge, tmp_path: Path) -> None:
    recipients = tmp_path / "later.csv"
    recipients.write_text("phone\n+14155550204\n")
    options = ("--send-at", "2099-01-01T09:00:00Z", "--quiet-hours", "09:00-17:00")
    too_far = _cli(textbridge, "send", str(recipients), "--text", "Hi", *options)
    assert too_far.exit_code == 1
    assert "366 days ahead" in too_far.stderr
    send_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    options = ("--send-at", send_at.isoformat(), "--quiet-hours", "09:00-17:00", "--no-wait")
    sent = _cli(textbridge, "send", str(recipients), "--text", "Hi", *options)
    output = sent.stdout + sent.stderr
    assert sent.exit_code == 0, output
    assert f"leaves from {send_at.isoformat()}, within 09:00-17:00" in output
    campaign_id = re.search(r"campaign ([0-9a-f-]{36}) started", output)
    assert campaign_id, output
    status = _cli(textbridge, "status", campaign_id.group(1))
    assert status.exit_code == 0, status.stderr
    assert re.search(
        r"waiting: \d scheduled, \d held by quiet hours; next leaves at", status.stderr
    )
    drafted = _cli(
        textbridge, "send", str(recipients), "--text", "Hi", "--quiet-hours", "off", "--draft"
    )
    assert "leaves at start, at any hour" in drafted.stderr


def test_a_bad_file_is_one_line(textbridge: Textbridge, tmp_path: Path) -> None:
    recipients = tmp_path / "list.csv"
    recipients.write_text("name\nAnn\n")
    refused = _cli(textbridge, "send", str(recipients), "--text", "Hi")
    assert refused.exit_code == 2
    assert "no address column" in refused.stderr


def _output(result: Result) -> str:
    """What the command printed, its whitespace folded: Rich wraps lines at the terminal's
    width (80 where there is none, as in CI), between words."""
    output = result.stdout + result.stderr
    assert result.exit_code == 0, output
    return " ".join(output.split())


def _campaign_id(output: str) -> str:
    found = re.search(r"campaign ([0-9a-f-]{36}) started", output)
    assert found, output
    return found.group(1)


def _report(textbridge: Textbridge, campaign_id: str) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/campaigns/{campaign_id}/report")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_whatsapp_template_campaign(textbridge: Textbridge, tmp_path: Path) -> None:
    assert textbridge.api.post("/api/v1/templates/sync").status_code == 200
    recipients = tmp_path / "reminders.csv"
    recipients.write_text(
        "phone,customer_name\n+14155550211,Ann\n+14155550212,Bob\n+14155550213,\n"
    )
    sent = _cli(
        textbridge,
        "send",
        str(recipients),
        "--template",
        "appointment_reminder",
        "--param",
        "time=3 pm",
        "--quiet-hours",
        "off",
    )
    output = _output(sent)
    # 2 recipients, 1 invalid (no customer_name), Plivo WhatsApp US at 0.03 each.
    assert re.search(r"│\s+2\s+│\s+1\s+│\s+0\s+│\s+2\s+│\s+0\.0600 USD", output), output
    assert "customer_name" in output
    assert "completed" in output
    assert "skipped: invalid 1, duplicate 0, cancelled 0, opted_out 0, erased 0" in output
    assert "cost: 0.0600 USD for what was sent" in output
    campaign_id = _campaign_id(output)

    report = _report(textbridge, campaign_id)
    assert report["campaign"]["channel"] == "whatsapp"
    assert report["campaign"]["template"]["name"] == "appointment_reminder"
    assert report["progress"]["sent"] == 2
    delivered = report["progress"]["delivered"]
    assert delivered + report["progress"]["submitted"] == 2  # read receipts may still come
    outbound = textbridge.simulator.get("/control/messages", params={"direction": "outbound"})
    assert {(m["to_number"], m["content_type"]) for m in outbound.json()} == {
        ("14155550211", "template"),
        ("14155550212", "template"),
    }
    assert _template_parameters(textbridge) == {
        "+14155550211": {"Ann", "3 pm"},
        "+14155550212": {"Bob", "3 pm"},
    }


def _template_parameters(textbridge: Textbridge) -> dict[str, set[str]]:
    """Each recipient's last message's template parameters, as textbridge sent them."""
    found = {}
    for conversation in textbridge.api.get("/api/v1/conversations").json():
        path = f"/api/v1/conversations/{conversation['id']}/messages"
        template = textbridge.api.get(path).json()[-1]["template"]
        assert template["name"] == "appointment_reminder"
        found[conversation["contact_address"]] = {
            parameter["text"]
            for component in template["components"]
            for parameter in component.get("parameters", [])
        }
    return found


def test_pause_resume_cancel_and_a_report_with_every_skip(
    textbridge: Textbridge, tmp_path: Path
) -> None:
    """Sent an hour from now, so that nothing leaves until the test says so: the messages it
    brings forward leave after `resume`, one recipient is erased, the rest end cancelled by
    `cancel`. The report tells each skip by its reason."""
    opted_out = textbridge.api.post(
        "/api/v1/contacts/+14155550229/consent", json={"action": "opt_out"}
    )
    assert opted_out.status_code == 201, opted_out.text
    fate = {"outcome": "undelivered", "error_code": "300"}
    assert textbridge.simulator.put("/control/numbers/+14155550221", json=fate).status_code == 200
    people = [f"+1415555022{n},P{n}" for n in range(1, 10)]
    recipients = tmp_path / "autumn.csv"
    recipients.write_text("\n".join(["phone,name", *people, "+14155550222,P2", "415,X"]) + "\n")
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0).isoformat()
    options = ("--send-at", later, "--quiet-hours", "off", "--no-wait")
    campaign_id = _campaign_id(
        _output(_cli(textbridge, "send", str(recipients), "--text", "Hi {name}", *options))
    )
    assert f"next leaves at {later}" in _output(_cli(textbridge, "status", campaign_id))

    paused = _output(_cli(textbridge, "pause", campaign_id))
    assert f"campaign {campaign_id} paused (paused)" in paused
    status = _output(_cli(textbridge, "status", campaign_id))
    assert "waiting: 8 scheduled, 0 held by quiet hours; next leaves at (paused)" in status
    assert _cli(textbridge, "pause", campaign_id).exit_code == 1  # paused already

    resumed = _output(_cli(textbridge, "resume", campaign_id))
    assert f"campaign {campaign_id} resumed (running)" in resumed
    assert f"next leaves at {later}" in _output(_cli(textbridge, "status", campaign_id))
    due = ["+14155550221", "+14155550222", "+14155550223"]
    now = datetime.now(UTC)
    textbridge.database.run(
        update(Message).where(Message.to_address.in_(due)).values(next_attempt_at=now)
    )
    wait_until(
        lambda: (
            (p := _report(textbridge, campaign_id)["progress"])["failed"] == 1
            and p["delivered"] == 2
        ),
        timeout=30,
    )

    erased = textbridge.api.delete("/api/v1/contacts/+14155550228")
    assert erased.status_code == 200, erased.text
    assert _report(textbridge, campaign_id)["skipped"]["erased"] == 1

    cancelled = _output(_cli(textbridge, "cancel", campaign_id))
    assert f"campaign {campaign_id} cancelled (cancelled)" in cancelled
    assert _cli(textbridge, "resume", campaign_id).exit_code == 1
    report = _report(textbridge, campaign_id)
    assert report["campaign"]["state"] == "cancelled"
    progress = report["progress"]
    assert (progress["total"], progress["sent"], progress["delivered"]) == (8, 3, 2)
    assert (progress["failed"], progress["cancelled"], progress["waiting"]) == (1, 5, 0)
    assert [(r["code"], r["count"]) for r in report["failed_by_reason"]] == [("300", 1)]
    assert report["skipped"] == {
        "invalid": 1,
        "duplicate": 1,
        "cancelled": 4,
        "opted_out": 1,
        "erased": 1,
    }
    # Plivo US SMS at 0.0055 a segment: 8 priced, 3 taken by the provider.
    assert (report["cost"]["estimate"], report["cost"]["sent"]) == ("0.0440", "0.0165")

    shown = _output(_cli(textbridge, "report", campaign_id))
    counts = r"│ cancelled │ 8 +│ 0 +│ 0 +│ 0 +│ 2 +│ 1 +│ 0 +│ 5 +│ 3 +│ 8 +│"
    assert re.search(counts, shown), shown  # total ... delivered failed unknown cancelled sent
    assert "skipped: invalid 1, duplicate 1, cancelled 4, opted_out 1, erased 1" in shown
    assert "cost: 0.0165 USD for what was sent (estimate for all: 0.0440;" in shown
    assert re.search(r"│ 300 +│ Destination number blocked / unreachable │ 1 +│", shown), shown
    assert re.search(r"│ 11 +│ '415' +│ 415 is a short code", shown), shown


@pytest.fixture
def priced(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    """A textbridge whose TEXTBRIDGE_PRICE_TABLE is our own: US 0.01 and GB 0.05 a segment,
    nothing for France."""
    table = tmp_path / "our-rates.csv"
    table.write_text(
        "# our rate card\nprovider,channel,country,price\nplivo,sms,US,0.0100\nplivo,sms,GB,0.05\n"
    )
    with running_textbridge(database, tmp_path, price_table=table) as running:
        yield running


def test_a_custom_price_table_prices_the_preview_and_the_report(
    priced: Textbridge, tmp_path: Path
) -> None:
    table = str(priced.settings.price_table)
    recipients = tmp_path / "europe.csv"
    recipients.write_text("phone\n+14155550231\n+14155550232\n+447400123456\n+33612345678\n")
    sent = _cli(priced, "send", str(recipients), "--text", "Hi", "--quiet-hours", "off")
    output = _output(sent)
    # recipients, invalid, duplicates, segments, estimate, unpriced. With the built-in table
    # it would be 0.1310 (0.0055 twice, 0.04, 0.08) and nothing unpriced.
    assert re.search(r"│\s+4\s+│\s+0\s+│\s+0\s+│\s+4\s+│\s+0\.0700 USD\s+│\s+1\s+│", output), output
    assert "completed" in output
    assert "cost: 0.0700 USD for what was sent (estimate for all: 0.0700; 1 unpriced; " in output
    assert table in " ".join(output.split())

    report = _report(priced, _campaign_id(output))
    assert report["progress"]["sent"] == 4
    assert report["cost"] == {
        "currency": "USD",
        "estimate": "0.0700",
        "sent": "0.0700",
        "unpriced": 1,
        "price_table": table,
    }
    preview = priced.api.get(f"/api/v1/campaigns/{report['campaign']['id']}/preview").json()
    assert {row["to"]: row["price"] for row in preview["first_rows"]} == {
        "+14155550231": "0.0100",
        "+14155550232": "0.0100",
        "+447400123456": "0.0500",
        "+33612345678": None,
    }
