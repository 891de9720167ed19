"""Erasure (GDPR article 17): a person's name, texts, media and every stored copy of their
address removed, their counts and their opt-out kept.

Per table (the why is in docs/DESIGN-NOTES.md, "Export, erasure and retention"):

=====================  ======================================================================
contacts               kept: address -> pseudonym (`erased:<address hash>`), kind `erased`,
                       name and time zone cleared (country kept, for counts)
conversations          kept: preview cleared
messages               kept: the person's address -> pseudonym; body, payload, error text,
                       idempotency key and request hash cleared; one still waiting to leave
                       is cancelled (`erased`)
attachments            kept: URL, caption and file name cleared, state `erased`; the stored
                       file is deleted after commit (`local_path` is cleared once it is gone),
                       and so is an upload of ours (`media.uploads`) no other attachment uses
message_events         kept: raw payload cleared (a review keeps who and what, not its note)
campaign_recipients    deleted (a draft will not send to them; a started campaign's messages
                       keep the counts); a refused row naming the number is redacted
webhook_journal        deleted: every entry that holds the address, whatever its state
live_events            deleted: every event about their conversations or holding the address
webhook_deliveries     deleted, likewise (outbound webhooks: each holds its event's data)
governor_limits        deleted: a WhatsApp pair key holds the address
consent_records        kept: address and evidence cleared, `address_hash` keeps the opt-out;
                       a person with no opt-out gets one (erasure means "do not contact")
audit_log              append-only; it never held the number; `contact.erased` is added
=====================  ======================================================================

Everything in the database happens in one transaction; files are deleted after it commits,
and SQLite's full-text index is then optimized (outside the transaction: a full rewrite).
A file that cannot be deleted stays recorded on its attachment (state `erased`, `local_path`
set) and the content purger (`compliance.retention`) tries again on each pass. Running it
again for the same address is harmless and finishes what a failed run left.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import structlog
from sqlalchemy import Text, case, cast, delete, desc, func, null, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.analytics import rollup
from textbridge.audit import log as audit
from textbridge.compliance.person import ERASED_KIND, Person, person
from textbridge.db import locks
from textbridge.db.conflicts import is_deadlock
from textbridge.media import uploads
from textbridge.messaging import search, status
from textbridge.models import (
    Attachment,
    Campaign,
    CampaignRecipient,
    ConsentRecord,
    Contact,
    Conversation,
    GovernorLimit,
    LiveEvent,
    Message,
    MessageEvent,
    WebhookDelivery,
    WebhookJournalEntry,
)
from textbridge.models.consent_record import ALL_SENDERS

log = structlog.get_logger(__name__)

_ADDRESS_LENGTH: int = Contact.__table__.c.address.type.length  # type: ignore[attr-defined]
ERASED = "erased"
"""`attachments.download_state` of erased content, and the error code of a cancelled send."""
ERASURE_SOURCE = "erasure"
WAITING = (status.ACCEPTED, *status.DEFERRED)
_REDACTED = "[erased]"
CHECKPOINT_TRIES = 20
DEADLOCK_TRIES = 3
CHECKPOINT_PAUSE_SECONDS = 0.1


@dataclass
class ErasureReport:
    """What an erasure changed; counts only, never content."""

    address_hash: str
    contacts: int = 0
    messages: int = 0
    cancelled: int = 0
    attachments: int = 0
    events: int = 0
    journal_entries: int = 0
    live_events: int = 0
    webhook_deliveries: int = 0
    campaign_recipients: int = 0
    consent_records: int = 0
    opt_out_recorded: bool = False
    files_deleted: int = 0
    files_failed: int = 0
    file_errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in vars(self).items()
            if name not in ("address_hash", "file_errors")
        }


async def erase(
    sessions: async_sessionmaker[AsyncSession],
    raw_address: str,
    *,
    actor: str,
    origin: str | None,
    media_dir: Path | None = None,
) -> ErasureReport:
    """Erase one person: one transaction in the database, then their stored files (and
    their uploads, under `media_dir`)."""
    for attempt in range(1, DEADLOCK_TRIES + 1):
        try:
            report, files = await _erase_once(sessions, raw_address, actor=actor, origin=origin)
            break
        except DBAPIError as error:
            # The erasure locks the person's messages, then their journal entries; the journal
            # applier, applying their last receipts, locks an entry, then its message. Either
            # may be chosen as the deadlock's victim: the erasure, all-or-nothing, is run again.
            if not is_deadlock(error) or attempt == DEADLOCK_TRIES:
                raise
            log.info("erasure was a deadlock's victim; running it again", attempt=attempt)
    await delete_files(sessions, files.stored, report)
    if media_dir is not None:
        report.files_deleted += await delete_unused_uploads(sessions, media_dir, files.uploads)
    await _forget_text(sessions)
    await _checkpoint_sqlite(sessions)
    log.info("contact erased", address_hash=report.address_hash, **report.counts())
    return report


async def _erase_once(
    sessions: async_sessionmaker[AsyncSession],
    raw_address: str,
    *,
    actor: str,
    origin: str | None,
) -> tuple[ErasureReport, ErasedFiles]:
    async with sessions() as db:
        who = await person(db, raw_address)
        report = ErasureReport(who.address_hash)
        files = await erase_in(db, who, report, actor=actor)
        await audit.record(
            db,
            actor=actor,
            action="contact.erased",
            target=f"address:{who.address_hash}",
            origin=origin,
            detail=report.counts(),
        )
        await db.commit()
    return report, files


async def _forget_text(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db:
        await search.forget_deleted_text(db)
        await db.commit()


async def _checkpoint_sqlite(sessions: async_sessionmaker[AsyncSession]) -> None:
    """On SQLite, the pages before the erasure stay in the write-ahead log until a checkpoint
    copies it back and truncates it (secure_delete, set at connect, zeroes what the erasure
    overwrote within the pages). A reader still on an older snapshot makes a checkpoint stop
    short: tried a few times, then left to SQLite's own checkpoints (logged)."""
    engine = sessions.kw["bind"]
    if engine is None or engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        for _ in range(CHECKPOINT_TRIES):
            cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, *_ = await cursor.fetchone()
            if not busy:
                return
            await anyio.sleep(CHECKPOINT_PAUSE_SECONDS)
    log.warning("the write-ahead log could not be truncated after an erasure; SQLite will")


