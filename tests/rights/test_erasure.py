"""Erasure on both databases, through the real app: afterwards the person's address (in every
form it is stored in), name and texts are in no column of any table and in no stored file;
the other person's data is as it was; their opt-out still stands, as a keyed-hash tombstone."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import insert, update

from textbridge.auth.keys import hash_key
from textbridge.models import ApiKey, ConsentRecord, Message

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from ..webhooks_out.receiver import receiver
from .people import (
    BORIS,
    PLIVO_SMS,
    ZELDA,
    Someone,
    address_hash,
    catalog_tables,
    columns,
    fill,
    found_in_database,
    found_in_files,
    record_opt_out,
    run_campaigns,
)

SEND_READ_KEY = "tb_send_read_0123456789abcdefghijklmn"


def _export(textbridge: Textbridge, who: Someone) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/contacts/{who.address}/export")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    document.pop("exported_at")
    return document


def _stored_files(textbridge: Textbridge, who: Someone) -> list[Path]:
    rows = textbridge.database.rows(
        "SELECT a.local_path FROM attachments a JOIN messages m ON m.id = a.message_id"
        " WHERE m.from_address = :address AND a.local_path IS NOT NULL",
        address=who.address,
    )
    return [Path(row[0]) for row in rows]


# Tables added after the erasure was written: the scan must reach them without naming them.
NEWER_TABLES = {"message_counts", "delivery_time_counts", "live_events", "webhook_deliveries"}


def test_erasure_leaves_nothing_of_the_person_and_keeps_their_opt_out(
    textbridge: Textbridge, tmp_path: Path
) -> None:
    with receiver() as hooks:
        # Outbound webhooks: each delivery keeps its event's data (texts, numbers, the name).
        subscription = textbridge.api.post(
            "/api/v1/webhook-subscriptions",
            json={"url": hooks.url, "event_types": ["message.created", "message.status"]},
        )
        assert subscription.status_code == 201, subscription.text
        for who in (ZELDA, BORIS):
            fill(textbridge, who)
        run_campaigns(textbridge, ZELDA, BORIS)
        # An application's Idempotency-Key that names her (kept in `message_keys` on PostgreSQL).
        keyed = textbridge.api.post(
            "/api/v1/messages",
            json={"to": ZELDA.address, "text": f"{ZELDA.tag} keyed", "from": PLIVO_SMS},
            headers={"Idempotency-Key": f"reminder-{ZELDA.address}"},
        )
        assert keyed.status_code == 202, keyed.text
        textbridge.wait_for_status(keyed.json()["id"], "delivered", timeout=20)
        wait_until(lambda: _deliveries_settled(textbridge), timeout=30)
    record_opt_out(textbridge.database, ZELDA)
    zelda_files = _stored_files(textbridge, ZELDA)
    assert len(zelda_files) == 2
    assert all(path.is_file() for path in zelda_files)
    # The scan reads the database's own catalog: every table, partition and newer table.
    scanned = set(columns(textbridge.database))
    assert catalog_tables(textbridge.database) <= scanned
    assert scanned >= NEWER_TABLES
    if textbridge.database.backend == "postgresql":
        assert "message_keys" in scanned
        assert "messages_default" in scanned
        assert any(re.fullmatch(r"messages_y\d{4}m\d{2}", table) for table in scanned)
    # The scan can fail: before erasure it finds her everywhere, the journal included.
    before = "\n".join(found_in_database(textbridge.database, ZELDA))
    for where in (
        "contacts.name",
        "messages.body",
        "webhook_journal.body",
        "attachments.caption",
        "consent_records.evidence",
        "campaign_recipients.body",
        "webhook_deliveries.payload",
    ):
        assert where in before, where
    if textbridge.database.backend == "postgresql":  # the rows are in the month's partition
        assert (
            "live_events.data" in before
        )  # the live-event table is PostgreSQL's (SQLite's bus is in memory)
        assert re.search(r"^messages_y\d{4}m\d{2}\.body ", before, re.MULTILINE), before
        assert "message_keys.key" in before
    assert found_in_files(tmp_path / "media", ZELDA)
    boris_before = _export(textbridge, BORIS)

    response = textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}")

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["messages"] >= 9
    assert report["webhook_deliveries"] > 0
    assert report["files_deleted"] == 2
    assert report["files_failed"] == 0
    assert report["opt_out_recorded"] is False  # she had opted out already
    assert found_in_database(textbridge.database, ZELDA) == []
    assert found_in_files(tmp_path / "media", ZELDA) == []
    if textbridge.database.backend == "sqlite":  # the database file and its write-ahead log
        assert list(tmp_path.glob("*.db-wal"))
        assert found_in_files(tmp_path, ZELDA) == []
    assert not any(path.exists() for path in zelda_files)
    # Boris is untouched, in the database and on disk.
    assert _export(textbridge, BORIS) == boris_before
    assert found_in_files(tmp_path / "media", BORIS)
    assert all(path.is_file() for path in _stored_files(textbridge, BORIS))
    assert "webhook_deliveries.payload" in "\n".join(found_in_database(textbridge.database, BORIS))
    _her_opt_out_stands(textbridge)
    _counts_are_kept(textbridge, report["address_hash"])


def _deliveries_settled(textbridge: Textbridge) -> bool:
    """Every outbound webhook delivered (none left pending to race the erasure)."""
    counts = dict(
        textbridge.database.rows("SELECT status, count(*) FROM webhook_deliveries GROUP BY 1")
    )
    return bool(counts.get("delivered")) and not counts.get("pending")


def _her_opt_out_stands(textbridge: Textbridge) -> None:
    hashed = address_hash(textbridge.database, ZELDA.address)
    rows = textbridge.database.rows(
        "SELECT action, scope, address, evidence FROM consent_records WHERE address_hash = :h",
        h=hashed,
    )
    assert [tuple(row) for row in rows] == [("opt_out", "*", None, None)]
    audit = textbridge.database.rows("SELECT actor, action, target, detail FROM audit_log")
    erased = [(row[1], row[2]) for row in audit if row[1] == "contact.erased"]
    assert erased == [("contact.erased", f"address:{hashed}")]
    assert ZELDA.digits not in str(audit)


def _counts_are_kept(textbridge: Textbridge, hashed: str) -> None:
    pseudonym = f"erased:{hashed}"
    kept = textbridge.database.rows(
        "SELECT direction, status FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " JOIN contacts p ON p.id = c.contact_id WHERE p.address = :pseudonym",
        pseudonym=pseudonym,
    )
    directions = sorted(row[0] for row in kept)
    assert directions.count("inbound") == 4
    assert directions.count("outbound") == 5  # three API sends, the keyed one, the campaign's
    assert {row[1] for row in kept} <= {"received", "delivered", "read"}


def test_erasure_is_idempotent_and_records_an_opt_out_when_there_was_none(
    textbridge: Textbridge,
) -> None:
    textbridge.inbound(f"{BORIS.tag} hello", sender=BORIS.address)
    wait_until(lambda: textbridge.api.get("/api/v1/conversations").json(), timeout=10)
    first = textbridge.api.delete(f"/api/v1/contacts/{BORIS.digits}")  # any written form
    assert first.status_code == 200, first.text
    assert first.json()["opt_out_recorded"] is True
    assert first.json()["messages"] == 1

    again = textbridge.api.delete(f"/api/v1/contacts/{BORIS.address}")

    assert again.status_code == 200, again.text
    assert again.json()["opt_out_recorded"] is False
    assert again.json()["contacts"] == 1  # found again by its pseudonym
    assert found_in_database(textbridge.database, BORIS) == []
    [conversation] = textbridge.api.get("/api/v1/conversations").json()
    assert conversation["contact_address"] == f"erased:{again.json()['address_hash']}"
    assert (conversation["contact_name"], conversation["last_message_preview"]) == (None, None)
    assert conversation["replyable"] is False
    [message] = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert (message["direction"], message["text"]) == ("inbound", None)
    hashed = address_hash(textbridge.database, BORIS.address)
    assert textbridge.database.rows(
        "SELECT action, source, address FROM consent_records WHERE address_hash = :h", h=hashed
    ) == [("opt_out", "erasure", None)]
    actions = textbridge.database.rows("SELECT action FROM audit_log ORDER BY id")
    assert [row[0] for row in actions] == ["contact.erased", "contact.erased"]


def test_a_person_who_writes_again_after_erasure_can_be_erased_again(
    textbridge: Textbridge,
) -> None:
    for round_ in (1, 2):
        textbridge.inbound(f"{BORIS.tag} hello {round_}", sender=BORIS.address)
        wait_until(
            lambda: textbridge.database.scalar(
                "SELECT count(*) FROM contacts WHERE address = :a", a=BORIS.address
            ),
            timeout=10,
        )
        erased = textbridge.api.delete(f"/api/v1/contacts/{BORIS.address}")
        assert erased.status_code == 200, erased.text
        assert erased.json()["messages"] == round_  # both conversations' messages, the 2nd time
    assert found_in_database(textbridge.database, BORIS) == []
    kinds = textbridge.database.rows("SELECT address_kind, count(*) FROM contacts GROUP BY 1")
    assert [tuple(row) for row in kinds] == [("erased", 2)]


def test_export_and_erasure_need_the_admin_scope(textbridge: Textbridge) -> None:
    textbridge.inbound(f"{ZELDA.tag} hi", sender=ZELDA.address)
    wait_until(lambda: textbridge.api.get("/api/v1/conversations").json(), timeout=10)
    textbridge.database.run(
        insert(ApiKey).values(
            name="agent",
            prefix=SEND_READ_KEY[:8],
            key_hash=hash_key(SEND_READ_KEY),
            scopes="send read",
        )
    )
    for key, status in (("tb_wrong", 401), (SEND_READ_KEY, 403)):
        headers = {"Authorization": f"Bearer {key}"}
        export = textbridge.api.get(f"/api/v1/contacts/{ZELDA.address}/export", headers=headers)
        erase = textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}", headers=headers)
        assert (export.status_code, erase.status_code) == (status, status)
    assert textbridge.database.scalar("SELECT name FROM contacts") is None  # nothing erased
    assert textbridge.database.scalar("SELECT count(*) FROM messages WHERE body IS NOT NULL") == 1
    assert textbridge.database.scalar("SELECT count(*) FROM audit_log") == 0


def test_an_erased_persons_opt_out_still_refuses_a_send(textbridge: Textbridge) -> None:
    record_opt_out(textbridge.database, ZELDA)
    assert textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}").status_code == 200

    response = textbridge.api.post(
        "/api/v1/messages", json={"to": ZELDA.address, "text": "are you still there?"}
    )

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "recipient_opted_out"


def test_erasure_opts_out_a_person_who_had_opted_back_in_to_one_sender(
    textbridge: Textbridge,
) -> None:
    """STOPALL then START to one sender: the latest all-senders record is an opt-out, yet the
    person may be sent to from that sender. Erasure means "do not contact": from none."""
    record_opt_out(textbridge.database, ZELDA)
    textbridge.database.run(
        insert(ConsentRecord).values(
            address=ZELDA.address,
            address_hash=address_hash(textbridge.database, ZELDA.address),
            action="opt_in",
            scope=PLIVO_SMS,
            channel="sms",
            source="keyword",
            kind="express",
        )
    )
    assert textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}").status_code == 200

    response = textbridge.api.post(
        "/api/v1/messages", json={"to": ZELDA.address, "from": PLIVO_SMS, "text": "still there?"}
    )

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "recipient_opted_out"


def test_a_status_callback_after_the_erasure_keeps_no_copy_of_the_address(
    textbridge: Textbridge,
) -> None:
    """A delivery report often comes minutes after the send: erased by then, the person's
    number in its payload must not go into the message's history."""
    delayed = textbridge.simulator.put("/control/faults", json={"callback_delay_seconds": 2})
    assert delayed.status_code == 200, delayed.text
    sent = textbridge.api.post(
        "/api/v1/messages", json={"to": BORIS.address, "from": PLIVO_SMS, "text": "hello"}
    )
    assert sent.status_code == 202, sent.text
    textbridge.wait_for_status(sent.json()["id"], "submitted")  # the callbacks come later
    assert textbridge.api.delete(f"/api/v1/contacts/{BORIS.address}").status_code == 200

    def reported() -> int:
        return textbridge.database.scalar(
            "SELECT count(*) FROM message_events WHERE source = 'plivo' AND status = 'sent'"
        )

    wait_until(reported, timeout=20)
    assert [
        hit for hit in found_in_database(textbridge.database, BORIS) if "message_events" in hit
    ] == []


