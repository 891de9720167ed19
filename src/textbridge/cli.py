"""The textbridge command line (Typer)."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge import logging as tb_logging
from textbridge.auth import keys
from textbridge.cli_errors import OneLineErrors
from textbridge.config import Settings, SettingsError, load_settings
from textbridge.db import migrate
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.runtime import Runtime
from textbridge.webhooks import journal

app = OneLineErrors(
    help="textbridge: two-way SMS and WhatsApp through Plivo and Vonage.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
sim_app = typer.Typer(help="Drive a running simulator.", no_args_is_help=True)
templates_app = typer.Typer(help="The WhatsApp template registry.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (works on the database directly).", no_args_is_help=True)
journal_app = typer.Typer(
    help="The webhook journal (works on the database directly).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(journal_app, name="journal")
app.add_typer(db_app, name="db")
app.add_typer(sim_app, name="sim")
app.add_typer(templates_app, name="templates")
console = Console(stderr=True)
SERVER_URL_HELP = "textbridge base URL [default: TEXTBRIDGE_HOST and TEXTBRIDGE_PORT, as serve]"
T = TypeVar("T")
Option = typer.Option


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Run the API, webhooks, inbox and dispatcher (and the simulator in sandbox mode)."""
    settings = _settings()
    settings = _with_address(settings, host, port)
    tb_logging.configure(settings.log_level)
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    from textbridge.app import create_app

    application = create_app(settings, on_dev_key=_print_dev_key)
    _announce(settings, application.state.runtime)
    # Everything loaded so far lives as long as the process: move it out of the collector's
    # sight, so that full collections stay short (they made most of the webhook p99 tail).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


def _with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    update: dict[str, object] = {"host": host or settings.host, "port": port or settings.port}
    if "public_url" not in settings.model_fields_set:
        update["public_url"] = _local_url(host or settings.host, port or settings.port)
    return settings.model_copy(update=update)


def _local_url(host: str, port: int) -> str:
    """Where a process on this machine reaches `serve` bound to host:port."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _server_url() -> str:
    """The running `serve`, read from the same settings and .env as `serve` reads: its
    TEXTBRIDGE_HOST and TEXTBRIDGE_PORT."""
    settings = _settings()
    return _local_url(settings.host, settings.port)


def _announce(settings: Settings, runtime: Runtime) -> None:
    if runtime.sandbox is not None:
        console.print(
            Panel(
                "SANDBOX MODE: no provider credentials are set, so the built-in simulator plays "
                "Plivo and Vonage. Nobody can be texted.\n"
                f"Inbox: {settings.public_url}/   API docs: {settings.public_url}/docs",
                style="yellow",
            )
        )


def _print_dev_key(key: str) -> None:
    console.print(
        Panel(
            f"A development API key was created (shown only this once):\n\n  {key}\n\n"
            "Sign in to the inbox with it, or send `Authorization: Bearer <key>`.",
            style="green",
        )
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, Option(help="Who or what uses it")] = "api",
    scope: Annotated[
        list[str] | None, Option(help="send, read or admin; repeatable (default: send, read)")
    ] = None,
) -> None:
    """Create an API key and print it (only its hash is stored)."""
    try:
        scopes = keys.scopes_text(scope)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    key = keys.new_key()
    asyncio.run(_with_session(lambda session: keys.add_key(session, key, name, scopes)))
    console.print(f"API key [bold]{name}[/bold] with scopes {scopes} (shown only now):")
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """Show the API keys: prefix, name, scopes, created, revoked."""
    rows = asyncio.run(_with_session(keys.list_keys))
    table = Table("prefix", "name", "scopes", "created", "revoked")
    for row in rows:
        revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else ""
        created = row.created_at.isoformat(timespec="seconds")
        table.add_row(row.prefix, row.name, row.scopes, created, revoked)
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix (as shown by `keys list`)."""
    try:
        count = asyncio.run(_with_session(lambda session: keys.revoke(session, prefix)))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if count == 0:
        console.print(f"[red]no active key starts with {prefix[:8]}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {count} key(s)")