@dataclass(frozen=True, slots=True)
class ErasedFiles:
    """What to delete once the erasure has committed."""

    stored: list[uuid.UUID]  # attachments whose downloaded file we keep (`local_path`)
    uploads: set[str]  # the names of our own uploads they pointed to


async def erase_in(
    db: AsyncSession, who: Person, report: ErasureReport, *, actor: str
) -> ErasedFiles:
    """Every database change of an erasure, in the caller's transaction; returns the files
    to delete once it commits."""
    placeholder = await _hold_the_person(db, who)
    # By the pseudonym too: a repeated erasure finishes what an earlier one left. Locked (on
    # PostgreSQL) before anything of theirs is read: see `_hold_the_person`.
    found = await db.execute(
        select(Contact.id, Contact.address)
        .where(or_(Contact.address.in_(who.forms), Contact.address.startswith(who.pseudonym)))
        .order_by(Contact.id)
        .with_for_update()
    )
    named = {contact: address for contact, address in found if contact != placeholder}
    contacts = list(named)
    conversations = list(
        await db.scalars(select(Conversation.id).where(Conversation.contact_id.in_(contacts)))
    )
    messages = select(Message.id).where(Message.conversation_id.in_(conversations))
    files = await _erase_attachments(db, messages, report)
    await _erase_events(db, messages, report)
    await _erase_messages(db, who, conversations, report)
    await db.execute(
        update(Conversation)
        .where(Conversation.id.in_(conversations))
        .values(last_message_preview=None)
    )
    await _erase_contacts(db, who, named)
    report.contacts = len(named)
    await _erase_campaign_rows(db, who, report)
    await _erase_copies(db, who, conversations, report)
    await _tombstone_consent(db, who, report, actor)
    if placeholder is not None:
        await db.execute(delete(Contact).where(Contact.id == placeholder))
    return files


