"""The dispatcher: claims due outbound messages and hands them to their provider.

A message row is its own job. Claiming moves it to `sending` with a lease; the outcome is
recorded in a second transaction. A crash between the provider call and that record leaves the
row in `sending` with an expired lease: it becomes `unknown`, never sent again blindly. Every
pass recovers expired leases (not only start-up: a process restarted within a lease would never
see them), and the provider call is bounded by half the lease, so a live dispatcher always
records its own outcome before its lease can expire.

Nothing that goes wrong with one message stops the others or leaves it for a restart: an
exception before the provider call is recorded as a retry with backoff (the provider cannot
have the message); one after it, while recording, as `unknown` when the provider may have the
message, else as a retry. Only when even that record fails does the lease take over.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch.governor import Governor, unlimited
from textbridge.dispatch.policy import next_attempt_at
from textbridge.messaging import service, status
from textbridge.messaging.content import outbound_of
from textbridge.models import Message
from textbridge.polling import PollingLoop
from textbridge.providers.base import (
    Provider,
    SendError,
    SendOutcomeUnknown,
    SendResult,
    SendUnavailable,
)
from textbridge.realtime.bus import EventBus

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=120)
CLAIM_BATCH = 50
INTERRUPTED = "the dispatch was interrupted; it may or may not have been sent"
IDLE_POLL_SECONDS = 1.0


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        providers: Mapping[str, Provider],
        status_callback_url: Callable[[Message], str],
        concurrency: int = 8,
        on_submitted: Callable[[], None] = lambda: None,
        lease: timedelta = LEASE,
        governor: Governor | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._providers = providers
        self._status_callback_url = status_callback_url
        self._slots = asyncio.Semaphore(concurrency)
        self._loop = PollingLoop("dispatcher", CLAIM_BATCH, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake
        self._on_submitted = on_submitted
        self._lease = lease
        self._call_deadline = lease.total_seconds() / 2
        self._governor = governor or unlimited()
        self._governor.wake_with(self.wake)

    async def run(self) -> None:
        await self._loop.run(self.dispatch_due)

    async def dispatch_due(self) -> int:
        """Recover expired leases, claim what is due and send it; returns how many messages
        were claimed."""
        ids = await self._claim()
        await asyncio.gather(*(self._send_one(message_id) for message_id in ids))
        return len(ids)

    async def _claim(self) -> list[uuid.UUID]:
        async with UnitOfWork(self._sessions, self._bus) as uow:
            await _recover_expired(uow)
            query = (
                select(Message)
                .where(Message.status == status.ACCEPTED, Message.next_attempt_at <= utcnow())
                .order_by(Message.priority, Message.next_attempt_at)  # replies first
                .limit(CLAIM_BATCH)
                .with_for_update(skip_locked=True)
            )
            messages = list(await uow.session.scalars(query))
            # The governor's one decision: who leaves now; the rest stay accepted, due later.
            messages = await self._governor.admit(messages)
            for message in messages:
                await service.set_status(
                    uow,
                    message,
                    status.SENDING,
                    attempts=message.attempts + 1,
                    lease_expires_at=utcnow() + self._lease,
                )
            await uow.commit()
            return [message.id for message in messages]

    async def _send_one(self, message_id: uuid.UUID) -> None:
        async with self._slots:
            try:
                outcome = await self._attempt(message_id)
            except Exception:  # the provider was not called: it cannot have the message
                log.exception(
                    "dispatch failed before the provider call", message_id=str(message_id)
                )
                outcome = SendUnavailable("internal error before the provider call")
            if outcome is None:
                return
            try:
                await self._record(message_id, outcome)
            except Exception:
                log.exception("recording a send outcome failed", message_id=str(message_id))
                await self._record_after_crash(message_id, outcome)

    async def _attempt(self, message_id: uuid.UUID) -> SendResult | SendError | None:
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
        if message is None:
            return None
        return await self._call_provider(message)

    async def _call_provider(self, message: Message) -> SendResult | SendError:
        provider = self._providers.get(message.provider)
        if provider is None:
            return SendError(f"provider {message.provider} is not configured")
        outbound = outbound_of(message, self._status_callback_url(message))
        try:
            # Its rate slot, before the call's deadline starts; SlotMissed (not sent) is a retry.
            await self._governor.wait_for_slot(message.id)
            async with asyncio.timeout(self._call_deadline):
                return await provider.send(outbound)
        except SendError as error:
            await self._governor.observe(message.id, error)  # a 429 slows its keys down
            return error
        except TimeoutError:
            return SendOutcomeUnknown(f"no answer within {self._call_deadline:g} s")
        except Exception:  # a bug in an adapter must not lose track of the message
            log.exception("provider send crashed", message_id=str(message.id))
            return SendOutcomeUnknown("the provider adapter crashed during the call")

    async def _record(self, message_id: uuid.UUID, outcome: SendResult | SendError) -> None:
        async with UnitOfWork(self._sessions, self._bus) as uow:
            # Locked: a status callback may be applying to this message at the same moment.
            message = await uow.session.get(Message, message_id, with_for_update=True)
            if message is None:
                return
            if message.status != status.SENDING:
                _settled_by_callback(message, outcome)
            elif isinstance(outcome, SendResult):
                await service.set_status(
                    uow,
                    message,
                    status.SUBMITTED,
                    provider_message_id=outcome.provider_message_id,
                    lease_expires_at=None,
                )
            else:
                await _record_error(uow, message, outcome)
            await uow.commit()
        if isinstance(outcome, SendResult):
            self._on_submitted()

    async def _record_after_crash(
        self, message_id: uuid.UUID, outcome: SendResult | SendError
    ) -> None:
        """Recording `outcome` raised: record the safest reading of it instead. Should this
        fail too (the database is down), the lease expires and the message becomes `unknown`."""
        try:
            async with UnitOfWork(self._sessions, self._bus) as uow:
                message = await uow.session.get(Message, message_id, with_for_update=True)
                if message is not None and message.status == status.SENDING:
                    await _record_safely(uow, message, outcome)
                await uow.commit()
        except Exception:
            log.exception(
                "recording a send failed twice; its lease will expire", message_id=str(message_id)
            )


async def _recover_expired(uow: UnitOfWork) -> None:
    """Leases that expired (their process died mid-send) become `unknown`. Cheap when there
    are none: one indexed query (`status` leads an index, and few rows are `sending`)."""
    expired = list(
        await uow.session.scalars(
            select(Message)
            .where(Message.status == status.SENDING, Message.lease_expires_at < utcnow())
            .with_for_update(skip_locked=True)
        )
    )
    for message in expired:
        log.warning("dispatch outcome unknown: its lease expired", message_id=str(message.id))
        await service.set_status(
            uow, message, status.UNKNOWN, lease_expires_at=None, error_message=INTERRUPTED
        )


async def _record_safely(
    uow: UnitOfWork, message: Message, outcome: SendResult | SendError
) -> None:
    """`unknown` where the provider may have the message, else a retry with backoff. The
    provider's id is not stored (storing it may be what failed, e.g. a duplicate): it goes into
    the error message, and a status callback still finds the message by our reference."""
    changes: dict[str, Any] = {"lease_expires_at": None, "error_message": INTERRUPTED}
    if isinstance(outcome, SendResult):
        changes["error_message"] = (
            f"the provider took it as {outcome.provider_message_id[:64]}, but recording that failed"
        )
    if isinstance(outcome, SendResult | SendOutcomeUnknown):
        await service.set_status(uow, message, status.UNKNOWN, **changes)
        return
    changes["error_message"] = f"{outcome} (recording this failed)"[:500]
    retry = SendUnavailable("recording the provider's answer failed")
    retry_at = next_attempt_at(retry, message.attempts, utcnow())
    if retry_at is None:
        await service.set_status(uow, message, status.FAILED, **changes)
        return
    await service.set_status(uow, message, status.ACCEPTED, next_attempt_at=retry_at, **changes)


def _settled_by_callback(message: Message, outcome: SendResult | SendError) -> None:
    """A status callback named this message (by our reference) before we recorded the send:
    it is past `sending` already. Keep its status; only the provider's id and lease remain."""
    message.lease_expires_at = None
    if isinstance(outcome, SendResult) and message.provider_message_id is None:
        message.provider_message_id = outcome.provider_message_id


async def _record_error(uow: UnitOfWork, message: Message, error: SendError) -> None:
    common = {
        "lease_expires_at": None,
        "error_code": error.provider_code,
        "error_message": str(error)[:500],
    }
    if isinstance(error, SendOutcomeUnknown):
        await service.set_status(uow, message, status.UNKNOWN, **common)
        return
    retry_at = next_attempt_at(error, message.attempts, utcnow())
    if retry_at is None:
        await service.set_status(uow, message, status.FAILED, **common)
        return
    log.info("send will be retried", message_id=str(message.id), at=retry_at.isoformat())
    await service.set_status(uow, message, status.ACCEPTED, next_attempt_at=retry_at, **common)
