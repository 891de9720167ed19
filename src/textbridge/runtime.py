"""Everything a running textbridge holds: engine, bus, providers, background workers.

Built once per process from `Settings`; `app.create_app` and the CLI use it. A process plays
one or both roles: `http` (the app: event streams need the relay) and `workers` (dispatcher,
journal applier, media fetcher, purgers). On PostgreSQL each process also holds one listener
connection: wake-ups cross processes over NOTIFY, and so do live events (see `realtime/`).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from textbridge.analytics.rollup import RollupCompactor
from textbridge.auth.keys import VerifiedKeys
from textbridge.auth.ratelimit import ApiRateLimit
from textbridge.campaigns.report import ProgressPublisher
from textbridge.compliance import keywords
from textbridge.compliance.retention import ContentPurger
from textbridge.config import Settings, networks
from textbridge.db.driver import SEND_SETUP, DriverPool
from textbridge.db.engine import GENERIC_PLANS, create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch.dispatcher import DISPATCH_CONNECTIONS, Dispatcher
from textbridge.dispatch.governor import build_governor
from textbridge.dispatch.policy import Limits
from textbridge.logging import register_secret
from textbridge.media.downloader import MediaDownloader
from textbridge.media.fetcher import MediaFetcher
from textbridge.media.guard import allowing, guarded_client
from textbridge.media.uploads import UploadPurger
from textbridge.messaging.search import inbox_reads_pool
from textbridge.models import Message
from textbridge.providers.base import Provider
from textbridge.providers.factory import build_providers, http_client, template_source
from textbridge.realtime import listener as channels
from textbridge.realtime.bus import EventBus
from textbridge.realtime.listener import PgListener, asyncpg_dsn
from textbridge.realtime.relay import EventRelay, LiveEventPurger
from textbridge.realtime.wakeups import Wakeups
from textbridge.sandbox import SandboxCredentials
from textbridge.webhooks.applier import JournalApplier
from textbridge.webhooks.retention import JournalPurger
from textbridge.webhooks_out.deliverer import WebhookDeliverer
from textbridge.webhooks_out.urls import hook_address_policy
from textbridge.whatsapp.sync import TemplateSource

log = structlog.get_logger(__name__)


def webhook_url(public_url: str, provider: str, kind: str) -> str:
    return f"{public_url}/webhooks/{provider}/{kind}"


def status_callback_url(public_url: str, message: Message) -> str:
    """Where the provider reports this message's statuses; `ref` names the message."""
    return f"{webhook_url(public_url, message.provider, 'status')}?ref={message.id}"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    providers: dict[str, Provider]
    dispatcher: Dispatcher
    applier: JournalApplier
    purger: JournalPurger
    session_secret: str
    sandbox: SandboxCredentials | None
    http: httpx.AsyncClient
    media: MediaFetcher | None = None
    hooks: WebhookDeliverer | None = None
    wakeups: Wakeups = field(default_factory=Wakeups)
    http_role: bool = True
    workers_role: bool = True
    listener: PgListener | None = None
    relay: EventRelay | None = None
    campaigns: ProgressPublisher = field(init=False)
    api_keys: VerifiedKeys = field(default_factory=lambda: VerifiedKeys(ttl=0))
    api_rate: ApiRateLimit = field(default_factory=lambda: ApiRateLimit(0, 1))
    sign_in_tokens: set[str] = field(default_factory=set)
    """Sandbox only: the one-time inbox sign-in links `serve` printed (`web.router`)."""
    driver: DriverPool | None = None
    """PostgreSQL: the API send path's own asyncpg pool (`db/driver.py`)."""
    reads: DriverPool | None = None
    """PostgreSQL: the inbox's list, search and thread reads' own pool (`messaging/search.py`)."""
    dispatch_engine: AsyncEngine | None = None
    """PostgreSQL: the dispatcher's own pool, with generic plans (`db.engine.GENERIC_PLANS`)."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sender_rates_changed: Callable[[], None] = field(default=lambda: None)
    """Call once a sender's own rate change is committed: every process's governor reads the
    rates again at its next claim (here at once; elsewhere over NOTIFY on PostgreSQL)."""

    def __post_init__(self) -> None:
        self.campaigns = ProgressPublisher(self.sessions, self.bus)

    def sign_in_link(self) -> str:
        """Sandbox only: a new one-time link that signs the inbox in as its admin."""
        assert self.sandbox is not None, "sign-in links are for the sandbox"
        token = secrets.token_urlsafe(32)
        register_secret(token)  # our own log lines never show it (uvicorn's access log
        # line shows it once used, when it opens nothing any more)
        self.sign_in_tokens.add(token)
        return f"{self.settings.public_url}/login/once?token={token}"

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.bus)

    def template_source(self) -> TemplateSource | None:
        return template_source(self.settings, self.sandbox, self.http)

    def start_background(self) -> None:
        """Start what this process's roles run (`http_role`, `workers_role`)."""
        if not self.settings.is_sqlite:
            self._start_listening()
        if self.http_role:  # it publishes to this process's own event streams
            self._start("campaign-progress", self.campaigns.run())
            self._start("upload-purge", UploadPurger(self.settings.media_dir).run())
        if self.workers_role:
            self._start("dispatcher", self.dispatcher.run())
            self._start("journal-applier", self.applier.run())
            self._start("journal-purge", self.purger.run())
            content = ContentPurger(
                self.sessions, self.settings.message_retention_days, self.settings.media_dir
            )
            self._start("content-purge", content.run())
            self._start("rollup-compact", RollupCompactor(self.sessions).run())
            if self.media is not None:
                self._start("media-fetcher", self.media.run())
            if self.hooks is not None:
                self._start("webhook-deliverer", self.hooks.run())
                if not self.bus.durable:
                    self._start("webhook-wakeups", self.hooks.follow(self.bus))
            if self.bus.durable:
                self._start("live-event-purge", LiveEventPurger(self.sessions).run())

    def _start(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.create_task(work, name=name))

    def _start_listening(self) -> None:
        handlers = dict(self.wakeups.local) if self.workers_role else {}
        readers = {}
        if self.http_role:
            handlers[channels.KEYS] = self.api_keys.forget_all  # a key was revoked somewhere
            self.relay = EventRelay(self.sessions, self.bus, lambda: self.listener_up)
            readers[channels.EVENTS] = self.relay.notified
            self.bus.on_commit = self.relay.offer
            self._start("event-relay", self.relay.run())

        def caught_up() -> None:
            for wake in handlers.values():
                wake()
            if self.relay is not None:
                self.relay.wake()  # what was committed while no notification could come

        dsn = asyncpg_dsn(self.settings.database_url)
        self.listener = PgListener(dsn, handlers, caught_up, readers)
        self.wakeups.listener = self.listener
        self._start("listener", self.listener.run())

    @property
    def listener_up(self) -> bool:
        return self.listener is not None and self.listener.connected

    async def aclose(self) -> None:
        try:
            await self._stop_work()
        finally:  # the connections are closed whatever failed before
            if self.dispatch_engine is not None:
                await self.dispatch_engine.dispose()
            await self.engine.dispose()

    async def _stop_work(self) -> None:
        if self.workers_role:  # a graceful stop: the sends in flight are finished and recorded
            await self.dispatcher.drain(self.settings.shutdown_grace_seconds)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.bus.close()
        for provider in self.providers.values():
            await provider.aclose()
        await self.http.aclose()
        if self.media is not None:
            await self.media.aclose()
        if self.hooks is not None:
            await self.hooks.aclose()
        if self.driver is not None:
            await self.driver.aclose()
        if self.reads is not None:
            await self.reads.aclose()


