"""`textbridge campaign` against the real app over HTTP, on each database: a CSV file with
per-recipient variables, an invalid and a duplicate row, the preview, the progress bar (plain
text when not on a terminal) and the report; a JSON Lines draft started later.

The CLI runs in-process (Typer's runner, the real commands and HTTP client): a `textbridge`
process takes seconds to import on a loaded machine, and `tests/test_cli.py` covers that."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from textbridge.cli import app

from ..support.textbridge import API_KEY, Textbridge


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
