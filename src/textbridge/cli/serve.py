"""`textbridge serve`: the API, webhooks, inbox and background workers in one process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel

from textbridge.cli.common import (
    console,
    freeze_startup_heap,
    local_url,
    refuse_transaction_pooler,
    settings,
)
from textbridge.cli.worker import refuse_single_process
from textbridge.config import Settings

if TYPE_CHECKING:
    from textbridge.runtime import Runtime


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    no_workers: Annotated[
        bool,
        typer.Option(
            "--no-workers",
            help="HTTP only: leave sending, applying webhooks and media to `textbridge worker` "
            "processes (PostgreSQL)",
        ),
    ] = False,
) -> None:
    """Run the API, webhooks, inbox and dispatcher (and the simulator in sandbox mode)."""
    import uvicorn

    from textbridge import logging as tb_logging
    from textbridge.db import migrate
    from textbridge.runtime import build_runtime

    current = _with_address(settings(), host, port)
    if no_workers:
        refuse_single_process(current, "serve --no-workers")
    tb_logging.configure(current.log_level, json=current.log_format == "json")
    if current.is_sqlite:
        migrate.upgrade(current.database_url)
    else:
        refuse_transaction_pooler(current, "serve")
    from textbridge.app import create_app

    runtime = build_runtime(current)
    runtime.workers_role = not no_workers
    application = create_app(
        current, runtime, on_dev_key=_print_dev_key, on_sign_in_link=_print_sign_in_link
    )
    _announce(current, application.state.runtime)
    freeze_startup_heap()
    uvicorn.run(
        application,
        host=current.host,
        port=current.port,
        log_level=current.log_level.lower(),
        proxy_headers=True,
        # On SIGTERM: open requests (event streams) get this long, then the lifespan's
        # shutdown drains the dispatcher (`Runtime.aclose`) for as long again at most.
        timeout_graceful_shutdown=max(1, round(current.shutdown_grace_seconds)),
    )


def _with_address(current: Settings, host: str | None, port: int | None) -> Settings:
    update: dict[str, object] = {"host": host or current.host, "port": port or current.port}
    if "public_url" not in current.model_fields_set:
        update["public_url"] = local_url(host or current.host, port or current.port)
    return current.model_copy(update=update)


def _announce(current: Settings, runtime: Runtime) -> None:
    if runtime.sandbox is not None:
        console.print(
            Panel(
                "SANDBOX MODE: no provider credentials are set, so the built-in simulator plays "
                "Plivo and Vonage. Nobody can be texted.\n"
                f"Inbox: {current.public_url}/   API docs: {current.public_url}/docs",
                style="yellow",
            )
        )


def _print_dev_key(key: str) -> None:
    console.print(
        Panel(
            f"A development API key was created (shown only this once):\n\n  {key}\n\n"
            "Send it as `Authorization: Bearer <key>` to the API.",
            style="green",
        )
    )


def _print_sign_in_link(link: str) -> None:
    console.print(
        Panel(
            "Open the inbox signed in as its admin with the link below (it works once; a new "
            "one is printed at every start). For named users with passwords: "
            "`textbridge users create NAME --role admin|agent`.",
            style="green",
        )
    )
    console.print(link, soft_wrap=True, highlight=False)  # unwrapped, to copy whole
