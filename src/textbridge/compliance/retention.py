"""Message retention (`TEXTBRIDGE_MESSAGE_RETENTION_DAYS`): message content older than N days
is purged, the rows and their counts are kept.

Purged: message bodies and payloads (templates, interactive parts, locations), attachment
URLs, captions, file names and stored files, raw status payloads, conversation previews,
the rendered texts of finished campaigns' recipients, and the URL query, headers and body of
webhook journal entries (kept as rows, for their state, so an admin still sees that a request
came). Outbound webhook deliveries older than N days that are done (`delivered` or `dead`) are
deleted: each is its event's data (texts, numbers, names), and a row without it could be
neither read nor replayed. Kept: who, when, which sender, status, error codes, segments,
prices.

A message that has not left yet (`accepted`, `scheduled`, `held`) or awaits review
(`unknown`, a resend needs its text) is never purged, whatever its age; nor is a delivery still
`pending` for an enabled subscription (it is purged once delivered or parked `dead`, after
at most `TEXTBRIDGE_HOOKS_MAX_ATTEMPTS` tries).

Each pass runs in bounded batches, one short transaction each (like the journal purger): a
pass that filled a batch runs again at once, else the next one is an hour on. SQLite's
full-text index is optimized once, when a run that purged texts is done (a full rewrite of the
index under the write lock: once per batch would hold writers up again and again). Our own
uploads (`media.uploads`) that no attachment points to any more are deleted after each batch.
The same loop always runs, retention set or not, to retry the deletion of files erasure could
not delete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, null, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.compliance.erasure import (
    ERASED,
    delete_files,
    delete_unused_uploads,
    upload_names,
)
from textbridge.db.base import utcnow
from textbridge.messaging import search, status
from textbridge.models import (
    Attachment,
    Campaign,
    CampaignRecipient,
    Conversation,
    Message,
    MessageEvent,
    WebhookDelivery,
    WebhookJournalEntry,
    WebhookSubscription,
)
from textbridge.polling import PollingLoop
from textbridge.webhooks import journal

log = structlog.get_logger(__name__)

BATCH = 1000
PASS_INTERVAL_SECONDS = 3600.0
KEPT_STATUSES = (status.ACCEPTED, *status.DEFERRED, status.SENDING, status.UNKNOWN)
"""Whose content is still needed: it has not left, or a person may resend it."""
JOURNAL_KEPT_STATES = (journal.PENDING,)
DELIVERY_KEPT_STATUS = "pending"
"""An outbound webhook delivery still to be made (to an enabled subscription) is kept, whatever
its age."""


class ContentPurger:
    """`retention_days` None: only the retry of undeleted erased files runs."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        retention_days: int | None,
        media_dir: Path | None = None,
    ) -> None:
        self._sessions = sessions
        self._media_dir = media_dir
        self._uploads: set[str] = set()  # of the attachments purged by the current batch
        self._text_purged = False  # since the full-text index was last optimized
        self._retention = timedelta(days=retention_days) if retention_days else None
        self._loop = PollingLoop("content-purge", BATCH, PASS_INTERVAL_SECONDS)
        self.wake = self._loop.wake

    async def run(self) -> None:
        await self._loop.run(self.purge_once)

    async def purge_once(self) -> int:
        """At most one batch of each kind; returns the largest count (a full one means more)."""
        done = {"files": await self._retry_files()}
        if self._retention is not None:
            cutoff = utcnow() - self._retention
            for name, step in self._steps().items():
                done[name] = await self._batch(step, cutoff)
            self._text_purged = self._text_purged or done["messages"] > 0
        if any(done.values()):
            log.info("message content purged", **done)
        most = max(done.values())
        if most < BATCH and self._text_purged:  # the run is done
            await self._forget_text()
        return most

    async def _forget_text(self) -> None:
        async with self._sessions() as db:
            await search.forget_deleted_text(db)
            await db.commit()
        self._text_purged = False

    def _steps(self) -> dict[str, Callable[[AsyncSession, datetime], Awaitable[int]]]:
        return {
            "messages": _purge_messages,
            "attachments": self._purge_attachments,
            "events": _purge_events,
            "previews": _purge_previews,
            "campaign_recipients": _purge_campaign_recipients,
            "journal": _purge_journal,
            "webhook_deliveries": _purge_deliveries,
        }

    async def _batch(
        self, step: Callable[[AsyncSession, datetime], Awaitable[int]], cutoff: datetime
    ) -> int:
        async with self._sessions() as db:
            count = await step(db, cutoff)
            await db.commit()
        if count:
            await self._retry_files()  # the attachments just purged
        if self._uploads and self._media_dir is not None:
            await delete_unused_uploads(self._sessions, self._media_dir, self._uploads)
        self._uploads = set()
        return count

    async def _purge_attachments(self, db: AsyncSession, cutoff: datetime) -> int:
        ids = await _ids(
            db,
            select(Attachment.id)
            .join(Message, Message.id == Attachment.message_id)
            .where(
                Attachment.created_at < cutoff,
                Attachment.url != "",
                Message.status.not_in(KEPT_STATUSES),
            ),
        )
        if ids:
            self._uploads |= await upload_names(db, Attachment.id.in_(ids))
            await db.execute(
                update(Attachment)
                .where(Attachment.id.in_(ids))
                .values(
                    url="", caption=None, filename=None, download_state=ERASED, download_error=None
                )
            )
        return len(ids)

    async def _retry_files(self) -> int:
        async with self._sessions() as db:
            ids = list(
                await db.scalars(
                    select(Attachment.id)
                    .where(Attachment.download_state == ERASED, Attachment.local_path.is_not(None))
                    .limit(BATCH)
                )
            )
        return await delete_files(self._sessions, ids)


