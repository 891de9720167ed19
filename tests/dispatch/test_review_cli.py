"""`textbridge messages review` against a real running textbridge (sandbox, over HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from textbridge.cli import app
from textbridge.cli import messages as messages_cli

from ..api.test_review_api import _unknown_with_one_time
from ..support.database import Database
from ..support.textbridge import API_KEY, Textbridge, running_textbridge


def _unknown(textbridge: Textbridge, to: str) -> str:
    faults = {"fail_next_sends": {"status": 504, "count": 1}}
    assert textbridge.simulator.put("/control/faults", json=faults).status_code == 200
    message_id = str(textbridge.send(to=to)["id"])
    textbridge.wait_for_status(message_id, "unknown")
    return message_id


def _review(textbridge: Textbridge, *options: str, stdin: str | None = None) -> str:
    arguments = ["messages", "review", "--url", textbridge.url, "--api-key", API_KEY, *options]
    result = CliRunner().invoke(app, arguments, input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_review_lists_resends_and_closes(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path) as textbridge:
        assert "No message is unknown" in _review(textbridge)
        first = _unknown(textbridge, "+14155550171")
        second = _unknown(textbridge, "+14155550172")
        listed = _review(textbridge, "--no-ask")
        assert first[:8] in listed
        assert second[:8] in listed
        skipped = _review(textbridge, "--ask", stdin="k\nq\n")
        assert ": now " not in skipped

        assert "now accepted" in _review(textbridge, "--resend", first, "--yes")
        textbridge.wait_for_status(first, "delivered")
        closed = _review(textbridge, "--close", second, "--as", "not_sent", "--note", "absent")
        assert "now failed" in closed
        assert textbridge.message(second)["error_code"] == "closed_unsent"

        command = ["messages", "review", "--url", textbridge.url, "--api-key", API_KEY]
        result = CliRunner().invoke(app, [*command, "--resend", first, "--yes"])
        assert result.exit_code == 1
        assert "409 not_unknown" in result.output


def test_review_asks_about_each(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path) as textbridge:
        first = _unknown(textbridge, "+14155550173")
        second = _unknown(textbridge, "+14155550174")
        answers = "x\ns\nn\n"  # an unknown answer is asked again
        output = _review(textbridge, "--ask", stdin=answers)
        assert output.count(": now ") == 2
        statuses = {textbridge.message(m)["status"] for m in (first, second)}
        assert statuses == {"sent", "failed"}


def test_review_pages_through_every_unknown_message(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More unknown messages than a page (made 2 here), some sharing one time: each is
    listed, and asked about, exactly once."""
    monkeypatch.setattr(messages_cli, "PAGE_SIZE", 2)
    with running_textbridge(database, tmp_path) as textbridge:
        ids = _unknown_with_one_time(textbridge, 5)
        listed = _review(textbridge, "--no-ask")
        assert [line for line in listed.splitlines() if "unknown messages" in line][-1] == (
            "5 unknown messages."
        )
        for message_id in ids:
            assert listed.count(message_id[:8]) == 1
        output = _review(textbridge, "--ask", stdin="s\n" * 5)
        assert output.count(": now sent") == 5
        assert {textbridge.message(m)["status"] for m in ids} == {"sent"}
        assert "No message is unknown" in _review(textbridge)