async def _hold_the_person(db: AsyncSession, who: Person) -> uuid.UUID | None:
    """On PostgreSQL, make every write that would store something of this person wait for
    the erasure, or the erasure for it, before the erasure reads anything (SQLite needs none
    of this: its transactions begin IMMEDIATE, one writer at a time).

    - The campaign writes (`db.locks`): a chunk being staged or a start naming the person
      either commits before the erasure reads (and is erased) or runs after it (and finds
      the opt-out, or no staged row).
    - A contact row for the address, inserted when there is none, and deleted before the
      commit: a send or an inbound creating the person's first contact meanwhile waits on
      the unique address until the erasure has committed (then it finds the opt-out), or
      the erasure waits for it (then erases it).
    - Then the caller locks their contacts FOR UPDATE: a send's write and the journal
      applier take a KEY SHARE lock on the contact and check its address again
      (`messaging.repository`), so they too commit before or find the pseudonym after.

    Returns the id of the stand-in contact, when one was inserted."""
    if db.get_bind().dialect.name != "postgresql":
        return None
    await locks.erase_alone(db)
    if len(who.address) > _ADDRESS_LENGTH:
        return None  # no contact can have it
    stand_in = (
        postgresql.insert(Contact)
        .values(address=who.address, address_kind=ERASED_KIND)
        .on_conflict_do_nothing(index_elements=[Contact.address])
        .returning(Contact.id)
    )
    inserted: uuid.UUID | None = await db.scalar(stand_in)
    return inserted


async def _erase_contacts(db: AsyncSession, who: Person, named: dict[uuid.UUID, str]) -> None:
    """`contacts.address` is unique: a person who wrote again after being erased has a second
    contact, which gets the pseudonym with its id appended."""
    taken = who.pseudonym in named.values()
    for contact, address in named.items():
        if address.startswith(who.pseudonym):
            pseudonym = address
        elif not taken:
            pseudonym, taken = who.pseudonym, True
        else:
            pseudonym = f"{who.pseudonym}:{contact.hex[:12]}"
        await db.execute(
            update(Contact)
            .where(Contact.id == contact)
            .values(address=pseudonym, address_kind=ERASED_KIND, name=None, time_zone=None)
        )


async def _rowcount(db: AsyncSession, statement: Any) -> int:
    result: Any = await db.execute(statement)
    return int(result.rowcount or 0)


async def _erase_attachments(db: AsyncSession, messages: Any, report: ErasureReport) -> ErasedFiles:
    with_files = select(Attachment.id).where(
        Attachment.message_id.in_(messages), Attachment.local_path.is_not(None)
    )
    stored = list(await db.scalars(with_files))
    uploaded = await upload_names(db, Attachment.message_id.in_(messages))
    report.attachments = await _rowcount(
        db,
        update(Attachment)
        .where(Attachment.message_id.in_(messages))
        .values(url="", caption=None, filename=None, download_state=ERASED, download_error=None),
    )
    return ErasedFiles(stored, uploaded)


async def upload_names(db: AsyncSession, which: Any) -> set[str]:
    """The names of our own uploads that the attachments `which` point to."""
    urls = await db.scalars(select(Attachment.url).distinct().where(which, Attachment.url != ""))
    return {name for url in urls if (name := uploads.name_in(url)) is not None}


async def delete_unused_uploads(
    sessions: async_sessionmaker[AsyncSession], folder: Path, names: set[str]
) -> int:
    """Delete the uploads no attachment points to any more (after an erasure or a purge has
    committed). One upload may go to many people (a campaign): it stays while any of their
    messages still points to it."""
    if not names:
        return 0
    # By name, not URL: one upload may be known under two public hosts.
    pointing = or_(
        *(Attachment.url.endswith(uploads.PUBLIC_PREFIX + name, autoescape=True) for name in names)
    )
    async with sessions() as db:
        unused = names - await upload_names(db, pointing)
    return await anyio.to_thread.run_sync(uploads.delete, folder, unused)