async def _ids(db: AsyncSession, query: Any) -> list[Any]:
    return list(await db.scalars(query.limit(BATCH)))


async def _purge_messages(db: AsyncSession, cutoff: datetime) -> int:
    ids = await _ids(
        db,
        select(Message.id).where(
            Message.created_at < cutoff,
            or_(Message.body.is_not(None), Message.payload.is_not(None)),
            Message.status.not_in(KEPT_STATUSES),
        ),
    )
    if ids:
        await db.execute(
            update(Message).where(Message.id.in_(ids)).values(body=None, payload=null())
        )
    return len(ids)


async def _purge_events(db: AsyncSession, cutoff: datetime) -> int:
    ids = await _ids(
        db,
        select(MessageEvent.id).where(
            MessageEvent.received_at < cutoff,
            MessageEvent.raw.is_not(None),
            MessageEvent.source != "review",  # who resent or closed it: about staff, kept
        ),
    )
    if ids:
        await db.execute(update(MessageEvent).where(MessageEvent.id.in_(ids)).values(raw=null()))
    return len(ids)


async def _purge_previews(db: AsyncSession, cutoff: datetime) -> int:
    ids = await _ids(
        db,
        select(Conversation.id).where(
            Conversation.last_message_at < cutoff, Conversation.last_message_preview.is_not(None)
        ),
    )
    if ids:
        await db.execute(
            update(Conversation).where(Conversation.id.in_(ids)).values(last_message_preview=None)
        )
    return len(ids)


async def _purge_campaign_recipients(db: AsyncSession, cutoff: datetime) -> int:
    staged = CampaignRecipient
    keys = (
        await db.execute(
            select(staged.campaign_id, staged.to_address)
            .where(
                staged.campaign_id.in_(select(Campaign.id).where(Campaign.finished_at < cutoff)),
                or_(staged.body.is_not(None), staged.payload.is_not(None)),
            )
            .limit(BATCH)
        )
    ).all()
    if keys:
        await db.execute(
            update(staged)
            .where(tuple_(staged.campaign_id, staged.to_address).in_([tuple(k) for k in keys]))
            .values(body=None, payload=null())
        )
    return len(keys)


async def _purge_journal(db: AsyncSession, cutoff: datetime) -> int:
    entry = WebhookJournalEntry
    rows = (
        await db.execute(
            select(entry.id, entry.url)
            .where(
                entry.received_at < cutoff,
                # A Plivo GET callback carries its text in the query, with an empty body.
                or_(entry.body != "", entry.url.contains("?")),
                entry.state.not_in(JOURNAL_KEPT_STATES),
            )
            .limit(BATCH)
        )
    ).all()
    for entry_id, url in rows:
        await db.execute(
            update(entry)
            .where(entry.id == entry_id)
            .values(url=url.split("?", 1)[0], headers={}, body="")
        )
    return len(rows)


async def _purge_deliveries(db: AsyncSession, cutoff: datetime) -> int:
    """Outbound webhook deliveries made before `cutoff` and done with (delivered, dead, or
    pending for a disabled subscription, which nothing will deliver): deleted. No index on
    `created_at` alone: a pass reads the table until it has a batch, and once the first run is
    through the table holds only the retention's days of deliveries."""
    disabled = select(WebhookSubscription.id).where(WebhookSubscription.enabled.is_(False))
    ids = await _ids(
        db,
        select(WebhookDelivery.id).where(
            WebhookDelivery.created_at < cutoff,
            or_(
                WebhookDelivery.status != DELIVERY_KEPT_STATUS,
                WebhookDelivery.subscription_id.in_(disabled),
            ),
        ),
    )
    if ids:
        await db.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)
