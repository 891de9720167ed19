"""`textbridge doctor`: the providers' production checklists, run against this deployment.

Each check answers one question and says how to fix a "no": the settings load; webhook
verification is on; the database answers, as a session (not through a transaction-mode
pooler, which `serve` and `worker` refuse), and its schema is at the newest migration; the
public URL reaches this textbridge; each configured provider accepts our credentials (one
read-only call), has our numbers, sends their webhooks to our URLs (Plivo: the `message_url`
of the application each number is linked to; Vonage: the application's Messages
`inbound_url` and `status_url`, the number linked to it) and signs them; and the clocks agree
(the providers' `Date` headers, PostgreSQL's `now()`).

Nothing here changes anything: `configure` does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from textbridge.config import Settings, SettingsError, load_settings
from textbridge.db import pooler
from textbridge.db.migrate import alembic_config
from textbridge.dispatch.dispatcher import DISPATCH_CONNECTIONS
from textbridge.messaging.search import READS_CONNECTIONS
from textbridge.operate import targets
from textbridge.operate.findings import (
    Finding,
    ServerConnections,
    clock_finding,
    connections_finding,
    fail,
    ok,
    warn,
)
from textbridge.providers.account import AccountApiError, ProviderClock
from textbridge.providers.plivo.account import PlivoAccountApi, app_id_of
from textbridge.providers.vonage.account import (
    VonageAccountApi,
    messages_version,
    messages_webhooks,
)

TIMEOUT_SECONDS = 10.0
HEALTH_PATH = "/healthz"
UPGRADE = "run `textbridge db upgrade` (before starting the new version)"
CONFIGURE = "run `textbridge providers configure` (or fix it in the provider's dashboard)"


def load() -> tuple[Settings | None, list[Finding]]:
    """The settings, or the findings that say why they cannot be used."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        fix = "fix the named variables in the environment or .env"
        findings = [fail("settings", str(exc), fix)]
        if "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION" in str(exc):
            findings.append(_verification_off_in_production())
        return None, findings
    findings = [ok("settings", f"valid ({settings.env})"), _verification(settings)]
    return settings, [*findings, _session_secret(settings)]


async def diagnose(settings: Settings) -> list[Finding]:
    """Every check after the settings, in the order an operator fixes them."""
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        findings = await _database(settings)
        findings.append(await _public_url(settings, client))
        if settings.sandbox:
            findings.append(
                warn(
                    "providers",
                    "sandbox mode: no provider credentials, the built-in simulator plays both",
                    "set PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN or Vonage's credentials to go live",
                )
            )
        plivo = targets.plivo_api(settings, client)
        if plivo is not None:
            findings += await _plivo(settings, plivo)
        if settings.vonage_configured:
            findings += await _vonage(settings, targets.vonage_api(settings, client))
        return findings


def _verification(settings: Settings) -> Finding:
    if not settings.skip_webhook_verification:
        return ok("verification", "webhook signatures are verified")
    return warn(
        "verification",
        f"TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION is on ({settings.env}): anyone can forge a "
        "webhook; production refuses to start with it",
        "unset TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION",
    )


def _session_secret(settings: Settings) -> Finding:
    """Without TEXTBRIDGE_SECRET_KEY each process signs inbox sessions with a key of its own:
    behind a proxy that spreads requests, a session made by one `serve` is refused by the
    next, and every restart signs everyone out."""
    if settings.secret_key is not None:
        return ok("secret_key", "inbox sessions are signed with TEXTBRIDGE_SECRET_KEY")
    detail = "TEXTBRIDGE_SECRET_KEY is not set: each process signs sessions with its own key"
    fix = "set TEXTBRIDGE_SECRET_KEY (`openssl rand -hex 32`), the same in every process"
    return (
        fail("secret_key", detail, fix)
        if settings.env == "production"
        else warn("secret_key", detail, fix)
    )


def _verification_off_in_production() -> Finding:
    return fail(
        "verification",
        "webhook verification is skipped with TEXTBRIDGE_ENV=production",
        "unset TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION: providers' webhooks must be verified",
    )