async def _erase_events(db: AsyncSession, messages: Any, report: ErasureReport) -> None:
    events = MessageEvent.message_id.in_(messages)
    report.events = await _rowcount(
        db,
        update(MessageEvent)
        .where(events, MessageEvent.source != "review", MessageEvent.raw.is_not(None))
        .values(raw=null()),
    )
    # A review's raw says who acted and how: that is about our staff, not the person; its free
    # text note may be about the person, so it goes.
    reviews = await db.scalars(select(MessageEvent).where(events, MessageEvent.source == "review"))
    for event in reviews:
        if isinstance(event.raw, dict) and event.raw.get("note") is not None:
            event.raw = {**event.raw, "note": None}
            report.events += 1


async def _erase_messages(
    db: AsyncSession, who: Person, conversations: list[uuid.UUID], report: ErasureReport
) -> None:
    theirs = Message.conversation_id.in_(conversations)
    report.cancelled = await _rowcount(
        db,
        update(Message)
        .where(theirs, Message.direction == "outbound", Message.status.in_(WAITING))
        .values(status=status.CANCELLED, error_code=ERASED, next_attempt_at=None),
    )
    # One pass over their messages: a 100 000-message history is one UPDATE, not three.
    report.messages = await _rowcount(
        db,
        update(Message)
        .where(theirs)
        .values(
            from_address=_pseudonymised(Message.from_address, who),
            to_address=_pseudonymised(Message.to_address, who),
            body=None,
            payload=null(),  # None would store JSON 'null'
            error_message=None,
            idempotency_key=None,
            request_hash=None,
        ),
    )
    # The counts' triggers appended the old dimensions (an error text among them) as -1 rows:
    # folded now, in this transaction, so that nothing of theirs waits for the compactor.
    await rollup.compact(db, rollup.ERASURE_FOLD, wait=True)


def _pseudonymised(column: Any, who: Person) -> Any:
    return case((column.in_(who.forms), who.pseudonym), else_=column)


async def _erase_campaign_rows(db: AsyncSession, who: Person, report: ErasureReport) -> None:
    report.campaign_recipients = await _rowcount(
        db, delete(CampaignRecipient).where(CampaignRecipient.to_address.in_(who.forms))
    )
    # A refused row keeps the value as typed ("415 555 0199"): compare digits, not text.
    refused = await db.scalars(select(Campaign).where(Campaign.invalid > 0))
    for campaign in refused:
        rows = [_redacted(row, who) for row in campaign.invalid_rows]
        if rows != campaign.invalid_rows:
            campaign.invalid_rows = rows


def _redacted(row: dict[str, Any], who: Person) -> dict[str, Any]:
    value = row.get("value")
    if not isinstance(value, str):
        return row
    digits = re.sub(r"[^0-9]", "", value)
    national = len(digits) >= 7 and who.needle.endswith(digits)
    if who.mentions(value) or national:
        return {**row, "value": _REDACTED, "reason": _REDACTED}
    return row


async def _erase_copies(
    db: AsyncSession, who: Person, conversations: Sequence[uuid.UUID], report: ErasureReport
) -> None:
    """The copies outside the message tables: webhook journal, live events, governor keys."""
    journal = WebhookJournalEntry
    hits = await db.execute(
        select(journal.id, journal.url, journal.body, cast(journal.headers, Text)).where(
            or_(*(_contains(column, who.needle) for column in (journal.url, journal.body)))
        )
    )
    entry_ids = [row[0] for row in hits if any(who.mentions(part or "") for part in row[1:])]
    report.journal_entries = await _delete_ids(db, journal.id, entry_ids)
    needles = [who.needle, *(str(conversation) for conversation in conversations)]
    data = cast(LiveEvent.data, Text)
    events = await db.execute(
        select(LiveEvent.id, data).where(or_(*(_contains(data, n) for n in needles)))
    )
    event_ids = [row[0] for row in events if _about(row[1], who, needles[1:])]
    report.live_events = await _delete_ids(db, LiveEvent.id, event_ids)
    report.webhook_deliveries = await _erase_deliveries(db, who, needles)
    keys = await db.scalars(
        select(GovernorLimit.key).where(_contains(GovernorLimit.key, who.needle))
    )
    await _delete_ids(db, GovernorLimit.key, [key for key in keys if who.mentions(key)])