def build_runtime(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    downloader: MediaDownloader | None = None,
) -> Runtime:
    """`transport` replaces the network under the providers' HTTP client (tests guard it);
    `downloader` replaces the media downloader (used when TEXTBRIDGE_MEDIA_DOWNLOAD is on)."""
    _register_secrets(settings)
    keywords.configure(settings.keyword_policy())
    engine = create_engine(settings.database_url, settings.database_pool_size)
    sessions = create_session_factory(engine)
    bus = EventBus(durable=not settings.is_sqlite)
    wakeups = Wakeups()
    sandbox = SandboxCredentials.generate() if settings.sandbox else None
    for secret in sandbox.secrets if sandbox else ():
        register_secret(secret)
    providers = build_providers(settings, sandbox, transport)
    media = _media_fetcher(settings, sessions, downloader, providers)
    if media is not None:
        media.wake = wakeups.broadcasting(channels.MEDIA, media.wake)
    applier = JournalApplier(sessions, bus, providers, on_applied=media.wake if media else None)
    applier.wake = wakeups.broadcasting(channels.APPLY, applier.wake)
    governor = build_governor(settings, sessions)
    dispatch_engine = None
    if not settings.is_sqlite:  # SQLite: one writer at a time, through the one engine
        dispatch_engine = create_engine(
            settings.database_url, DISPATCH_CONNECTIONS, GENERIC_PLANS, "textbridge-dispatcher"
        )
    dispatcher = Dispatcher(
        create_session_factory(dispatch_engine) if dispatch_engine else sessions,
        bus,
        providers,
        lambda message: status_callback_url(settings.public_url, message),
        concurrency=settings.dispatch_concurrency,
        on_submitted=applier.wake,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        governor=governor,
        limits=Limits(settings.dispatch_max_attempts, settings.dispatch_max_rate_limited),
    )
    dispatcher.wake = wakeups.broadcasting(channels.DISPATCH, dispatcher.wake)
    hooks = webhook_deliverer(settings, sessions)
    hooks.wake = wakeups.broadcasting(channels.HOOKS, hooks.wake)
    session_secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return Runtime(
        settings,
        engine,
        sessions,
        bus,
        providers,
        dispatcher,
        applier,
        JournalPurger(sessions, settings.journal_retention_days),
        session_secret=session_secret or secrets.token_urlsafe(32),
        sandbox=sandbox,
        http=http_client(transport),
        media=media,
        hooks=hooks,
        wakeups=wakeups,
        api_keys=VerifiedKeys(settings.api_key_cache_seconds),
        api_rate=ApiRateLimit(settings.api_rate_per_second, settings.api_rate_burst),
        driver=None
        if settings.is_sqlite
        else DriverPool(settings.database_url, settings.api_send_connections, setup=SEND_SETUP),
        reads=None if settings.is_sqlite else inbox_reads_pool(settings.database_url),
        dispatch_engine=dispatch_engine,
        sender_rates_changed=wakeups.broadcasting(channels.SENDERS, governor.rates_changed),
    )


