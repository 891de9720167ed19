"""A campaign from a CSV upload and its preview, over HTTP on both databases: the first rows
as each recipient gets them, refused rows and why, the opted-out count, the cost estimate and
the quiet hours; a CSV that cannot be read is a clear 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ..support.live import wait_until
from ..support.textbridge import Textbridge

CSV = (
    "phone,name\n"
    "+14155550201,Ann\n"
    "+14155550202,Bob\n"
    "415 555 0199,Nobody\n"
    "+14155550203\n"  # no name: too short a row
    "+14155550204,Opted\n"
    "+14155550201,Ann again\n"
)


def _draft(textbridge: Textbridge, **body: Any) -> str:
    defaults = {"name": "csv", "text": "Hi {name}!", "quiet_hours": "09:00-20:00"}
    created = textbridge.api.post("/api/v1/campaigns", json={**defaults, **body})
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["campaign"]["id"]
    return campaign_id


def _upload(textbridge: Textbridge, campaign_id: str, content: bytes) -> httpx.Response:
    files = {"file": ("list.csv", content, "text/csv")}
    return textbridge.api.post(f"/api/v1/campaigns/{campaign_id}/recipients/csv", files=files)


def test_csv_upload_and_preview(textbridge: Textbridge) -> None:
    opt_out = {"action": "opt_out"}
    answer = textbridge.api.post("/api/v1/contacts/+14155550204/consent", json=opt_out)
    assert answer.status_code == 201, answer.text
    campaign_id = _draft(textbridge)
    uploaded = _upload(textbridge, campaign_id, CSV.encode())
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    assert [row["row"] for row in body["invalid"]] == [3, 4]

    preview = textbridge.api.get(f"/api/v1/campaigns/{campaign_id}/preview")
    assert preview.status_code == 200, preview.text
    found = preview.json()
    assert [(r["row"], r["to"], r["text"]) for r in found["first_rows"]] == [
        (1, "+14155550201", "Hi Ann!"),
        (2, "+14155550202", "Hi Bob!"),
    ]
    assert all(r["segments"] == 1 and r["price"] == "0.0055" for r in found["first_rows"])
    assert [(r["row"], r["reason"]) for r in found["invalid_rows"]] == [
        (3, "'415 555 0199' is not in international format (E.164, e.g. +14155550100)"),
        (4, "no value for {name}"),
    ]
    assert found["opted_out"] == 1
    assert found["campaign"]["cost_estimate"] == "0.0110"
    assert found["departures"]["quiet_hours"] == "09:00-20:00"
    assert found["departures"]["estimated"] is True
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def test_csv_campaign_runs_to_its_report(textbridge: Textbridge) -> None:
    campaign_id = _draft(textbridge, quiet_hours=False)
    assert _upload(textbridge, campaign_id, CSV.encode()).status_code == 200
    assert textbridge.api.post(f"/api/v1/campaigns/{campaign_id}/start").status_code == 200

    def completed() -> dict[str, Any] | None:
        report: dict[str, Any] = textbridge.api.get(
            f"/api/v1/campaigns/{campaign_id}/report"
        ).json()
        return report if report["campaign"]["state"] == "completed" else None

    report = wait_until(completed, timeout=30)
    assert report["progress"]["total"] == 3
    assert report["skipped"]["invalid"] == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"name,city\nAnn,Paris\n", "no address column"),
        (b"to,name\n+14155550201,\xff\xfe\n", "not UTF-8"),
    ],
)
def test_unreadable_csv_is_a_clear_422(textbridge: Textbridge, content: bytes, words: str) -> None:
    campaign_id = _draft(textbridge)
    answer = _upload(textbridge, campaign_id, content)
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["error"]["message"]


def test_csv_to_a_started_or_missing_campaign(textbridge: Textbridge) -> None:
    campaign_id = _draft(textbridge)
    assert _upload(textbridge, campaign_id, CSV.encode()).status_code == 200
    assert textbridge.api.post(f"/api/v1/campaigns/{campaign_id}/start").status_code == 200
    assert _upload(textbridge, campaign_id, CSV.encode()).status_code == 409
    missing = "00000000-0000-4000-8000-000000000000"
    assert _upload(textbridge, missing, CSV.encode()).status_code == 404
    assert textbridge.api.get(f"/api/v1/campaigns/{missing}/preview").status_code == 404


def test_a_nul_in_a_csv_value_refuses_that_row(textbridge: Textbridge) -> None:
    campaign_id = _draft(textbridge)
    answer = _upload(textbridge, campaign_id, b"to,name\n+14155550201,A\x00nn\n+14155550202,Bo\n")
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    [refused] = answer.json()["invalid"]
    assert refused["row"] == 1
    assert "NUL" in refused["reason"]
