"""Downloads inbound media in the background when `TEXTBRIDGE_MEDIA_DOWNLOAD` is on.

The attachments table is the queue. An inbound attachment whose `download_state` is empty is
due once `download_next_at` has passed (or was never set). Claiming it counts an attempt and
moves `download_next_at` one lease ahead, so no other pass or process takes it meanwhile and a
crash only delays it. The outcome is written back: "stored" with `local_path`, "failed" with
the reason, or, for a transient failure (timeout, connection error, 5xx) with attempts left,
the reason and a later `download_next_at` (exponential backoff).

Up to `concurrency` downloads run at once: a pass claims that many and waits for them all.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.compliance.erasure import ERASED
from textbridge.db.base import utcnow
from textbridge.media.downloader import DownloadFailed, MediaDownloader, StoredMedia
from textbridge.models import Attachment, Message
from textbridge.polling import PollingLoop
from textbridge.providers.base import Provider

log = structlog.get_logger(__name__)

IDLE_POLL_SECONDS = 2.0
DEFAULT_CONCURRENCY = 4
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 15.0
RETRY_MAX_SECONDS = 600.0
LEASE_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: uuid.UUID
    url: str
    filename: str | None
    provider: str
    attempts: int


class MediaFetcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        downloader: MediaDownloader,
        providers: Mapping[str, Provider],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = MAX_ATTEMPTS,
        retry_base_seconds: float = RETRY_BASE_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._downloader = downloader
        self._providers = providers
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._loop = PollingLoop("media-fetcher", concurrency, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake

    async def run(self) -> None:
        await self._loop.run(self.fetch_due)

    async def aclose(self) -> None:
        await self._downloader.aclose()

    async def fetch_due(self) -> int:
        """Claim what is due and download it, several at once; returns how many were claimed."""
        claimed = await self._claim()
        await asyncio.gather(*(self._fetch(item) for item in claimed))
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        now = utcnow()
        query = (
            select(Attachment, Message.provider)
            .join(Message, Message.id == Attachment.message_id)
            .where(
                Message.direction == "inbound",
                Attachment.download_state.is_(None),
                or_(Attachment.download_next_at.is_(None), Attachment.download_next_at <= now),
            )
            .order_by(Attachment.created_at)
            .limit(self._concurrency)
            .with_for_update(skip_locked=True, of=Attachment)
        )
        async with self._sessions() as session:
            rows = list(await session.execute(query))
            claimed = [self._claim_one(attachment, provider, now) for attachment, provider in rows]
            await session.commit()
        return [item for item in claimed if item is not None]

    def _claim_one(self, attachment: Attachment, provider: str, now: datetime) -> _Claimed | None:
        if attachment.download_attempts >= self._max_attempts:
            # Every attempt so far was interrupted (a crash, a restart) before it could record.
            attachment.download_state = "failed"
            attachment.download_error = (attachment.download_error or "interrupted")[:500]
            return None
        attachment.download_attempts += 1
        attachment.download_next_at = now + self._lease()
        return _Claimed(
            attachment.id,
            attachment.url,
            attachment.filename,
            provider,
            attachment.download_attempts,
        )

    def _lease(self) -> timedelta:
        return timedelta(seconds=self._downloader.deadline) + LEASE_MARGIN

    def _headers(self, provider_name: str, url: str) -> dict[str, str]:
        provider = self._providers.get(provider_name)
        return provider.media_headers(url) if provider is not None else {}

    async def _fetch(self, item: _Claimed) -> None:
        try:
            headers = self._headers(item.provider, item.url)
            stored = await self._downloader.download(item.url, item.filename, headers)
        except DownloadFailed as exc:
            await self._record_failure(item, str(exc), exc.transient)
        except Exception as exc:  # a bug here must settle the item, not crash the pass
            log.exception("media download crashed", attachment_id=str(item.id))
            await self._record_failure(item, type(exc).__name__, transient=False)
        else:
            await self._record_stored(item.id, stored)

    async def _record_failure(self, item: _Claimed, reason: str, transient: bool) -> None:
        retry_at = self._retry_at(item.attempts) if transient else None
        async with self._sessions() as session:
            attachment = await session.get(Attachment, item.id)
            if attachment is None or attachment.download_state == ERASED:
                return
            attachment.download_error = reason[:500]
            attachment.download_next_at = retry_at
            attachment.download_state = None if retry_at else "failed"
            await session.commit()
        outcome = "will retry" if retry_at else "not stored"
        log.info(f"media {outcome}", attachment_id=str(item.id), reason=reason)

    def _retry_at(self, attempts: int) -> datetime | None:
        if attempts >= self._max_attempts:
            return None
        delay = min(self._retry_base_seconds * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
        return utcnow() + timedelta(seconds=delay)

    async def _record_stored(self, attachment_id: uuid.UUID, stored: StoredMedia) -> None:
        async with self._sessions() as session:
            attachment = await session.get(Attachment, attachment_id)
            if attachment is None or attachment.download_state == ERASED:
                # Erased (or purged) while it downloaded: the copy must not outlive it.
                await anyio.Path(stored.path).unlink(missing_ok=True)
                return
            attachment.download_state = "stored"
            attachment.download_error = None
            attachment.download_next_at = None
            attachment.local_path = str(stored.path)
            attachment.size = stored.size
            attachment.mime_type = attachment.mime_type or stored.mime_type
            await session.commit()
