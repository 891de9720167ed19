"""The consent ledger beyond the plain keywords, over HTTP on both databases: YES, STOPALL,
Plivo's MessageIntent, provider block codes, a sender's own replies, the consent API with its
audit entries, CASL's expiry, an opt-out that outlives erasure, and the import/export CLI."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from textbridge.compliance import transfer
from textbridge.models import AuditEntry, ConsentRecord

from ..support.database import Database
from ..support.live import wait_until
from ..support.processes import TEXTBRIDGE, environment
from ..support.textbridge import CONTACT, Textbridge, running_textbridge
from ..support.webhooks import plivo_sms, post_plivo
from .test_keywords_e2e import (
    SENDER,
    consent_of,
    inbound,
    reply_of,
    send,
    simulator_got,
    thread,
)

PLIVO_SMS, VONAGE_SMS = SENDER["plivo", "sms"], SENDER["vonage", "sms"]


def stored(textbridge: Textbridge, provider: str, channel: str, words: str) -> list[str]:
    """Waits until the contact's message is stored; the thread's texts then (a keyword's
    record and reply are written in the same transaction as the message)."""

    def texts() -> list[str] | None:
        found = [m["text"] for m in thread(textbridge, provider, channel)]
        return found if words in found else None

    return wait_until(texts, timeout=10)


def test_yes_opts_in_only_after_an_opt_out(textbridge: Textbridge) -> None:
    inbound(textbridge, "plivo", "sms", "Yes")
    assert stored(textbridge, "plivo", "sms", "Yes") == ["Yes"]  # no reply
    assert consent_of(textbridge)["history"] == []

    inbound(textbridge, "plivo", "sms", "STOP")
    reply_of(textbridge, "plivo", "sms", "stop")
    inbound(textbridge, "plivo", "sms", "yes.")
    reply_of(textbridge, "plivo", "sms", "start")
    assert consent_of(textbridge)["states"][PLIVO_SMS] == "opted_in"


def test_stopall_covers_every_sender_and_start_restores_one(textbridge: Textbridge) -> None:
    inbound(textbridge, "plivo", "sms", "STOPALL")
    reply_of(textbridge, "plivo", "sms", "stop")
    assert consent_of(textbridge)["states"] == {"*": "opted_out"}
    for provider in ("plivo", "vonage"):
        refused = send(textbridge, provider, "sms")
        assert refused.status_code == 409, refused.text

    inbound(textbridge, "vonage", "sms", "START")
    reply_of(textbridge, "vonage", "sms", "start")
    states = consent_of(textbridge)["states"]
    assert states == {"*": "opted_out", VONAGE_SMS: "opted_in"}
    assert send(textbridge, "vonage", "sms").status_code == 202
    assert send(textbridge, "plivo", "sms").status_code == 409


def test_plivo_message_intent_is_honoured(textbridge: Textbridge) -> None:
    # Plivo's own standard list matched what ours does not: its word counts.
    fields = {**plivo_sms("Please stop"), "MessageIntent": "optout"}
    assert post_plivo(textbridge, fields) == 200
    reply_of(textbridge, "plivo", "sms", "stop")
    (entry,) = consent_of(textbridge)["history"]
    assert entry["evidence"]["matched_by"] == "plivo_intent"
    assert entry["evidence"]["keyword"] == "optout"


def test_vonage_sms_keyword_opts_out_with_the_first_word_setting(
    database: Database, tmp_path: Path
) -> None:
    """`TEXTBRIDGE_CONSENT_FIRST_WORD_OPT_OUT`: Vonage's `sms.keyword` (the first word, upper
    case, which the simulator adds to a signed inbound SMS as Vonage does) opts out of that
    sender though the whole text is not a keyword."""
    with running_textbridge(database, tmp_path, consent_first_word_opt_out=True) as textbridge:
        inbound(textbridge, "vonage", "sms", "stop texting me please")
        reply_of(textbridge, "vonage", "sms", "stop")
        (entry,) = consent_of(textbridge)["history"]
        assert (entry["action"], entry["scope"], entry["source"]) == (
            "opt_out",
            VONAGE_SMS,
            "keyword",
        )
        assert (entry["evidence"]["matched_by"], entry["evidence"]["keyword"]) == (
            "first_word",
            "STOP",
        )
        refused = send(textbridge, "vonage", "sms")
        assert refused.status_code == 409, refused.text


def test_a_first_word_alone_is_no_opt_out_by_default(textbridge: Textbridge) -> None:
    """Without the setting, Vonage's `sms.keyword` is not an intent: "Stop by at 5?" stays a
    message (the simulator sends `sms.keyword` STOP with it)."""
    inbound(textbridge, "vonage", "sms", "Stop by at 5?")
    assert stored(textbridge, "vonage", "sms", "Stop by at 5?") == ["Stop by at 5?"]
    assert consent_of(textbridge)["history"] == []
    assert send(textbridge, "vonage", "sms").status_code == 202


def test_a_provider_block_code_records_an_opt_out(textbridge: Textbridge) -> None:
    blocked = {"plivo": ("+14155550177", "200"), "vonage": ("+14155550178", "1050")}
    for provider, (number, code) in blocked.items():
        fate = {"outcome": "failed", "error_code": code, "provider": provider}
        assert textbridge.simulator.put(f"/control/numbers/{number}", json=fate).status_code == 200
        sent = send(textbridge, provider, "sms", to=number)
        assert sent.status_code == 202, sent.text
        failed = textbridge.wait_for_status(sent.json()["id"], "failed", "undelivered", "rejected")
        assert failed["error_code"] == code

        def recorded(address: str = number) -> list[dict[str, Any]]:
            return consent_of(textbridge, address)["history"]

        (entry,) = wait_until(recorded, timeout=10)
        assert (entry["action"], entry["scope"], entry["source"]) == ("opt_out", "*", "provider")
        assert entry["evidence"]["error_code"] == code
        again = send(textbridge, "plivo" if provider == "vonage" else "vonage", "sms", to=number)
        assert again.status_code == 409, again.text


def test_a_refused_confirmation_is_not_a_block(textbridge: Textbridge) -> None:
    # Plivo takes one message to an opted-out number within 5 minutes of its STOP; a later
    # or second confirmation fails with 200, which must not widen the opt-out to every sender.
    fate = {"outcome": "failed", "error_code": "200", "provider": "plivo"}
    assert textbridge.simulator.put(f"/control/numbers/{CONTACT}", json=fate).status_code == 200
    inbound(textbridge, "plivo", "sms", "STOP")

    def failed() -> dict[str, Any] | None:
        replies = [m for m in thread(textbridge, "plivo", "sms") if m["direction"] == "outbound"]
        return replies[0] if replies and replies[0]["status"] == "failed" else None

    assert wait_until(failed, timeout=20)["error_code"] == "200"
    assert consent_of(textbridge)["states"] == {"*": "none", PLIVO_SMS: "opted_out"}
    assert send(textbridge, "vonage", "sms").status_code == 202


def test_a_senders_own_replies(textbridge: Textbridge) -> None:
    senders = textbridge.api.get("/api/v1/senders").json()
    plivo = next(s for s in senders if s["address"] == PLIVO_SMS and s["channel"] == "sms")
    assert plivo["reply_stop"] is None
    assert plivo["replies"]["stop"].startswith("You are unsubscribed")
    changed = textbridge.api.patch(
        f"/api/v1/senders/{plivo['id']}", json={"reply_stop": "Bye from Acme.", "reply_help": ""}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["reply_stop"], changed.json()["replies"]["help"]) == (
        "Bye from Acme.",
        "",
    )
    too_long = textbridge.api.patch(
        f"/api/v1/senders/{plivo['id']}", json={"reply_stop": "x" * 1601}
    )
    assert too_long.status_code == 422

    inbound(textbridge, "plivo", "sms", "HELP")
    assert stored(textbridge, "plivo", "sms", "HELP") == ["HELP"]  # "" sends nothing
    inbound(textbridge, "plivo", "sms", "stop")
    wait_until(lambda: "Bye from Acme." in simulator_got(textbridge, "plivo", CONTACT), timeout=20)
    assert simulator_got(textbridge, "plivo", CONTACT) == ["Bye from Acme."]


def test_the_consent_api_records_and_audits(textbridge: Textbridge) -> None:
    url = f"/api/v1/contacts/{CONTACT}/consent"
    opted_out = textbridge.api.post(url, json={"action": "opt_out", "evidence": {"form": "web"}})
    assert opted_out.status_code == 201, opted_out.text
    assert opted_out.json()["states"] == {"*": "opted_out"}
    (entry,) = opted_out.json()["history"]
    assert (entry["source"], entry["kind"], entry["evidence"]["form"]) == ("api", "express", "web")
    assert entry["actor"].startswith("key:")
    assert send(textbridge, "plivo", "sms").status_code == 409

    # CASL: an implied consent that lapsed is no consent, and the opt-out before it holds.
    lapsed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    # The scope is written as the sender's address is stored, whatever the `+`.
    body = {"action": "opt_in", "kind": "implied", "scope": "14155550100", "expires_at": lapsed}
    assert textbridge.api.post(url, json=body).json()["states"][PLIVO_SMS] == "opted_out"
    implied = textbridge.api.post(
        url, json={"action": "opt_in", "kind": "implied", "scope": PLIVO_SMS}
    )
    record = implied.json()["history"][-1]
    assert implied.json()["states"][PLIVO_SMS] == "opted_in"
    expires = datetime.fromisoformat(record["expires_at"]) - datetime.fromisoformat(
        record["recorded_at"]
    )
    assert expires == timedelta(days=730)  # CASL's two years, by default

    for bad in (
        {"action": "maybe"},
        {"action": "opt_out", "kind": "implied"},
        {"action": "opt_out", "scope": ""},
        {"action": "opt_out", "scope": "not a number"},
        {"action": "opt_out", "evidence": {"form": "a\u0000b"}},
        {"action": "opt_in", "kind": "implied", "expires_at": "2027-01-01T00:00:00"},  # whose?
    ):
        refused = textbridge.api.post(url, json=bad)
        assert refused.status_code == 422, refused.text
    assert textbridge.api.get("/api/v1/contacts/not-a-number/consent").status_code == 422

    audit = textbridge.database.run(select(AuditEntry.action, AuditEntry.target, AuditEntry.detail))
    assert [row.action for row in audit] == ["consent.changed"] * 3
    assert all(row.target.startswith("address:") and CONTACT not in row.target for row in audit)
    assert CONTACT.lstrip("+") not in json.dumps([row.detail for row in audit])


def test_an_opt_out_outlives_erasure(textbridge: Textbridge) -> None:
    inbound(textbridge, "plivo", "sms", "STOP")
    reply_of(textbridge, "plivo", "sms", "stop")
    # What the erasure does to the ledger (the rights lane): the number and evidence go.
    textbridge.database.run(update(ConsentRecord).values(address=None, evidence=None))
    assert textbridge.database.run(select(ConsentRecord.address)) == [(None,)]

    assert consent_of(textbridge)["states"][PLIVO_SMS] == "opted_out"
    assert send(textbridge, "plivo", "sms").status_code == 409


def _cli(*args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TEXTBRIDGE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(TEXTBRIDGE_DATABASE_URL=url),
        check=False,
    )


@pytest.mark.timeout(300)  # three CLI start-ups on a loaded machine
def test_import_and_export(database: Database, tmp_path: Path) -> None:
    url = database.fresh_url(tmp_path)
    source = tmp_path / "from-elsewhere.csv"
    source.write_text(
        "address,action,scope,kind,recorded_at,evidence\n"
        "+14155550123,opt_out,*,express,2025-03-01T10:00:00Z,paper form 17\n"
        "14155550124,opt_in,+14155550100,implied,2026-01-01T00:00:00+00:00,\n"
        "not a number,opt_out,*,express,,\n"
        "+14155550125,unsubscribe,*,express,,\n"
        '+14155550126,opt_out,*,express,,"{""x"": ""a\\u0000b""}"\n'
    )
    imported = _cli("consent", "import", str(source), cwd=tmp_path, url=url)
    assert imported.returncode == 1, imported.stderr  # bad rows are reported, not fatal
    assert "recorded 3 of 5" in imported.stderr
    assert "row 3:" in imported.stderr
    assert "row 4: action" in imported.stderr

    exported = _cli("consent", "export", "--format", "json", cwd=tmp_path, url=url)
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)["records"]
    assert [(r["address"], r["action"], r["source"]) for r in records] == [
        ("+14155550123", "opt_out", "import"),
        ("+14155550124", "opt_in", "import"),
        ("+14155550126", "opt_out", "import"),
    ]
    assert records[2]["evidence"] == {"x": "ab"}  # a NUL is not storable: dropped
    assert records[0]["recorded_at"].startswith("2025-03-01T10:00:00")
    assert records[0]["evidence"] == {"note": "paper form 17"}
    assert records[1]["expires_at"].startswith("2028-01-01")

    # The JSON export imports again (another installation, say); CSV carries the same fields.
    again = tmp_path / "export.json"
    again.write_text(exported.stdout)
    assert _cli("consent", "import", str(again), cwd=tmp_path, url=url).returncode == 0
    lines = transfer.as_csv(records).splitlines()
    assert lines[0] == ",".join(transfer.EXPORT_FIELDS)
    assert transfer.rows_of("\n".join(lines), "csv")[0]["evidence"] == '{"note": "paper form 17"}'
    audited = database.scalar("SELECT count(*) FROM audit_log WHERE action = 'consent.changed'")
    assert audited == 6  # one per record imported


def test_the_inbox_cannot_send_to_an_opted_out_address(textbridge: Textbridge) -> None:
    """The inbox's session (its cookie and CSRF token, as its script sends them), as an agent,
    takes the same path."""
    with textbridge.sign_in("agent", role="agent") as inbox:
        url = f"/api/v1/contacts/{CONTACT}/consent"
        recorded = inbox.post(url, json={"action": "opt_out", "scope": PLIVO_SMS})
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["history"][0]["source"] == "inbox"
        body = {"to": CONTACT, "text": "Hello?", "provider": "plivo"}
        refused = inbox.post("/api/v1/messages", json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "recipient_opted_out"
    # A person changed it: in the audit log, with who and from where (never the number).
    audit = textbridge.database.run(select(AuditEntry.actor, AuditEntry.action, AuditEntry.origin))
    changed = [tuple(row) for row in audit if row.action == "consent.changed"]
    assert changed == [("user:agent", "consent.changed", "127.0.0.1")]