@journal_app.command("list")
def journal_list(
    state: Annotated[
        str | None, Option(help=f"Only this state: {', '.join(journal.STATES)}")
    ] = None,
    limit: Annotated[int, Option(min=1, max=10_000, help="At most this many, newest first")] = 50,
) -> None:
    """Show journal entries: id, provider, kind, state, attempts, received, error."""
    if state is not None and state not in journal.STATES:
        console.print(f"[red]unknown state {state}; choose among {', '.join(journal.STATES)}[/red]")
        raise typer.Exit(2)
    rows = asyncio.run(_with_session(lambda session: journal.list_entries(session, state, limit)))
    table = Table("id", "provider", "kind", "state", "attempts", "received", "error")
    for row in rows:
        received = row.received_at.isoformat(timespec="seconds")
        table.add_row(
            str(row.id),
            row.provider,
            row.kind,
            row.state,
            str(row.attempts),
            received,
            Text(row.error or ""),  # plain text: an error may hold brackets
        )
    Console(width=200).print(table)


@journal_app.command("replay")
def journal_replay(
    entry_id: Annotated[int | None, typer.Argument(help="The entry's id")] = None,
    state: Annotated[
        str | None, Option(help=f"Every entry in this state: {', '.join(journal.REPLAYABLE)}")
    ] = None,
) -> None:
    """Make parked entries pending again (attempts reset); a running textbridge applies them."""
    if (entry_id is None) == (state is None):
        console.print("[red]give either an entry id or --state (e.g. --state dead)[/red]")
        raise typer.Exit(2)
    try:
        count = asyncio.run(_with_session(lambda session: _replay(session, entry_id, state)))
    except journal.NotReplayable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if entry_id is not None and count == 0:
        console.print(f"[red]no journal entry {entry_id}[/red]")
        raise typer.Exit(1)
    console.print(f"replayed {count} entr{'y' if count == 1 else 'ies'}")


async def _replay(session: AsyncSession, entry_id: int | None, state: str | None) -> int:
    if state is not None:
        return await journal.replay_state(session, state)
    assert entry_id is not None
    return 0 if await journal.replay_entry(session, entry_id) is None else 1


async def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = _settings()
    folder = settings.sqlite_path.parent if settings.sqlite_path else None
    if folder is not None and not folder.is_dir():
        # Said here: aiosqlite's failed open, raised out of asyncio.run, prints a thread traceback.
        raise FileNotFoundError(errno.ENOENT, "no folder for the SQLite database", str(folder))
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


