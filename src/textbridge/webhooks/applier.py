"""Applies journaled webhooks to messages and conversations, in arrival order.

A batch is applied in bulk first (`service.apply_in_bulk`: a few statements for the whole
batch, no savepoint); what is one entry's own fault there (its payload, a status for an
unknown message) is recorded on that entry alone. Should the bulk pass fail otherwise (the
database refuses a row), each entry succeeds or fails alone: it is applied inside a savepoint
of the batch's transaction, so an entry that raises rolls back only its own writes. Should
that commit fail all the same (a constraint checked only at commit), the batch is applied
again one entry per transaction, so that the good entries land and only the bad one fails.

What a failure becomes:
- a status for a message whose send is not recorded yet (the provider called back before our
  dispatcher committed the provider's id, `UnknownMessage`) is postponed with backoff and kept
  as `orphaned` after `ORPHAN_RETRY.attempts` tries;
- an unreadable payload (`WebhookPayloadError`) is `invalid` at once;
- anything else is recorded on the entry (type and first words of the message), retried with
  exponential backoff and jitter, and parked as `dead` after `FAILURE_RETRY.attempts` tries;
- an entry for a provider that is not configured is `dead` at once.
Parked entries are never dropped: `textbridge journal replay` makes them pending again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from sqlalchemy import select
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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: try `attempts` times, waiting `first` doubling up to `longest`,
    each wait with "equal jitter" (between half and all of it) so that entries failing
    together do not come back together."""

    first: timedelta
    longest: timedelta
    attempts: int

    def ceiling(self, failures: int) -> timedelta:
        """The longest wait after the `failures`-th failure (1 for the first)."""
        doubled: timedelta = self.first * 2 ** (failures - 1)
        return min(doubled, self.longest)

    def delay(self, failures: int) -> timedelta:
        return self.ceiling(failures) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)