def _media_fetcher(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    downloader: MediaDownloader | None,
    providers: dict[str, Provider],
) -> MediaFetcher | None:
    if not settings.media_download:
        return None
    if downloader is None:
        allowed = allowing(networks(settings.media_allowed_networks))
        downloader = MediaDownloader(
            guarded_client(allowed=allowed),
            settings.media_dir,
            settings.media_max_bytes,
            allowed=allowed,
            deadline=settings.media_timeout,
        )
    return MediaFetcher(sessions, downloader, providers, concurrency=settings.media_concurrency)


def webhook_deliverer(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> WebhookDeliverer:
    """Subscribers' URLs are fetched through the SSRF guard; in sandbox mode loopback is
    allowed too (a receiver on this machine, for trying it out and for tests)."""
    allowed = hook_address_policy(sandbox=settings.sandbox)
    return WebhookDeliverer(
        sessions,
        guarded_client(allowed=allowed),
        max_attempts=settings.hooks_max_attempts,
        retry_base_seconds=settings.hooks_retry_base_seconds,
        timeout_seconds=settings.hooks_timeout_seconds,
    )


def _register_secrets(settings: Settings) -> None:
    values = (
        settings.plivo_auth_token,
        settings.api_key,
        settings.secret_key,
        settings.vonage_api_secret,
        settings.vonage_signature_secret,
        settings.vonage_signature_secrets,
        settings.vonage_private_key_content,
    )
    for secret in values:
        if secret is not None:
            register_secret(secret.get_secret_value())
    for by_api_key in settings.vonage_secrets_by_api_key.values():
        register_secret(by_api_key)
    # The Basic authorization headers built from them, as a traceback or a client could show.
    basic_pairs = (
        (settings.plivo_auth_id, settings.plivo_auth_token),
        (settings.vonage_api_key, settings.vonage_api_secret),
    )
    for user, password in basic_pairs:
        if user and password:
            pair = f"{user}:{password.get_secret_value()}".encode()
            register_secret(base64.b64encode(pair).decode("ascii"))
