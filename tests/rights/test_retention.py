"""Message retention on both databases: content older than the retention is purged (texts,
media files, raw payloads, journal bodies), the rows and their counts stay, recent content
and messages that have not left yet are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from textbridge.compliance.retention import ContentPurger
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.models import Attachment, Message, MessageEvent, WebhookJournalEntry

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
