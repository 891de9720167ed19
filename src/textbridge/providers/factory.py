"""Build the configured providers (or the sandbox's), each with its own pooled HTTP client."""

from __future__ import annotations

import httpx

from textbridge.config import Settings
from textbridge.providers.base import Provider
from textbridge.providers.plivo import PlivoProvider
from textbridge.providers.plivo.templates import PlivoTemplateSource
from textbridge.providers.pool import keep_sockets
from textbridge.providers.vonage import VonageCredentials, VonageProvider
from textbridge.sandbox import SANDBOX_WABA_ID, SandboxCredentials
from textbridge.whatsapp.sync import TemplateSource

PROVIDER_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)


def http_client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """`transport`: the tests' and the sandbox's; None: the network (`pool.keep_sockets`)."""
    limits = httpx.Limits(max_connections=100)
    return keep_sockets(
        httpx.AsyncClient(timeout=PROVIDER_TIMEOUT, limits=limits, transport=transport)
    )


def build_providers(
    settings: Settings,
    sandbox: SandboxCredentials | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Provider]:
    if sandbox is not None:
        return _sandbox_providers(settings, sandbox, transport)
    providers: dict[str, Provider] = {}
    if settings.plivo_auth_id and settings.plivo_auth_token:
        token = settings.plivo_auth_token.get_secret_value()
        providers["plivo"] = PlivoProvider(
            settings.plivo_auth_id,
            [token],
            settings.plivo_api_base_url,
            http_client(transport),
            accept_v2=settings.plivo_accept_v2,
        )
    if settings.vonage_configured:
        providers["vonage"] = _vonage(settings, transport)
    return providers


def _vonage(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> VonageProvider:
    credentials = VonageCredentials.from_values(
        application_id=settings.vonage_application_id,
        private_key_content=settings.vonage_private_key_content,
        private_key_path=settings.vonage_private_key_path,
        api_key=settings.vonage_api_key,
        api_secret=settings.vonage_api_secret,
    )
    secret = settings.vonage_signature_secret
    return VonageProvider(
        http_client(transport),
        credentials,
        signature_secret=secret.get_secret_value() if secret else None,
        api_base_url=settings.vonage_api_base_url,
        signature_max_age=settings.vonage_signature_max_age,
        signature_secrets=settings.vonage_secrets_by_api_key,
    )


def _sandbox_providers(
    settings: Settings, sandbox: SandboxCredentials, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Provider]:
    simulator = f"{settings.public_url}/simulator"
    plivo = PlivoProvider(
        sandbox.plivo_auth_id,
        [sandbox.plivo_auth_token],
        f"{simulator}/v1/Account",
        http_client(transport),
        accept_v2=settings.plivo_accept_v2,
        media_base_url=simulator,  # the simulator plays media.plivo.com too
    )
    credentials = VonageCredentials.from_values(
        application_id=sandbox.vonage_application_id,
        private_key_content=sandbox.vonage_private_key_pem,
    )
    vonage = VonageProvider(
        http_client(transport),
        credentials,
        signature_secret=sandbox.vonage_signature_secret,
        api_base_url=simulator,
        signature_max_age=settings.vonage_signature_max_age,
    )
    return {"plivo": plivo, "vonage": vonage}


def template_source(
    settings: Settings, sandbox: SandboxCredentials | None, client: httpx.AsyncClient
) -> TemplateSource | None:
    """Where `templates sync` reads from: Plivo's template API (the simulator's in sandbox)."""
    if sandbox is not None:
        return PlivoTemplateSource(
            sandbox.plivo_auth_id,
            sandbox.plivo_auth_token,
            f"{settings.public_url}/simulator/v1/Account",
            SANDBOX_WABA_ID,
            client,
        )
    if settings.plivo_auth_id and settings.plivo_auth_token and settings.plivo_waba_id:
        return PlivoTemplateSource(
            settings.plivo_auth_id,
            settings.plivo_auth_token.get_secret_value(),
            settings.plivo_api_base_url,
            settings.plivo_waba_id,
            client,
        )
    return None