def test_an_erased_persons_message_is_never_sent_again(textbridge: Textbridge) -> None:
    """A message whose outcome was unknown at the erasure (or in flight, then retried) names
    the pseudonym now: a resend must not go out to it."""
    sent = textbridge.api.post(
        "/api/v1/messages", json={"to": BORIS.address, "from": PLIVO_SMS, "text": "hello"}
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    textbridge.wait_for_status(message_id, "delivered")  # the simulator's last report
    textbridge.database.run(
        update(Message).where(Message.id == uuid.UUID(message_id)).values(status="unknown")
    )
    assert textbridge.api.delete(f"/api/v1/contacts/{BORIS.address}").status_code == 200

    resent = textbridge.api.post(f"/api/v1/messages/{message_id}/resend")

    assert resent.status_code == 200, resent.text
    skipped = textbridge.wait_for_status(message_id, "cancelled")
    assert skipped["error_code"] == "recipient_opted_out"


@pytest.mark.postgresql_only
def test_an_erasure_chosen_as_a_deadlocks_victim_runs_again(textbridge: Textbridge) -> None:
    """The journal applier locks an entry, then its message; the erasure locks the person's
    messages, then their entries. A connection playing the applier's part makes a real
    deadlock, and waits longer before checking for one, so that PostgreSQL picks the erasure
    as the victim: the erasure must run again and succeed, not answer 500."""
    fill(textbridge, BORIS)
    message_id = textbridge.database.scalar(
        "SELECT id FROM messages WHERE from_address = :address LIMIT 1", address=BORIS.address
    )
    deadlocks_before = _deadlocks(textbridge)
    locked = threading.Event()
    release = threading.Event()
    outcome: list[str] = []
    applier_pid: list[int] = []

    async def play_the_applier() -> None:
        url = textbridge.database.url.replace("postgresql+asyncpg", "postgresql")
        connection = await asyncpg.connect(url)
        applier_pid.append(connection.get_server_pid())
        try:
            await connection.execute("SET deadlock_timeout = '10s'")
            async with connection.transaction():
                await connection.execute(
                    "SELECT 1 FROM webhook_journal WHERE body LIKE $1 FOR UPDATE",
                    f"%{BORIS.tag}%",
                )
                locked.set()
                await asyncio.to_thread(release.wait)
                await connection.execute(
                    "UPDATE messages SET updated_at = updated_at WHERE id = $1", message_id
                )
            outcome.append("committed")
        finally:
            await connection.close()

    applier = threading.Thread(target=lambda: asyncio.run(play_the_applier()))
    applier.start()
    assert locked.wait(timeout=30)
    erasure = threading.Thread(
        target=lambda: outcome.append(
            str(textbridge.api.delete(f"/api/v1/contacts/{BORIS.address}").status_code)
        )
    )
    erasure.start()

    def erasure_waits_for_the_journal() -> bool:
        # This test's database only (under xdist other workers' databases share the server),
        # and the erasure's DELETE blocked by the applier's very connection: then releasing the
        # applier makes a real deadlock.
        return bool(
            textbridge.database.scalar(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND query ILIKE 'DELETE FROM webhook_journal%'"
                " AND :applier = ANY(pg_blocking_pids(pid))",
                applier=applier_pid[0],
            )
        )

    wait_until(erasure_waits_for_the_journal, timeout=30)
    release.set()
    applier.join(timeout=60)
    erasure.join(timeout=60)
    assert sorted(outcome) == ["200", "committed"]
    assert found_in_database(textbridge.database, BORIS) == []
    wait_until(lambda: _deadlocks(textbridge) > deadlocks_before, timeout=30)


def _deadlocks(textbridge: Textbridge) -> int:
    """The deadlocks PostgreSQL has detected in this test's database (its statistics)."""
    return int(
        textbridge.database.scalar(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
    )
