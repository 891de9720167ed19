"""Message retention on both databases: content older than the retention is purged (texts,
media files, raw payloads, journal bodies), the rows and their counts stay, recent content
and messages that have not left yet are kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from textbridge.compliance.retention import ContentPurger
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.models import (
    Attachment,
    Message,
    MessageEvent,
    WebhookDelivery,
    WebhookJournalEntry,
    WebhookSubscription,
)

from ..support.database import Database, run_sync
from ..support.textbridge import Textbridge, running_textbridge
from .people import ZELDA, fill

OLD = datetime.now(UTC) - timedelta(days=40)
COUNTS = "SELECT direction, status, count(*) FROM messages GROUP BY 1, 2 ORDER BY 1, 2"
OLD_TEXTS = (f"{ZELDA.tag} sms in", f"{ZELDA.tag} mms caption", f"{ZELDA.tag} out plivo sms")


def _age_the_plivo_half(textbridge: Textbridge) -> None:
    """Everything that went through Plivo, 40 days back; the Vonage half stays recent."""
    db = textbridge.database
    db.run(update(Message).where(Message.body.in_(OLD_TEXTS)).values(created_at=OLD))
    old = Message.created_at < OLD + timedelta(seconds=1)
    aged = Message.__table__.select().with_only_columns(Message.id).where(old)
    db.run(update(Attachment).where(Attachment.message_id.in_(aged)).values(created_at=OLD))
    db.run(update(MessageEvent).where(MessageEvent.message_id.in_(aged)).values(received_at=OLD))
    journal = WebhookJournalEntry
    db.run(update(journal).where(journal.provider == "plivo").values(received_at=OLD))


async def _purge(url: str, days: int) -> list[int]:
    engine = create_engine(url)
    try:
        purger = ContentPurger(create_session_factory(engine), days)
        passes = [await purger.purge_once()]
        while passes[-1]:
            passes.append(await purger.purge_once())
        return passes
    finally:
        await engine.dispose()


def test_old_content_is_purged_and_counts_are_kept(textbridge: Textbridge) -> None:
    fill(textbridge, ZELDA)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    waiting = textbridge.send(to=ZELDA.address, text=f"{ZELDA.tag} later", send_at=later)
    _age_the_plivo_half(textbridge)
    db = textbridge.database
    db.run(update(Message).where(Message.body == f"{ZELDA.tag} later").values(created_at=OLD))
    [[old_file]] = db.rows(
        "SELECT a.local_path FROM attachments a JOIN messages m ON m.id = a.message_id"
        " WHERE m.body = :body",
        body=f"{ZELDA.tag} mms caption",
    )
    counts = db.rows(COUNTS)

    passes = run_sync(_purge(textbridge.settings.database_url, 30))

    assert passes[0] > 0
    assert passes[-1] == 0
    assert db.rows(
        "SELECT direction, status, count(*) FROM messages GROUP BY 1, 2 ORDER BY 1, 2"
    ) == (counts)
    texts = {row[0] for row in db.rows("SELECT body FROM messages WHERE body IS NOT NULL")}
    assert texts.isdisjoint(OLD_TEXTS)
    assert {f"{ZELDA.tag} whatsapp in", f"{ZELDA.tag} pic", f"{ZELDA.tag} later"} <= texts
    assert textbridge.message(waiting["id"])["status"] == "scheduled"
    assert not Path(old_file).exists()
    attachments = db.rows("SELECT url, local_path, download_state FROM attachments ORDER BY url")
    assert attachments[0] == ("", None, "erased")
    assert attachments[1][2] == "stored"
    assert Path(attachments[1][1]).is_file()  # the recent WhatsApp image
    old_raw = db.scalar(
        "SELECT count(*) FROM message_events WHERE received_at < :moment AND raw IS NOT NULL",
        moment=OLD + timedelta(seconds=1),
    )
    assert old_raw == 0
    assert db.scalar("SELECT count(*) FROM message_events WHERE raw IS NOT NULL") > 0
    journal = db.rows("SELECT provider, body, url FROM webhook_journal")
    assert all(
        body == "" and "?" not in url for provider, body, url in journal if provider == "plivo"
    )
    assert any(ZELDA.tag in body for provider, body, _ in journal if provider == "vonage")


def test_the_content_purger_runs_in_the_background(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path, message_retention_days=30) as running:
        names = {task.get_name() for task in running.runtime.tasks}
    assert "content-purge" in names


def test_old_outbound_webhook_deliveries_are_deleted_unless_still_to_be_made(
    database: Database, tmp_path: Path
) -> None:
    """Each delivery holds its event's data (her number and text): one older than the
    retention goes once it is delivered or dead, or its subscription is disabled; one still to
    be made to an enabled subscription stays, as does every recent one."""
    url = database.fresh_url(tmp_path)
    enabled, disabled = uuid.uuid4(), uuid.uuid4()
    for subscription, on in ((enabled, True), (disabled, False)):
        database.run(
            insert(WebhookSubscription).values(
                id=subscription,
                url="https://hooks.example.com/in",
                event_types="message.created",
                secret="whsec_" + "A" * 44,
                enabled=on,
            )
        )
    payload = {"type": "message.created", "data": {"from": ZELDA.address, "text": ZELDA.tag}}
    cases = {
        "old delivered": (enabled, "delivered", OLD),
        "old dead": (enabled, "dead", OLD),
        "old pending": (enabled, "pending", OLD),
        "old pending, disabled": (disabled, "pending", OLD),
        "recent delivered": (enabled, "delivered", datetime.now(UTC)),
        "recent dead": (enabled, "dead", datetime.now(UTC)),
    }
    later = datetime.now(UTC) + timedelta(days=1)  # not due: no deliverer runs here anyway
    for name, (subscription, status, made) in cases.items():
        database.run(
            insert(WebhookDelivery).values(
                subscription_id=subscription,
                event_type="message.created",
                payload={**payload, "case": name},
                status=status,
                created_at=made,
                next_attempt_at=later if status == "pending" else None,
            )
        )

    passes = run_sync(_purge(url, 30))

    assert passes[0] == 3
    assert passes[-1] == 0
    left = database.run(select(WebhookDelivery.payload))
    kept = sorted(row[0]["case"] for row in left)
    assert kept == ["old pending", "recent dead", "recent delivered"]