# The database -----------------------------------------------------------------------------


async def _database(settings: Settings) -> list[Finding]:
    path = settings.sqlite_path
    if path is not None and not path.is_file():
        # aiosqlite would make an empty file: say so instead.
        fix = "check the path in TEXTBRIDGE_DATABASE_URL, or make it: `textbridge db upgrade`"
        return [fail("database", f"no SQLite database at {path}", fix)]
    through_pooler = await _transaction_pooler(settings)
    if through_pooler is not None:
        return [through_pooler]  # what the other checks would see there proves nothing
    engine = create_async_engine(settings.database_url, hide_parameters=True)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS), engine.connect() as connection:
            revision = await _revision(connection)
            database_now = capacity = None
            if not settings.is_sqlite:
                database_now = (await connection.execute(text("SELECT now()"))).scalar_one()
                capacity = await _server_connections(connection)
    except Exception as exc:  # what a database can raise is open-ended; each says why
        reason = _first_line(exc)
        fix = "check TEXTBRIDGE_DATABASE_URL and that the database is running and reachable"
        return [fail("database", f"cannot use the database: {reason}", fix)]
    finally:
        await engine.dispose()
    findings = [ok("database", "reachable"), _migrations(settings.database_url, revision)]
    if database_now is not None:
        findings.append(clock_finding("clock.database", "PostgreSQL", database_now, _now()))
    if capacity is not None:
        findings.append(connections_finding(process_connections(settings), capacity))
    return findings


async def _transaction_pooler(settings: Settings) -> Finding | None:
    """The start-up check of `serve`, `worker` and `db upgrade` (`db/pooler.py`): they refuse
    a transaction-mode pooler, so a deployment behind one would not start."""
    try:
        reason = await pooler.transaction_pooler(settings.database_url)
    except pooler.PROBE_FAILURES:
        return None  # a database that does not answer: the next check says so
    if reason is None:
        return None
    return fail("database", reason.removesuffix(pooler.FIX).strip(), pooler.FIX)


