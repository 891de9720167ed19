"""POSTs due webhook deliveries to their subscribers (the workers role).

The `webhook_deliveries` table is the queue, as attachments are for the media fetcher. A row is
due while `pending` and its `next_attempt_at` has passed. Claiming it (SKIP LOCKED on
PostgreSQL, so several workers share the queue) counts an attempt and moves `next_attempt_at`
one lease ahead: a crash mid-POST only delays the row, and it is sent again with the same
`webhook-id` (at least once; the receiver dedupes on the id).

The outcome is written back: 2xx `delivered`; a network error, a timeout, 408, 429 or 5xx a
retry after a jittered, doubling delay (or the `Retry-After` the receiver asked for), `dead`
once the attempts are spent; any other answer (3xx, 4xx) `dead` at once. A retry also defers
the subscriber's other due rows to the same time, so an endpoint that is down costs one
attempt per backoff step instead of one per event, and never takes the places of the others.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import structlog
from sqlalchemy import Update, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from textbridge.db.base import utcnow
from textbridge.media.guard import RefusedAddress, Unresolvable
from textbridge.models import WebhookDelivery, WebhookSubscription
from textbridge.models.webhook_subscription import EVENT_TYPES
from textbridge.polling import PollingLoop
from textbridge.realtime.bus import EventBus
from textbridge.webhooks_out import signing

log = structlog.get_logger(__name__)

IDLE_POLL_SECONDS = 2.0
DEFAULT_CONCURRENCY = 8
RETRY_MAX_SECONDS = 6 * 3600.0
LEASE_MARGIN = timedelta(seconds=60)
RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: uuid.UUID
    subscription_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    transient: bool
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _secrets_in_use(
    secret: str, previous: str | None, expires_at: datetime | None, *, now: datetime
) -> tuple[str, ...]:
    """The current secret, then the previous one while its rotation overlaps."""
    if previous is not None and expires_at is not None and expires_at > now:
        return (secret, previous)
    return (secret,)


def body_of(payload: dict[str, object]) -> bytes:
    """Minified JSON, the same bytes on every attempt (the signature covers them)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDeliverer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = 8,
        retry_base_seconds: float = 5.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._timeout = timeout_seconds
        self._loop = PollingLoop("webhook-deliverer", concurrency, IDLE_POLL_SECONDS)
        self.wake = self._loop.wake

    async def run(self) -> None:
        await self._loop.run(self.deliver_due)

    async def follow(self, bus: EventBus) -> None:
        """Wake on this process's events (SQLite, where no trigger NOTIFYs): a delivery the
        unit of work just wrote goes out at once instead of at the next poll."""
        while True:
            async with bus.subscribe() as events:
                async for event in events:
                    if event.type in EVENT_TYPES:
                        self.wake()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver_due(self) -> int:
        claimed = await self._claim()
        await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        now = utcnow()
        query = (
            select(
                WebhookDelivery,
                WebhookSubscription.url,
                WebhookSubscription.secret,
                WebhookSubscription.previous_secret,
                WebhookSubscription.previous_secret_expires_at,
            )
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.enabled,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
            .limit(self._concurrency)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
            claimed = [
                self._claim_one(delivery, url, _secrets_in_use(secret, old, until, now=now), now)
                for delivery, url, secret, old, until in rows
            ]
            await session.commit()
        return [item for item in claimed if item is not None]

    def _claim_one(
        self, delivery: WebhookDelivery, url: str, secrets: tuple[str, ...], now: datetime
    ) -> _Claimed | None:
        if delivery.attempts >= self._max_attempts:
            # Every attempt so far was interrupted (a crash, a restart) before it could record.
            delivery.status = "dead"
            delivery.last_error = delivery.last_error or "interrupted"
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=self._timeout) + LEASE_MARGIN
        return _Claimed(
            delivery.id,
            delivery.subscription_id,
            url,
            secrets,
            body_of(delivery.payload),
            delivery.attempts,
        )

    async def _deliver(self, item: _Claimed) -> None:
        try:
            outcome = await self._post(item)
        except Exception as exc:  # a bug here must settle the row, not crash the pass
            log.exception("webhook delivery crashed", delivery_id=str(item.id))
            outcome = Outcome(None, type(exc).__name__, transient=False)
        await self._record(item, outcome)

    async def _post(self, item: _Claimed) -> Outcome:
        message_id = signing.webhook_id(item.id)
        timestamp = int(utcnow().timestamp())
        headers = signing.headers(item.secrets, message_id, timestamp, item.body)
        try:
            # Streamed and never read: the answer's body is not ours to download.
            async with self._client.stream(
                "POST", item.url, content=item.body, headers=headers, timeout=self._timeout
            ) as response:
                return _judge(response)
        except Unresolvable as exc:
            return Outcome(None, str(exc)[:500], transient=True)
        except RefusedAddress as exc:
            return Outcome(None, str(exc)[:500], transient=False)
        except httpx.TimeoutException:
            return Outcome(None, "timeout", transient=True)
        except httpx.TransportError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], transient=True)

    async def _record(self, item: _Claimed, outcome: Outcome) -> None:
        retry_at = None if outcome.delivered else self._retry_at(item.attempts, outcome)
        async with self._sessions() as session:
            delivery = await session.get(WebhookDelivery, item.id)
            if delivery is None:  # its subscription was deleted meanwhile
                return
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            if outcome.delivered:
                delivery.status = "delivered"
                delivery.delivered_at = utcnow()
                delivery.next_attempt_at = None
            elif retry_at is None:
                delivery.status = "dead"
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = retry_at
                await session.execute(_defer_others(item, retry_at))
            await session.commit()
        if not outcome.delivered:
            fate = "dead" if retry_at is None else "will retry"
            log.info(
                f"webhook delivery {fate}",
                delivery_id=str(item.id),
                subscription_id=str(item.subscription_id),
                status_code=outcome.status_code,
                error=outcome.error,
            )

    def _retry_at(self, attempts: int, outcome: Outcome) -> datetime | None:
        if not outcome.transient or attempts >= self._max_attempts:
            return None
        if outcome.retry_after is not None:
            delay = min(outcome.retry_after, RETRY_MAX_SECONDS)
        else:
            ceiling = min(self._retry_base_seconds * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
            delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)
        return utcnow() + timedelta(seconds=delay)


def _defer_others(item: _Claimed, retry_at: datetime) -> Update:
    return (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == item.subscription_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at < retry_at,
            WebhookDelivery.next_attempt_at <= utcnow(),  # due: not one in flight (leased)
            WebhookDelivery.id != item.id,
        )
        .values(next_attempt_at=retry_at)
    )


def _judge(response: httpx.Response) -> Outcome:
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(code, None, transient=False)
    transient = code >= 500 or code in RETRYABLE_STATUS
    retry_after = _retry_after(response.headers.get("retry-after")) if transient else None
    return Outcome(code, f"HTTP {code}", transient, retry_after)


def _retry_after(value: str | None) -> float | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - utcnow()).total_seconds(), 0.0) if when.tzinfo else None