@app.command()
def send(
    to: Annotated[str, typer.Option("--to", help="Recipient, E.164")],
    text: Annotated[str, typer.Option("--text", help="Message text")],
    sender: Annotated[str | None, typer.Option("--from", help="One of our numbers")] = None,
    url: Annotated[str | None, typer.Option(help=SERVER_URL_HELP)] = None,
    api_key: Annotated[str, typer.Option(envvar="TEXTBRIDGE_API_KEY", help="API key")] = "",
) -> None:
    """Send an SMS through a running textbridge."""
    body = {"to": to, "text": text, **({"from": sender} if sender else {})}
    response = httpx.post(
        f"{url or _server_url()}/api/v1/messages",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    _print_response(response)


@app.command()
def simulator(
    host: str = "127.0.0.1",
    port: int = 8900,
    auth_id: Annotated[str, Option(envvar="PLIVO_AUTH_ID")] = "MAXXXXXXXXXXXXXXXXXX",
    auth_token: Annotated[str, Option(envvar="PLIVO_AUTH_TOKEN")] = "sandbox-token",  # noqa: S107
    message_url: Annotated[
        str | None, Option(help="Plivo inbound webhook, e.g. http://HOST/webhooks/plivo/inbound")
    ] = None,
    waba_id: Annotated[str | None, Option(envvar="PLIVO_WABA_ID")] = "sandbox-waba",
    vonage_application_id: Annotated[str | None, Option(envvar="VONAGE_APPLICATION_ID")] = None,
    vonage_private_key_path: Annotated[
        Path | None, Option(envvar="VONAGE_PRIVATE_KEY_PATH", help="Verifies our JWTs")
    ] = None,
    vonage_api_key: Annotated[str | None, Option(envvar="VONAGE_API_KEY")] = None,
    vonage_api_secret: Annotated[str | None, Option(envvar="VONAGE_API_SECRET")] = None,
    vonage_signature_secret: Annotated[str | None, Option(envvar="VONAGE_SIGNATURE_SECRET")] = None,
    vonage_inbound_url: Annotated[str | None, Option(help="Vonage inbound webhook")] = None,
    vonage_status_url: Annotated[str | None, Option(help="Vonage status webhook")] = None,
    tls_dir: Annotated[
        Path | None, Option(help="Serve https with a certificate kept here (Vonage's SDK needs it)")
    ] = None,
) -> None:
    """Run the provider simulator alone: a fake Plivo Message API, and Vonage's Messages API
    when Vonage credentials are given."""
    from textbridge.simulator import SimulatorConfig
    from textbridge.simulator.serve import serve_simulator

    tb_logging.configure()
    for secret in (auth_token, vonage_api_secret, vonage_signature_secret):
        tb_logging.register_secret(secret)
    private_key = vonage_private_key_path.read_text() if vonage_private_key_path else None
    config = SimulatorConfig(
        plivo_auth_id=auth_id,
        plivo_auth_token=auth_token,
        plivo_message_url=message_url,
        plivo_waba_id=waba_id,
        vonage_application_id=vonage_application_id,
        vonage_private_key_pem=private_key,
        vonage_api_key=vonage_api_key,
        vonage_api_secret=vonage_api_secret,
        vonage_signature_secret=vonage_signature_secret,
        vonage_inbound_url=vonage_inbound_url,
        vonage_status_url=vonage_status_url,
    )
    if tls_dir is not None:
        console.print(f"https; clients trust {tls_dir / 'ca.pem'}")
    serve_simulator(config, host, port, tls_dir)


@sim_app.command("inbound")
def sim_inbound(
    from_: Annotated[
        str, Option("--from", help="The contact: a number (E.164), a sender ID or a WhatsApp id")
    ],
    to: Annotated[str, Option("--to", help="Our number, E.164")],
    text: Annotated[str, Option("--text")] = "",
    provider: Annotated[str, Option(help="plivo or vonage")] = "plivo",
    channel: Annotated[str, Option(help="sms, mms (Plivo) or whatsapp")] = "sms",
    media_url: Annotated[str | None, Option(help="An image to attach")] = None,
    url: Annotated[
        str | None, Option(help="Simulator base URL [default: the server's, + /simulator]")
    ] = None,
) -> None:
    """Make the simulator deliver an inbound message to textbridge."""
    body = _inbound_body(provider, channel, from_, to, text, media_url)
    simulator_url = url or f"{_server_url()}/simulator"
    response = httpx.post(f"{simulator_url}/control/{provider}/inbound", json=body, timeout=30)
    _print_response(response)


def _inbound_body(
    provider: str, channel: str, sender: str, to: str, text: str, media_url: str | None
) -> dict[str, object]:
    body: dict[str, object] = {"from": sender, "to": to, "text": text or None}
    if provider == "vonage":
        body["channel"] = channel
        if media_url:
            body["image"] = {"url": media_url}
        return body
    body["type"] = channel
    if media_url:
        body["media"] = [{"url": media_url, "mime_type": "image/jpeg"}]
    return body


def _print_response(response: httpx.Response) -> None:
    console.print_json(response.text) if response.text else console.print(response.status_code)
    if response.is_error:
        raise typer.Exit(1)


UrlOption = Annotated[str | None, typer.Option(help=SERVER_URL_HELP)]
KeyOption = Annotated[str, typer.Option(envvar="TEXTBRIDGE_API_KEY", help="API key")]
DEFAULT_URL = None  # the running `serve`, from TEXTBRIDGE_HOST and TEXTBRIDGE_PORT


def _api(url: str | None, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url or _server_url()}/api/v1",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=60,
    )


@templates_app.command("list")
def templates_list(url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Show the registry."""
    with _api(url, api_key) as api:
        response = api.get("/templates")
    if response.is_error:
        _print_response(response)
    table = Table("name", "language", "category", "status", "parameters", "source")
    for item in response.json():
        table.add_row(
            item["name"],
            item["language"],
            item["category"],
            item["status"],
            ", ".join(item["parameters"]),
            item["source"],
        )
    Console().print(table)


@templates_app.command("add")
def templates_add(
    name: str,
    language: str,
    definition: Annotated[Path, typer.Argument(help="JSON file: {category, status, components}")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
) -> None:
    """Create or replace a template from a JSON definition."""
    try:
        body = json.loads(definition.read_text())
    except (OSError, ValueError) as exc:
        console.print(f"[red]{definition}: {exc}[/red]")
        raise typer.Exit(2) from None
    with _api(url, api_key) as api:
        _print_response(api.put(f"/templates/{name}/{language}", json=body))


@templates_app.command("remove")
def templates_remove(
    name: str, language: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = ""
) -> None:
    """Delete a template from the registry."""
    with _api(url, api_key) as api:
        _print_response(api.delete(f"/templates/{name}/{language}"))


@templates_app.command("sync")
def templates_sync(url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Fetch the WhatsApp Business Account's templates from Plivo."""
    with _api(url, api_key) as api:
        _print_response(api.post("/templates/sync"))
