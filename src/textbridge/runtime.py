"""Everything a running textbridge holds: engine, bus, providers, background workers.

Built once per process from `Settings`; `app.create_app` and the CLI use it.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass, field

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from textbridge.config import Settings
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch.dispatcher import Dispatcher
from textbridge.logging import register_secret
from textbridge.providers.base import Provider
from textbridge.providers.plivo import PlivoProvider
from textbridge.realtime.bus import EventBus
from textbridge.webhooks.applier import JournalApplier

log = structlog.get_logger(__name__)

SANDBOX_PLIVO_NUMBER = "+14155550100"
PROVIDER_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)


def webhook_url(public_url: str, provider: str, kind: str) -> str:
    return f"{public_url}/webhooks/{provider}/{kind}"


@dataclass(frozen=True, slots=True)
class SandboxCredentials:
    """Plivo-shaped credentials shared by textbridge and its in-process simulator."""

    auth_id: str
    auth_token: str

    @classmethod
    def generate(cls) -> SandboxCredentials:
        alphabet = string.ascii_uppercase + string.digits
        auth_id = "MA" + "".join(secrets.choice(alphabet) for _ in range(18))
        return cls(auth_id, secrets.token_urlsafe(30))


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    providers: dict[str, Provider]
    dispatcher: Dispatcher
    applier: JournalApplier
    session_secret: str
    sandbox: SandboxCredentials | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.bus)

    def start_background(self) -> None:
        self.tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        self.tasks.append(asyncio.create_task(self.applier.run(), name="journal-applier"))

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.bus.close()
        for provider in self.providers.values():
            await provider.aclose()
        await self.engine.dispose()


def build_runtime(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    """`transport` replaces the network under the providers' HTTP client (tests guard it)."""
    _register_secrets(settings)
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    bus = EventBus()
    sandbox = SandboxCredentials.generate() if settings.sandbox else None
    if sandbox is not None:
        register_secret(sandbox.auth_token)
    providers = _providers(settings, sandbox, transport)
    applier = JournalApplier(sessions, bus, providers)
    dispatcher = Dispatcher(
        sessions,
        bus,
        providers,
        lambda provider: webhook_url(settings.public_url, provider, "status"),
        concurrency=settings.dispatch_concurrency,
        on_submitted=applier.wake,
    )
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return Runtime(
        settings,
        engine,
        sessions,
        bus,
        providers,
        dispatcher,
        applier,
        session_secret=secret or secrets.token_urlsafe(32),
        sandbox=sandbox,
    )


def _register_secrets(settings: Settings) -> None:
    for secret in (settings.plivo_auth_token, settings.api_key, settings.secret_key):
        if secret is not None:
            register_secret(secret.get_secret_value())


def _providers(
    settings: Settings,
    sandbox: SandboxCredentials | None,
    transport: httpx.AsyncBaseTransport | None,
) -> dict[str, Provider]:
    client = httpx.AsyncClient(
        timeout=PROVIDER_TIMEOUT, limits=httpx.Limits(max_connections=100), transport=transport
    )
    if sandbox is not None:
        base_url = f"{settings.public_url}/simulator/v1/Account"
        return {"plivo": PlivoProvider(sandbox.auth_id, [sandbox.auth_token], base_url, client)}
    if not (settings.plivo_auth_id and settings.plivo_auth_token):
        raise ValueError("PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN are required outside sandbox mode")
    token = settings.plivo_auth_token.get_secret_value()
    plivo = PlivoProvider(settings.plivo_auth_id, [token], settings.plivo_api_base_url, client)
    return {"plivo": plivo}
