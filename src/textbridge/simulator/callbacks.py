"""Signed webhooks: status-callback sequences after a send, and single deliveries.

Every webhook goes through one pooled ``httpx.AsyncClient`` and is signed with
``textbridge.providers.plivo.signature.signed_headers`` over exactly the params sent. Background
work runs in tasks kept in a set (so they are not garbage-collected mid-flight) and cancelled on
``aclose`` (the app's lifespan shutdown) or ``cancel_pending`` (a control reset).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from textbridge.providers.plivo.signature import signed_headers
from textbridge.simulator.payloads import Params, StatusEvent, plan_lifecycle
from textbridge.simulator.state import Faults, NumberFate, StoredMessage
from textbridge.simulator.vocabulary import (
    CALLBACK_TIMEOUT_SECONDS,
    RETRY_DELAY_FACTORS,
    SUCCESS_ERROR_CODE,
    CallbackMethod,
)

log = structlog.get_logger("textbridge.simulator")


@dataclass(frozen=True)
class Webhook:
    """One request to a customer URL: form body for POST, query string for GET."""

    url: str
    method: CallbackMethod
    params: Params

    def describe(self) -> dict[str, str]:
        """Fields safe and useful to log (no body text, no signature)."""
        fields = dict(self.params)
        return {
            "url": self.url,
            "method": self.method,
            "message_uuid": fields.get("MessageUUID", ""),
            "status": fields.get("Status", ""),
        }


class CallbackDispatcher:
    """Sends signed webhooks and runs message lifecycles in the background."""

    def __init__(self, auth_token: str) -> None:
        self._auth_token = auth_token
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._random = secrets.SystemRandom()

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
            response = await self._send_signed(hook)
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

    async def _send_signed(self, hook: Webhook) -> httpx.Response:
        headers = signed_headers(self._auth_token, hook.method, hook.url, hook.params)
        if hook.method == "GET":
            # Keep the URL's own query: httpx's `params=` would replace it.
            url = httpx.URL(hook.url).copy_merge_params(list(hook.params))
            return await self.client.get(url, headers=headers)
        return await self.client.post(hook.url, data=dict(hook.params), headers=headers)

    def start_lifecycle(self, message: StoredMessage, fate: NumberFate, faults: Faults) -> None:
        """Move ``message`` through its fate's statuses, calling back its URL at each step."""
        delay = faults.callback_delay_seconds
        events = plan_lifecycle(message, fate, delay)
        order = list(events)
        if faults.shuffle_callbacks:
            self._random.shuffle(order)
        copies = 2 if faults.duplicate_callbacks else 1
        self.spawn(self._run_lifecycle(message, events, order, copies, delay))

    async def _run_lifecycle(
        self,
        message: StoredMessage,
        events: list[StatusEvent],
        order: list[StatusEvent],
        copies: int,
        delay: float,
    ) -> None:
        # The state follows `events` (the truth); the callbacks follow `order` (maybe shuffled).
        for event, reported in zip(events, order, strict=True):
            await asyncio.sleep(delay)
            _apply(message, event)
            if message.callback_url is None:
                continue
            hook = Webhook(message.callback_url, message.callback_method, reported.params)
            for _ in range(copies):
                await self._send_with_retries(hook, delay)

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
        return response.is_success


def _apply(message: StoredMessage, event: StatusEvent) -> None:
    code = SUCCESS_ERROR_CODE if event.status == "delivered" else event.error_code
    message.advance(event.status, event.moment, code)


def _new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=CALLBACK_TIMEOUT_SECONDS,
        headers={"User-Agent": "textbridge-simulator (PlivoHTTP)"},
        follow_redirects=False,
    )
