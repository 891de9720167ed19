"""Downloads inbound media in the background when `TEXTBRIDGE_MEDIA_DOWNLOAD` is on.

The attachments table is the queue: an inbound attachment whose `download_state` is empty is
due; the result ("stored" with `local_path`, or "failed" with the reason) is written back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.media.downloader import DownloadFailed, MediaDownloader
from textbridge.models import Attachment, Message
from textbridge.polling import PollingLoop
from textbridge.providers.base import Provider

log = structlog.get_logger(__name__)

BATCH = 10
IDLE_POLL_SECONDS = 2.0


class MediaFetcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        downloader: MediaDownloader,
        providers: Mapping[str, Provider],
    ) -> None:
        self._sessions = sessions
        self._downloader = downloader
        self._providers = providers
        self._loop = PollingLoop("media-fetcher", BATCH, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake

    async def run(self) -> None:
        await self._loop.run(self.fetch_due)

    async def fetch_due(self) -> int:
        due = await self._due()
        for attachment_id, url, name, provider in due:
            await self._fetch(attachment_id, url, name, self._headers(provider, url))
        return len(due)

    def _headers(self, provider_name: str, url: str) -> dict[str, str]:
        provider = self._providers.get(provider_name)
        return provider.media_headers(url) if provider is not None else {}

    async def _due(self) -> list[tuple[uuid.UUID, str, str | None, str]]:
        query = (
            select(Attachment.id, Attachment.url, Attachment.filename, Message.provider)
            .join(Message, Message.id == Attachment.message_id)
            .where(Message.direction == "inbound", Attachment.download_state.is_(None))
            .order_by(Attachment.created_at)
            .limit(BATCH)
        )
        async with self._sessions() as session:
            return [(row[0], row[1], row[2], row[3]) for row in await session.execute(query)]

    async def _fetch(
        self, attachment_id: uuid.UUID, url: str, name: str | None, headers: dict[str, str]
    ) -> None:
        try:
            stored = await self._downloader.download(url, name, headers)
        except DownloadFailed as exc:
            await self._record(attachment_id, state="failed", error=str(exc))
            log.info("media not stored", attachment_id=str(attachment_id), reason=str(exc))
            return
        except Exception as exc:  # a network error: record it rather than retry forever
            await self._record(attachment_id, state="failed", error=type(exc).__name__)
            return
        await self._record(
            attachment_id,
            state="stored",
            path=str(stored.path),
            size=stored.size,
            mime_type=stored.mime_type,
        )

    async def _record(
        self,
        attachment_id: uuid.UUID,
        *,
        state: str,
        error: str | None = None,
        path: str | None = None,
        size: int | None = None,
        mime_type: str | None = None,
    ) -> None:
        async with self._sessions() as session:
            attachment = await session.get(Attachment, attachment_id)
            if attachment is None:
                return
            attachment.download_state = state
            attachment.download_error = error[:500] if error else None
            attachment.local_path = path
            attachment.size = size if size is not None else attachment.size
            attachment.mime_type = attachment.mime_type or mime_type
            await session.commit()
