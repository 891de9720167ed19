"""Signed webhooks: status-callback sequences after a send, and single deliveries.

Every webhook goes through one pooled ``httpx.AsyncClient``; each ``Webhook`` signs itself
(Plivo: ``PlivoWebhook`` here; Vonage: ``vonage.callbacks.VonageWebhook``). Background work runs
in tasks kept in a set (so they are not garbage-collected mid-flight) and cancelled on
``aclose`` (the app's lifespan shutdown) or ``cancel_pending`` (a control reset).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import httpx
import structlog

from textbridge.providers.plivo.signature import signed_headers
from textbridge.providers.pool import keep_sockets
from textbridge.simulator.plivo.vocabulary import (
    CALLBACK_TIMEOUT_SECONDS,
    RETRY_DELAY_FACTORS,
    CallbackMethod,
)
from textbridge.simulator.state import Faults, StoredMessage

log = structlog.get_logger("textbridge.simulator")

Params = tuple[tuple[str, str], ...]


class Webhook(Protocol):
    """One request to a customer URL, signed the way its provider signs."""

    @property
    def url(self) -> str: ...

    def describe(self) -> dict[str, str]:
        """Fields safe and useful to log (no body text, no signature)."""
        ...

    def settled(self, response: httpx.Response) -> bool:
        """True when ``response`` ends the delivery (no retry)."""
        ...

    async def send(self, client: httpx.AsyncClient) -> httpx.Response: ...


@dataclass(frozen=True)
class PlivoWebhook:
    """A Plivo webhook: form body for POST, query string for GET, V2 + V3 signatures.

    Plivo retries every non-2xx answer.
    """

    url: str
    method: CallbackMethod
    params: Params
    auth_token: str = field(repr=False, compare=False)

    def describe(self) -> dict[str, str]:
        fields = dict(self.params)
        return {
            "url": self.url,
            "method": self.method,
            "message_uuid": fields.get("MessageUUID", ""),
            "status": fields.get("Status", ""),
        }

    def settled(self, response: httpx.Response) -> bool:
        return response.is_success

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        headers = signed_headers(self.auth_token, self.method, self.url, self.params)
        if self.method == "GET":
            # Keep the URL's own query: httpx's `params=` would replace it.
            url = httpx.URL(self.url).copy_merge_params(list(self.params))
            return await client.get(url, headers=headers)
        return await client.post(self.url, data=dict(self.params), headers=headers)


@dataclass(frozen=True)
class PlivoJsonWebhook:
    """A Plivo webhook whose body is JSON (WhatsApp inbound: nested ``Button``, ``Context``),
    V3-signed over its fields as Plivo's SDK computes them (nested objects included)."""

    url: str
    body: Mapping[str, object]
    auth_token: str = field(repr=False, compare=False)

    def describe(self) -> dict[str, str]:
        return {
            "url": self.url,
            "method": "POST",
            "message_uuid": str(self.body.get("MessageUUID")),
        }

    def settled(self, response: httpx.Response) -> bool:
        return response.is_success

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        # Signed over the decoded object, nested fields included, as Plivo's SDK signs it.
        headers = signed_headers(self.auth_token, "POST", self.url, self.body)
        content = json.dumps(self.body, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
        return await client.post(self.url, content=content, headers=headers)


@dataclass(frozen=True)
class LifecycleStep:
    """One status a message reaches: what to store on it, and the webhook reporting it."""

    status: str
    moment: datetime
    error_code: str | None  # stored on the message when not None
    webhook: Webhook | None  # None: the message has no callback URL


CONCURRENT_CALLBACKS = 32


class CallbackDispatcher:
    """Sends signed webhooks and runs message lifecycles in the background."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._random = secrets.SystemRandom()
        # Callbacks queue here, not in httpcore's pool: a pool with thousands of waiting
        # requests spends its time re-scanning them (quadratic) and starves the send API.
        self._in_flight = asyncio.Semaphore(CONCURRENT_CALLBACKS)

    async def start(self) -> None:
        if self._client is None:
            self._client = _new_client()

    async def aclose(self) -> None:
        """Cancel all background work, then close the HTTP pool."""
        await self.cancel_pending()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def cancel_pending(self) -> None:
        """Cancel every lifecycle and retry still running, and wait for them to end."""
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # A mounted sub-app gets no lifespan of its own: the parent should enter
            # `sim_app.router.lifespan_context(sim_app)`; until it does, work without one.
            log.warning("simulator.lifespan_not_started")
            self._client = _new_client()
        return self._client

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator.task_failed", exc_info=task.exception())

    async def deliver(self, hook: Webhook, attempt: int = 1) -> httpx.Response:
        """Send ``hook`` once, signed, and log it; ``httpx.HTTPError`` on transport failure."""
        try:
            async with self._in_flight:
                response = await hook.send(self.client)
        except httpx.HTTPError as exc:
            log.warning(
                "simulator.callback.error", attempt=attempt, error=repr(exc), **hook.describe()
            )
            raise
        log.info(
            "simulator.callback.sent",
            attempt=attempt,
            status_code=response.status_code,
            **hook.describe(),
        )
        return response

    def start_lifecycle(
        self, message: StoredMessage, steps: Sequence[LifecycleStep], faults: Faults
    ) -> None:
        """Move ``message`` through ``steps`` one callback delay apart, calling back each."""
        delay = faults.callback_delay_seconds
        order = list(steps)
        if faults.shuffle_callbacks:
            self._random.shuffle(order)
        copies = 2 if faults.duplicate_callbacks else 1
        order = [self._unless_lost(step, faults.lost_callbacks) for step in order]
        self.spawn(self._run_lifecycle(message, list(steps), order, copies, delay))

    def _unless_lost(self, step: LifecycleStep, lost: float) -> LifecycleStep:
        """`step`, or, with probability `lost`, the same step with its webhook lost."""
        if lost and self._random.random() < lost:
            return replace(step, webhook=None)
        return step

    async def _run_lifecycle(
        self,
        message: StoredMessage,
        steps: list[LifecycleStep],
        order: list[LifecycleStep],
        copies: int,
        delay: float,
    ) -> None:
        # The state follows `steps` (the truth); the callbacks follow `order` (maybe shuffled).
        for step, reported in zip(steps, order, strict=True):
            await asyncio.sleep(delay)
            message.advance(step.status, step.moment, step.error_code)
            if reported.webhook is None:
                continue
            for _ in range(copies):
                await self._send_with_retries(reported.webhook, delay)

    async def _send_with_retries(self, hook: Webhook, delay: float) -> None:
        """First attempt inline (keeps callbacks in order); retries in the background."""
        if not await self._attempt(hook, attempt=1):
            self.spawn(self._retry(hook, delay))

    async def _retry(self, hook: Webhook, delay: float) -> None:
        for attempt, factor in enumerate(RETRY_DELAY_FACTORS, start=2):
            await asyncio.sleep(delay * factor)
            if await self._attempt(hook, attempt):
                return
        log.warning("simulator.callback.abandoned", **hook.describe())

    async def _attempt(self, hook: Webhook, attempt: int) -> bool:
        try:
            response = await self.deliver(hook, attempt)
        except httpx.HTTPError:
            return False
        return hook.settled(response)


def _new_client() -> httpx.AsyncClient:
    # As many kept-alive connections as callbacks in flight: with httpx's default of 20
    # kept alive, the 12 others were closed after each callback and opened again.
    limits = httpx.Limits(
        max_connections=CONCURRENT_CALLBACKS, max_keepalive_connections=CONCURRENT_CALLBACKS
    )
    client = httpx.AsyncClient(
        limits=limits,
        timeout=CALLBACK_TIMEOUT_SECONDS,
        headers={"User-Agent": "textbridge-simulator (PlivoHTTP)"},
        follow_redirects=False,
    )
    return keep_sockets(client)
