"""The dispatcher: claims due outbound messages and hands them to their provider.

A message row is its own job. Claiming moves it to `sending` with a lease; the outcome is
recorded in a second transaction. A crash between the provider call and that record leaves the
row in `sending` with an expired lease: it becomes `unknown`, never sent again blindly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
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
)
from textbridge.realtime.bus import EventBus

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=120)
CLAIM_BATCH = 50
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
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._providers = providers
        self._status_callback_url = status_callback_url
        self._slots = asyncio.Semaphore(concurrency)
        self._loop = PollingLoop("dispatcher", CLAIM_BATCH, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake
        self._on_submitted = on_submitted

    async def run(self) -> None:
        await self.recover_expired_leases()
        await self._loop.run(self.dispatch_due)

    async def dispatch_due(self) -> int:
        """Claim what is due and send it; returns how many messages were claimed."""
        ids = await self._claim()
        await asyncio.gather(*(self._send_one(message_id) for message_id in ids))
        return len(ids)

    async def recover_expired_leases(self) -> None:
        async with UnitOfWork(self._sessions, self._bus) as uow:
            expired = await uow.session.scalars(
                select(Message).where(
                    Message.status == status.SENDING, Message.lease_expires_at < utcnow()
                )
            )
            for message in expired:
                log.warning("dispatch outcome unknown after restart", message_id=str(message.id))
                await service.set_status(
                    uow,
                    message,
                    status.UNKNOWN,
                    lease_expires_at=None,
                    error_message="the dispatch was interrupted; it may or may not have been sent",
                )
            await uow.commit()

    async def _claim(self) -> list[uuid.UUID]:
        async with UnitOfWork(self._sessions, self._bus) as uow:
            query = (
                select(Message)
                .where(Message.status == status.ACCEPTED, Message.next_attempt_at <= utcnow())
                .order_by(Message.next_attempt_at)
                .limit(CLAIM_BATCH)
                .with_for_update(skip_locked=True)
            )
            messages = list(await uow.session.scalars(query))
            for message in messages:
                await service.set_status(
                    uow,
                    message,
                    status.SENDING,
                    attempts=message.attempts + 1,
                    lease_expires_at=utcnow() + LEASE,
                )
            await uow.commit()
            return [message.id for message in messages]

    async def _send_one(self, message_id: uuid.UUID) -> None:
        async with self._slots:
            async with self._sessions() as session:
                message = await session.get(Message, message_id)
            if message is None:
                return
            outcome = await self._call_provider(message)
            await self._record(message_id, outcome)

    async def _call_provider(self, message: Message) -> SendResult | SendError:
        provider = self._providers.get(message.provider)
        if provider is None:
            return SendError(f"provider {message.provider} is not configured")
        outbound = outbound_of(message, self._status_callback_url(message))
        try:
            return await provider.send(outbound)
        except SendError as error:
            return error
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
