"""create_app(): the API, webhooks, inbox and (in sandbox mode) the simulator in one ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from time import perf_counter

import structlog
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from textbridge import __version__, metrics
from textbridge.api import (
    access,
    analytics,
    audit,
    campaigns,
    consent,
    contacts,
    conversations,
    errors,
    events,
    health,
    journal,
    keys,
    media,
    messages,
    observability,
    retry,
    review,
    rights,
    senders,
    templates,
    webhook_subscriptions,
)
from textbridge.body_limit import BodyLimit
from textbridge.bootstrap import bootstrap
from textbridge.config import Settings
from textbridge.media import public as public_media
from textbridge.media import uploads
from textbridge.request_ids import RequestIds
from textbridge.runtime import Runtime, build_runtime, webhook_url
from textbridge.sandbox import SANDBOX_NUMBERS, SANDBOX_WABA_ID
from textbridge.secure_responses import SecureResponses, docs_policy
from textbridge.webhooks.ingest import KINDS, WebhookIngest

log = structlog.get_logger(__name__)
MULTIPART_ROOM = 64 * 1024  # an upload's multipart framing and form fields, beyond the file


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    on_dev_key: Callable[[str], None] | None = None,
    on_sign_in_link: Callable[[str], None] | None = None,
) -> FastAPI:
    """The whole service. `on_dev_key` is told a development API key created at start-up;
    `on_sign_in_link`, in sandbox mode, a one-time link that signs the inbox in."""
    runtime = runtime or build_runtime(settings)
    app = FastAPI(
        title="textbridge",
        version=__version__,
        summary="Two-way SMS and WhatsApp through Plivo and Vonage",
        lifespan=_lifespan,
    )
    app.state.runtime = runtime
    app.state.on_dev_key = on_dev_key
    app.state.on_sign_in_link = on_sign_in_link
    errors.install(app)
    app.add_middleware(
        BodyLimit,
        api_limit=settings.api_max_body_bytes,
        webhook_limit=settings.webhook_max_body_bytes,
        upload_limit=uploads.MAX_UPLOAD_BYTES + MULTIPART_ROOM,
    )
    _add_webhooks(app, runtime)
    app.include_router(health.router)
    app.include_router(public_media.router)
    app.include_router(observability.router)
    app.include_router(observability.alerts_router, prefix="/api/v1")
    routers = (
        messages,
        conversations,
        senders,
        templates,
        media,
        events,
        journal,
        review,
        retry,
        contacts,
        rights,
        campaigns,
        consent,
        keys,
        audit,
        access,
        webhook_subscriptions,
        analytics,
    )
    for module in routers:
        app.include_router(module.router, prefix="/api/v1")
    _add_inbox(app)
    if runtime.sandbox is not None:
        _mount_simulator(app, runtime)
    if settings.log_format == "json":
        app.add_middleware(RequestIds)
    # Keep it the last middleware added (the outermost): every response, including the other
    # middlewares' own (413, 431), leaves with the security headers.
    app.add_middleware(SecureResponses, docs_csp=docs_policy(app))
    return app


def _add_webhooks(app: FastAPI, runtime: Runtime) -> None:
    ingest = WebhookIngest(
        runtime.engine,
        runtime.providers,
        runtime.settings.public_url,
        verify_signatures=not runtime.settings.skip_webhook_verification,
        on_stored=runtime.applier.wake,
    )
    route = Route("/webhooks/{provider}/{kind}", timed(ingest), methods=["GET", "POST"])
    app.router.routes.append(route)


def timed(ingest: WebhookIngest) -> Callable[[Request], Awaitable[Response]]:
    """`ingest.handle`, its time observed (`textbridge_webhook_seconds`). A provider or kind
    we do not serve is labelled `other`: the path must not create label values at will."""
    providers = ingest.provider_names

    def observe(request: Request, status: int, started: float) -> None:
        provider = request.path_params["provider"]
        kind = request.path_params["kind"]
        metrics.observe_webhook(
            provider if provider in providers else "other",
            kind if kind in KINDS else "other",
            status,
            started,
        )

    async def handle(request: Request) -> Response:
        started = perf_counter()
        try:
            response = await ingest.handle(request)
        except Exception:  # answered 500 by `SecureResponses`
            observe(request, 500, started)
            raise
        observe(request, response.status_code, started)
        return response

    return handle


def _add_inbox(app: FastAPI) -> None:
    from textbridge.web import dashboard
    from textbridge.web import router as web_router

    app.include_router(web_router.router)
    app.include_router(dashboard.router)
    app.mount("/static", web_router.static_files(), name="static")


def _mount_simulator(app: FastAPI, runtime: Runtime) -> None:
    from functools import partial

    from textbridge.api.deps import has_admin_key
    from textbridge.simulator import SimulatorConfig, create_simulator_app

    sandbox = runtime.sandbox
    assert sandbox is not None
    public_url = runtime.settings.public_url
    config = SimulatorConfig(
        plivo_auth_id=sandbox.plivo_auth_id,
        plivo_auth_token=sandbox.plivo_auth_token,
        plivo_message_url=webhook_url(public_url, "plivo", "inbound"),
        plivo_waba_id=SANDBOX_WABA_ID,
        vonage_application_id=sandbox.vonage_application_id,
        vonage_private_key_pem=sandbox.vonage_private_key_pem,
        vonage_signature_secret=sandbox.vonage_signature_secret,
        vonage_inbound_url=webhook_url(public_url, "vonage", "inbound"),
        vonage_status_url=webhook_url(public_url, "vonage", "status"),
        plivo_numbers=_sandbox_numbers("plivo"),
        vonage_numbers=_sandbox_numbers("vonage"),
    )
    app.state.simulator = create_simulator_app(config, partial(has_admin_key, runtime=runtime))
    app.mount("/simulator", app.state.simulator)


def _sandbox_numbers(provider: str) -> tuple[str, ...]:
    return tuple(number for (owner, _), number in SANDBOX_NUMBERS.items() if owner == provider)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    async with AsyncExitStack() as stack:
        simulator = getattr(app.state, "simulator", None)
        if simulator is not None:
            # Starlette does not run the lifespan of mounted apps.
            await stack.enter_async_context(simulator.router.lifespan_context(simulator))
        result = await bootstrap(runtime)
        if result.created_dev_key and app.state.on_dev_key:
            app.state.on_dev_key(result.created_dev_key)
        if runtime.sandbox is not None and app.state.on_sign_in_link:
            app.state.on_sign_in_link(runtime.sign_in_link())
        _warn_if_unverified(runtime)
        runtime.start_background()
        try:
            yield
        finally:
            await runtime.aclose()


def _warn_if_unverified(runtime: Runtime) -> None:
    settings = runtime.settings
    if settings.skip_webhook_verification:
        log.warning("webhook signature verification is OFF (development only)")
    if settings.plivo_accept_v2:
        log.warning(
            "TEXTBRIDGE_PLIVO_ACCEPT_V2 is on: Plivo V2 signatures do not cover the body, so "
            "anyone who saw one V2-signed callback can forge its fields"
        )
    if settings.vonage_basic_auth_only and not runtime.sandbox:
        log.warning(
            "Vonage is configured with VONAGE_API_KEY/VONAGE_API_SECRET only: Vonage sends and "
            "signs Messages webhooks for an application, so set VONAGE_APPLICATION_ID and its "
            "private key to receive replies and statuses"
        )
