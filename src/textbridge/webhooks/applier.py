"""Applies journaled webhooks to messages and conversations, in arrival order.

A status for a message whose send is not recorded yet (the provider called back before our
dispatcher committed the provider's id) is postponed and tried again with backoff; after
`MAX_APPLY_ATTEMPTS` it is kept as `orphaned` rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.uow import UnitOfWork
from textbridge.messaging import service
from textbridge.models import WebhookJournalEntry
from textbridge.polling import PollingLoop
from textbridge.providers.base import (
    InboundMessage,
    Provider,
    WebhookPayloadError,
    WebhookRequest,
)
from textbridge.realtime.bus import EventBus
from textbridge.webhooks import journal

log = structlog.get_logger(__name__)

BATCH = 200
IDLE_POLL_SECONDS = 1.0
FIRST_RETRY = timedelta(milliseconds=200)
MAX_RETRY = timedelta(minutes=5)
MAX_APPLY_ATTEMPTS = 25


class JournalApplier:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        providers: Mapping[str, Provider],
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._providers = providers
        self._on_applied = on_applied
        self._loop = PollingLoop("journal-applier", BATCH, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake

    async def run(self) -> None:
        await self._loop.run(self.apply_due)

    async def apply_due(self) -> int:
        """Apply one batch of due journal entries; returns how many were looked at."""
        async with UnitOfWork(self._sessions, self._bus) as uow:
            entries = await journal.due_entries(uow.session, BATCH)
            for entry in entries:
                await self._apply_entry(uow, entry)
            await uow.commit()
        if entries and self._on_applied is not None:
            self._on_applied()
        return len(entries)

    async def _apply_entry(self, uow: UnitOfWork, entry: WebhookJournalEntry) -> None:
        provider = self._providers.get(entry.provider)
        if provider is None:
            journal.postpone(entry, MAX_RETRY, f"provider {entry.provider} is not configured")
            return
        try:
            async with uow.session.begin_nested():
                await self._apply_events(uow, provider, entry)
        except service.UnknownMessage as exc:
            _retry_later(entry, f"no message with provider id {exc}")
        except WebhookPayloadError as exc:
            journal.mark(entry, journal.INVALID, str(exc))
        else:
            journal.mark(entry, journal.APPLIED)

    async def _apply_events(
        self, uow: UnitOfWork, provider: Provider, entry: WebhookJournalEntry
    ) -> None:
        for event in provider.parse(entry.kind, _webhook_of(entry)):  # type: ignore[arg-type]
            if isinstance(event, InboundMessage):
                await service.apply_inbound(uow, event)
            else:
                await service.apply_status(uow, event, provider.status_for(event.provider_status))


def _retry_later(entry: WebhookJournalEntry, reason: str) -> None:
    if entry.attempts + 1 >= MAX_APPLY_ATTEMPTS:
        log.warning("webhook orphaned", journal_id=entry.id, reason=reason)
        journal.mark(entry, journal.ORPHANED, reason)
        return
    delay = min(FIRST_RETRY * 2**entry.attempts, MAX_RETRY)
    journal.postpone(entry, delay, reason)


def _webhook_of(entry: WebhookJournalEntry) -> WebhookRequest:
    content_type = entry.headers.get("content-type", "")
    query = urlsplit(entry.url).query
    params = journal.webhook_params(entry.method, content_type, entry.body, query)
    return WebhookRequest(entry.method, entry.url, entry.headers, params, entry.body.encode())