async def _erase_deliveries(db: AsyncSession, who: Person, needles: list[str]) -> int:
    """Outbound webhook deliveries hold the event's data, as live events do."""
    payload = cast(WebhookDelivery.payload, Text)
    rows = await db.execute(
        select(WebhookDelivery.id, payload).where(or_(*(_contains(payload, n) for n in needles)))
    )
    ids = [row[0] for row in rows if _about(row[1], who, needles[1:])]
    return await _delete_ids(db, WebhookDelivery.id, ids)


def _contains(column: Any, needle: str) -> Any:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def _about(data: str, who: Person, conversations: Iterable[str]) -> bool:
    return who.mentions(data) or any(conversation in data for conversation in conversations)


async def _delete_ids(db: AsyncSession, column: Any, ids: list[Any]) -> int:
    if not ids:
        return 0
    return await _rowcount(db, delete(column.table).where(column.in_(ids)))


async def _tombstone_consent(
    db: AsyncSession, who: Person, report: ErasureReport, actor: str
) -> None:
    mine = ConsentRecord.address_hash == who.address_hash
    report.consent_records = await _rowcount(
        db,
        update(ConsentRecord)
        .where(mine, or_(ConsentRecord.address.is_not(None), ConsentRecord.evidence.is_not(None)))
        .values(address=None, evidence=null()),
    )
    # The latest record of any scope: an opt-in to one sender after an all-senders opt-out
    # (STOPALL, then START) lets that sender through, so only an all-senders opt-out that is
    # the latest record of all means "do not contact" already.
    latest = await db.execute(
        select(ConsentRecord.action, ConsentRecord.scope)
        .where(mine)
        .order_by(desc(ConsentRecord.recorded_at), desc(ConsentRecord.id))
        .limit(1)
    )
    if latest.first() != ("opt_out", ALL_SENDERS):
        db.add(
            ConsentRecord(
                address=None,
                address_hash=who.address_hash,
                action="opt_out",
                scope=ALL_SENDERS,
                source=ERASURE_SOURCE,
                kind="express",
                actor=actor[:200],
            )
        )
        await db.flush()
        report.opt_out_recorded = True


async def delete_files(
    sessions: async_sessionmaker[AsyncSession],
    attachment_ids: Sequence[uuid.UUID],
    report: ErasureReport | None = None,
) -> int:
    """Delete the stored files of erased attachments and forget their paths; a file that
    cannot be deleted keeps its path (the content purger retries it). Returns how many went."""
    if not attachment_ids:
        return 0
    async with sessions() as db:
        rows = await db.execute(
            select(Attachment.id, Attachment.local_path).where(
                Attachment.id.in_(attachment_ids),
                Attachment.download_state == ERASED,
                Attachment.local_path.is_not(None),
            )
        )
        gone = [item for item, path in rows if path and await _unlink(path, report)]
        if gone:
            await db.execute(
                update(Attachment).where(Attachment.id.in_(gone)).values(local_path=None)
            )
        await db.commit()
    if report is not None:
        report.files_deleted += len(gone)
    return len(gone)


async def _unlink(path: str, report: ErasureReport | None) -> bool:
    try:
        await anyio.Path(path).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("an erased media file could not be deleted", error=exc.strerror)
        if report is not None:
            report.files_failed += 1
            report.file_errors.append(exc.strerror or type(exc).__name__)
        return False
    return True


async def pending_file_count(db: AsyncSession) -> int:
    """Erased attachments whose file is still on disk (a failed delete, to retry)."""
    count = await db.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.download_state == ERASED, Attachment.local_path.is_not(None))
    )
    return int(count or 0)