async def _server_connections(connection: Any) -> ServerConnections:
    row = (
        await connection.execute(
            text(
                "SELECT current_setting('max_connections')::int,"
                " current_setting('superuser_reserved_connections')::int,"
                " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            )
        )
    ).one()
    # The doctor's own connection is not one a textbridge process will need.
    return ServerConnections(allowed=row[0] - row[1], in_use=max(row[2] - 1, 0))


async def _revision(connection: Any) -> str | None:
    try:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:  # no such table: a database never migrated
        return None
    revision = result.scalar_one_or_none()
    return str(revision) if revision is not None else None


def _migrations(database_url: str, revision: str | None) -> Finding:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    head = script.get_current_head()
    if revision == head:
        return ok("migrations", f"at head ({head})")
    if revision is None:
        return fail("migrations", "the database has no schema yet", UPGRADE)
    if revision not in {rev.revision for rev in script.walk_revisions()}:
        return fail(
            "migrations",
            f"the database is at {revision}, a revision this textbridge does not know: it was "
            "migrated by a newer version",
            "run the newer textbridge (or restore a backup taken before its upgrade)",
        )
    behind = sum(1 for _ in script.iterate_revisions(head, revision))  # lower excluded
    return fail("migrations", f"{behind} migration(s) behind: at {revision}, head {head}", UPGRADE)


def process_connections(settings: Settings) -> int:
    """The most PostgreSQL connections one textbridge process (`serve` or `worker`) opens:
    its engine's pool, the dispatcher's, the API send path's and the inbox reads' pools, and
    its listener."""
    listener = 1
    pools = settings.database_pool_size + DISPATCH_CONNECTIONS + settings.api_send_connections
    return pools + READS_CONNECTIONS + listener


# The public URL ---------------------------------------------------------------------------


async def _public_url(settings: Settings, client: httpx.AsyncClient) -> Finding:
    url = f"{settings.public_url}{HEALTH_PATH}"
    fix = (
        "start textbridge there, or set TEXTBRIDGE_PUBLIC_URL to the address the providers "
        "reach it at (the proxy's https URL)"
    )
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return fail("public_url", f"{url} does not answer ({_first_line(exc)})", fix)
    if response.status_code != 200 or not _is_ours(response):
        what = f"{url} answered {response.status_code}, not textbridge's health answer"
        return fail("public_url", what, fix)
    if settings.env == "production" and not url.startswith("https://"):
        return warn("public_url", f"{url} answers over plain http", "serve it over https")
    return ok("public_url", f"{url} answers")


def _is_ours(response: httpx.Response) -> bool:
    try:
        return bool(response.json() == {"status": "ok"})
    except ValueError:
        return False


# Plivo ------------------------------------------------------------------------------------


async def _plivo(settings: Settings, api: PlivoAccountApi) -> list[Finding]:
    try:
        await api.account()
    except AccountApiError as exc:
        return [_credentials_finding("plivo", exc, "PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN")]
    findings = [ok("plivo.credentials", "the account answers")]
    try:
        findings += await _plivo_numbers(settings, api)
    except AccountApiError as exc:
        findings.append(fail("plivo.numbers", str(exc), "retry; check Plivo's status page"))
    findings += _clock("plivo", api.clock)
    return findings


async def _plivo_numbers(settings: Settings, api: PlivoAccountApi) -> list[Finding]:
    numbers = targets.plivo_numbers(settings)
    if not numbers:
        fix = "set PLIVO_SMS_FROM_NUMBER and/or PLIVO_WHATSAPP_NUMBER"
        return [warn("plivo.numbers", "no Plivo number is configured", fix)]
    findings = []
    wanted = targets.plivo_message_url(settings)
    for number in numbers:
        found = await api.number(number.number)
        check = f"plivo.number.{number.number}"
        if found is None:
            findings.append(_missing_number("plivo", check, number))
            continue
        findings.append(await _plivo_webhook(api, check, number, found, wanted))
    return findings


async def _plivo_webhook(
    api: PlivoAccountApi,
    check: str,
    number: targets.OurNumber,
    found: dict[str, Any],
    wanted: str,
) -> Finding:
    app_id = app_id_of(found)
    application = await api.application(app_id) if app_id else None
    if application is None:
        return fail(check, f"{number.shown} is linked to no application", CONFIGURE)
    url, method = application.get("message_url") or None, application.get("message_method")
    if url != wanted or method != targets.PLIVO_MESSAGE_METHOD:
        detail = (
            f"{number.shown}: its application {app_id} sends messages to {method} {url}, "
            f"not POST {wanted}"
        )
        return fail(check, detail, CONFIGURE)
    return ok(check, f"{number.shown} on the account; its messages come to {wanted}")


# Vonage -----------------------------------------------------------------------------------


async def _vonage(settings: Settings, api: VonageAccountApi | None) -> list[Finding]:
    findings = [_vonage_signing(settings)]
    if api is None:
        findings.append(
            warn(
                "vonage.credentials",
                "cannot check the Vonage account: its APIs (balance, numbers, applications) "
                "take the account's API key and secret, not the application's key",
                "set VONAGE_API_KEY and VONAGE_API_SECRET",
            )
        )
        return findings
    try:
        await api.balance()
    except AccountApiError as exc:
        return [*findings, _credentials_finding("vonage", exc, "VONAGE_API_KEY/SECRET")]
    findings.append(ok("vonage.credentials", "the account answers"))
    try:
        findings += await _vonage_setup(settings, api)
    except AccountApiError as exc:
        findings.append(fail("vonage.account", str(exc), "retry; check Vonage's status page"))
    findings += _clock("vonage", api.clock)
    return findings


def _vonage_signing(settings: Settings) -> Finding:
    """Vonage signs every Messages webhook (its Application API has no switch for Messages;
    `signed_callbacks` exists for Voice and RTC only): what can be wrong is on our side, an
    account with no application (Vonage then sends no Messages webhooks) or no secret to
    verify with."""
    if not settings.vonage_application_id:
        return fail(
            "vonage.signing",
            "no Vonage application: Vonage sends (signed) Messages webhooks to an application only",
            "create a Messages application in the dashboard; set VONAGE_APPLICATION_ID and its key",
        )
    if settings.vonage_signature_secret is None and settings.vonage_signature_secrets is None:
        return fail(
            "vonage.signing",
            "no signature secret: Vonage's signed webhooks cannot be verified",
            "set VONAGE_SIGNATURE_SECRET (Dashboard, API settings, Signature secret)",
        )
    return ok("vonage.signing", "webhooks are signed by Vonage and verified with our secret")


async def _vonage_setup(settings: Settings, api: VonageAccountApi) -> list[Finding]:
    application_id = settings.vonage_application_id
    findings = []
    if application_id:
        application = await api.application(application_id)
        findings.append(_vonage_application(settings, application_id, application))
    owned = await api.numbers()
    numbers = targets.vonage_numbers(settings)
    if not numbers:
        fix = "set VONAGE_NUMBER and/or VONAGE_WHATSAPP_NUMBER"
        findings.append(warn("vonage.numbers", "no Vonage number is configured", fix))
    for number in numbers:
        findings.append(_vonage_number(number, owned.get(number.number), application_id))
    return findings


def _vonage_application(
    settings: Settings, application_id: str, application: dict[str, Any] | None
) -> Finding:
    check = "vonage.application"
    if application is None:
        fix = "set VONAGE_APPLICATION_ID to an application of this account"
        return fail(check, f"the account has no application {application_id}", fix)
    wanted = targets.vonage_webhook_urls(settings)
    configured = messages_webhooks(application)
    wrong = [
        f"{kind}_url is {configured[kind]}" for kind in wanted if configured[kind] != wanted[kind]
    ]
    version = messages_version(application)
    if version != targets.VONAGE_MESSAGES_VERSION:
        wrong.append(f"Messages webhooks version is {version}, not v1")
    if wrong:
        expected = ", ".join(f"{kind}_url {url}" for kind, url in wanted.items())
        return fail(check, f"{'; '.join(wrong)} (want {expected})", CONFIGURE)
    return ok(check, f"{application_id} sends Messages webhooks to our URLs (v1)")


def _vonage_number(
    number: targets.OurNumber, found: dict[str, Any] | None, application_id: str | None
) -> Finding:
    check = f"vonage.number.{number.number}"
    if found is None:
        return _missing_number("vonage", check, number)
    linked = found.get("app_id") or found.get("messagesCallbackValue")
    if application_id and linked != application_id:
        detail = f"{number.shown} is linked to {linked or 'no application'}, not {application_id}"
        return fail(check, detail, CONFIGURE)
    return ok(check, f"{number.shown} on the account, linked to our application")


# Shared -----------------------------------------------------------------------------------


def _credentials_finding(provider: str, exc: AccountApiError, variables: str) -> Finding:
    check = f"{provider}.credentials"
    if exc.refused_credentials:
        detail = f"{provider.title()} refused our credentials ({exc})"
        return fail(check, detail, f"check {variables}")
    fix = f"check the network to {provider.title()} and TEXTBRIDGE_{provider.upper()}_API_BASE_URL"
    return fail(check, str(exc), fix)


def _missing_number(provider: str, check: str, number: targets.OurNumber) -> Finding:
    where = "PLIVO_SMS_FROM_NUMBER / PLIVO_WHATSAPP_NUMBER"
    if provider == "vonage":
        where = "VONAGE_NUMBER / VONAGE_WHATSAPP_NUMBER"
    detail = f"{number.shown} is not a number of this {provider.title()} account"
    if number.channel == "whatsapp":
        # A WhatsApp sender may be registered with the provider outside its numbers API.
        return warn(check, detail, f"check {where}, or its WhatsApp set-up in the dashboard")
    return fail(check, detail, f"check {where}, or buy or port the number to the account")


def _clock(provider: str, clock: ProviderClock) -> list[Finding]:
    if clock.last is None:
        return []
    return [clock_finding(f"clock.{provider}", provider.title(), clock.last, _now())]


def _now() -> datetime:
    return datetime.now(UTC)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