# A status before its send is recorded usually settles within a second or two.
ORPHAN_RETRY = RetryPolicy(timedelta(milliseconds=200), timedelta(minutes=5), attempts=25)
# Ten tries over 4 to 9 minutes (waits of 1 s doubling: 511 s before jitter): a passing fault
# heals, a lasting one is parked.
FAILURE_RETRY = RetryPolicy(timedelta(seconds=1), timedelta(minutes=10), attempts=10)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What became of an entry that was not applied."""

    kind: str  # "postpone" (UnknownMessage), "invalid" or "failed"
    reason: str


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
        self.failure_retry = FAILURE_RETRY
        self.orphan_retry = ORPHAN_RETRY

    async def run(self) -> None:
        await self._loop.run(self.apply_due)

    async def apply_due(self) -> int:
        """Apply one batch of due journal entries; returns how many were looked at."""
        async with UnitOfWork(self._sessions, self._bus) as uow:
            entries = await journal.claim_due(uow.session, BATCH)
            ids = [entry.id for entry in entries]
            try:
                await self._apply_in_bulk(uow, entries)
                await uow.commit()
            except Exception as exc:
                log.warning(
                    "journal batch failed, applying entry by entry",
                    reason=journal.describe_failure(exc),
                )
                await uow.rollback()
            else:
                ids = []
        if ids:
            await self._apply_each(ids)
        if entries and self._on_applied is not None:
            self._on_applied()
        return len(entries)

    async def _apply_in_bulk(self, uow: UnitOfWork, entries: list[WebhookJournalEntry]) -> None:
        """The whole batch with a few statements and no savepoint. What fails because of one
        entry (its payload, an unknown message) is recorded on that entry; anything else
        raises, and the batch is then applied entry by entry (`_apply_each`)."""
        parsed: list[tuple[WebhookJournalEntry, list[service.BulkEvent]]] = []
        for entry in entries:
            provider = self._providers.get(entry.provider)
            if provider is None:
                self._park_unconfigured(entry)
                continue
            try:
                events = _bulk_events(provider, entry)
            except Exception as exc:
                self._record(entry, _outcome_of(exc))
                continue
            parsed.append((entry, events))
        errors = await service.apply_in_bulk(uow, [events for _, events in parsed])
        for (entry, _), error in zip(parsed, errors, strict=True):
            if error is not None:  # the others stay as claimed: applied
                self._record(entry, _outcome_of(error))

    async def _apply_each(self, ids: list[int]) -> None:
        """Each entry in a savepoint of one transaction: an entry that raises rolls back only
        its own writes. Should the commit fail all the same (a constraint checked only at
        commit), each entry in a transaction of its own."""
        async with UnitOfWork(self._sessions, self._bus) as uow:
            try:
                for entry_id in ids:
                    entry = await _due_entry(uow.session, entry_id)
                    if entry is not None:
                        await self._apply_entry(uow, entry)
                await uow.commit()
            except Exception as exc:
                log.warning(
                    "journal batch failed, applying one by one",
                    reason=journal.describe_failure(exc),
                )
                await uow.rollback()
            else:
                return
        for entry_id in ids:
            if not await self._apply_alone(entry_id):
                break  # the database refuses even to record a failure: try again next pass

    async def _apply_alone(self, entry_id: int) -> bool:
        """One entry in its own transaction; if even that commit fails, its failure is
        recorded in another. False when that failed too."""
        try:
            async with UnitOfWork(self._sessions, self._bus) as uow:
                entry = await _due_entry(uow.session, entry_id)
                if entry is not None:
                    await self._apply_entry(uow, entry)
                    await uow.commit()
        except Exception as exc:
            failure = _Outcome("failed", journal.describe_failure(exc))
            return await self._record_alone(entry_id, failure)
        return True

    async def _record_alone(self, entry_id: int, outcome: _Outcome) -> bool:
        try:
            async with UnitOfWork(self._sessions, self._bus) as uow:
                entry = await _due_entry(uow.session, entry_id)
                if entry is not None:
                    self._record(entry, outcome)
                    await uow.commit()
        except Exception as exc:
            # The database refuses even the failure: the entry stays due, and is tried again.
            log.warning(
                "webhook failure not recorded",
                journal_id=entry_id,
                reason=outcome.reason,
                cause=journal.describe_failure(exc),
            )
            return False
        return True

    def _park_unconfigured(self, entry: WebhookJournalEntry) -> None:
        reason = f"provider {entry.provider} is not configured"
        _log_parked(entry, journal.DEAD, reason)
        journal.mark(entry, journal.DEAD, reason)

    async def _apply_entry(self, uow: UnitOfWork, entry: WebhookJournalEntry) -> None:
        provider = self._providers.get(entry.provider)
        if provider is None:
            async with uow.savepoint():
                self._park_unconfigured(entry)
            return
        outcome = await self._try_apply(uow, provider, entry)
        if outcome is None:
            return
        # The savepoint's rollback may have expired the entry; an async session must reload
        # it explicitly.
        await uow.session.refresh(entry)
        async with uow.savepoint():
            self._record(entry, outcome)

    async def _try_apply(
        self, uow: UnitOfWork, provider: Provider, entry: WebhookJournalEntry
    ) -> _Outcome | None:
        try:
            async with uow.savepoint():
                await self._apply_events(uow, provider, entry)
                journal.mark(entry, journal.APPLIED)
        except Exception as exc:
            return _outcome_of(exc)
        return None

    async def _apply_events(
        self, uow: UnitOfWork, provider: Provider, entry: WebhookJournalEntry
    ) -> None:
        for event in provider.parse(entry.kind, _webhook_of(entry)):  # type: ignore[arg-type]
            if isinstance(event, InboundMessage):
                await service.apply_inbound(uow, event)
            else:
                await service.apply_status(uow, event, provider.status_for(event.provider_status))

    def _record(self, entry: WebhookJournalEntry, outcome: _Outcome) -> None:
        if outcome.kind == "invalid":
            _log_parked(entry, journal.INVALID, outcome.reason)
            journal.mark(entry, journal.INVALID, outcome.reason)
        elif outcome.kind == "postpone":
            _retry_later(entry, outcome.reason, self.orphan_retry, journal.ORPHANED)
        else:
            _retry_later(entry, outcome.reason, self.failure_retry, journal.DEAD)


def _outcome_of(exc: Exception) -> _Outcome:
    if isinstance(exc, service.UnknownMessage):
        return _Outcome("postpone", f"no message with provider id {exc}")
    if isinstance(exc, WebhookPayloadError):
        return _Outcome("invalid", str(exc))
    return _Outcome("failed", journal.describe_failure(exc))


def _bulk_events(provider: Provider, entry: WebhookJournalEntry) -> list[service.BulkEvent]:
    events = provider.parse(entry.kind, _webhook_of(entry))  # type: ignore[arg-type]
    return [
        event
        if isinstance(event, InboundMessage)
        else service.ProviderStatus(event, provider.status_for(event.provider_status))
        for event in events
    ]


def _retry_later(
    entry: WebhookJournalEntry, reason: str, policy: RetryPolicy, parked_state: str
) -> None:
    failures = entry.attempts + 1
    if failures >= policy.attempts:
        entry.attempts = failures
        _log_parked(entry, parked_state, reason)
        journal.mark(entry, parked_state, reason)
        return
    delay = policy.delay(failures)
    if parked_state == journal.DEAD:  # an orphan-to-be is expected, not worth a warning
        log.warning(
            "webhook not applied, will retry",
            journal_id=entry.id,
            provider=entry.provider,
            attempt=failures,
            retry_in=round(delay.total_seconds(), 3),
            reason=reason,
        )
    journal.postpone(entry, delay, reason)


def _log_parked(entry: WebhookJournalEntry, state: str, reason: str) -> None:
    log.warning(
        "webhook parked",
        journal_id=entry.id,
        provider=entry.provider,
        state=state,
        attempts=entry.attempts,
        reason=reason,
    )


async def _due_entry(session: AsyncSession, entry_id: int) -> WebhookJournalEntry | None:
    """The entry, locked, if it is still pending (another applier may have taken it)."""
    return await session.scalar(
        select(WebhookJournalEntry)
        .where(WebhookJournalEntry.id == entry_id, WebhookJournalEntry.state == journal.PENDING)
        .with_for_update(skip_locked=True)
    )


def _webhook_of(entry: WebhookJournalEntry) -> WebhookRequest:
    content_type = entry.headers.get("content-type", "")
    query = urlsplit(entry.url).query
    params = journal.webhook_params(entry.method, content_type, entry.body, query)
    return WebhookRequest(entry.method, entry.url, entry.headers, params, entry.body.encode())
