"""Export on both databases, through the real app and the CLI: one JSON document with the
contact, every message (texts, media references, template, status history), consent records
and staged campaign texts, read page by page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from textbridge.cli import app
from textbridge.compliance import export

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from .people import BORIS, ZELDA, fill, record_opt_out, run_campaigns


def _texts(document: dict[str, Any]) -> list[str]:
    return sorted(message["text"] for message in document["messages"] if message["text"])


def test_export_holds_everything_of_the_person(
    textbridge: Textbridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(textbridge, ZELDA)
    fill(textbridge, BORIS)
    run_campaigns(textbridge, ZELDA, BORIS)
    record_opt_out(textbridge.database, ZELDA)
    monkeypatch.setattr(export, "PAGE", 3)  # several pages, and a last one that is full

    response = textbridge.api.get(f"/api/v1/contacts/{ZELDA.address}/export")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["format"] == "textbridge.contact-export/1"
    assert document["contact"]["name"] == ZELDA.name
    assert document["contact"]["address"] == ZELDA.address
    messages = document["messages"]
    assert len(messages) == 8  # 4 in, 3 sent through the API, 1 from the campaign
    assert len({message["id"] for message in messages}) == 8
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    assert _texts(document) == sorted(
        [
            f"{ZELDA.tag} sms in",
            f"{ZELDA.tag} mms caption",
            f"{ZELDA.tag} whatsapp in",
            f"{ZELDA.tag} pic",  # a WhatsApp image's caption is its text too
            f"{ZELDA.tag} out plivo sms",
            f"{ZELDA.tag} out vonage sms",
            f"{ZELDA.tag} out vonage whatsapp",
            f"Hello {ZELDA.name}, see you soon",
        ]
    )
    assert not any(BORIS.tag in json.dumps(message) for message in messages)
    media = [item for message in messages for item in message["media"]]
    assert len(media) == 2
    assert all(item["local_url"] and item["download_state"] == "stored" for item in media)
    assert {item["caption"] for item in media} >= {f"{ZELDA.tag} pic"}
    sent = next(m for m in messages if m["text"] == f"{ZELDA.tag} out plivo sms")
    assert [event["status"] for event in sent["events"]][-1] == "delivered"
    assert all(event["raw"] is not None for event in sent["events"] if event["source"] == "plivo")
    assert [record["action"] for record in document["consent"]] == ["opt_out"]
    assert document["consent"][0]["evidence"]["text"] == "STOP"
    assert [row["text"] for row in document["campaign_recipients"]] == [
        f"Hello {ZELDA.name}, see you soon"
    ] * 2  # the started campaign's row and the draft's
    audit = textbridge.database.rows("SELECT action, target FROM audit_log")
    assert [row[0] for row in audit] == ["contact.exported"]
    assert ZELDA.digits not in str(audit)


def test_export_of_an_unknown_address_is_404(textbridge: Textbridge) -> None:
    response = textbridge.api.get("/api/v1/contacts/+14155550111/export")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_cli_export_to_a_file_and_erase(textbridge: Textbridge, tmp_path: Path) -> None:
    textbridge.inbound(f"{ZELDA.tag} hi", sender=ZELDA.address)
    runner = CliRunner(env={"TEXTBRIDGE_DATABASE_URL": textbridge.settings.database_url})
    output = tmp_path / "zelda.json"

    def exported() -> bool:
        result = runner.invoke(app, ["contacts", "export", ZELDA.address, "-o", str(output)])
        return result.exit_code == 0 and bool(json.loads(output.read_text())["messages"])

    wait_until(exported, timeout=10)
    assert _texts(json.loads(output.read_text())) == [f"{ZELDA.tag} hi"]

    refused = runner.invoke(app, ["contacts", "erase", ZELDA.address], input="n\n")
    assert refused.exit_code == 1
    erased = runner.invoke(app, ["contacts", "erase", ZELDA.address, "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "messages 1" in erased.output
    assert ZELDA.digits not in erased.output
    gone = runner.invoke(app, ["contacts", "export", ZELDA.address])
    # Only her tombstone is left: the export shows it, without her number or texts.
    document = json.loads(gone.stdout)
    assert document["messages"] == []
    assert document["contact"] is None
    assert [(r["action"], r["source"]) for r in document["consent"]] == [("opt_out", "erasure")]
    actors = textbridge.database.rows("SELECT actor, origin FROM audit_log")
    assert {row[1] for row in actors} == {"cli"}
