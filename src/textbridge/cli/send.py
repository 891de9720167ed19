"""`textbridge send`: one SMS through a running textbridge."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from textbridge.cli.common import SERVER_URL_HELP, print_response, server_url


def send(
    to: Annotated[str, typer.Option("--to", help="Recipient, E.164")],
    text: Annotated[str, typer.Option("--text", help="Message text")],
    sender: Annotated[str | None, typer.Option("--from", help="One of our numbers")] = None,
    url: Annotated[str | None, typer.Option(help=SERVER_URL_HELP)] = None,
    api_key: Annotated[str, typer.Option(envvar="TEXTBRIDGE_API_KEY", help="API key")] = "",
    send_at: Annotated[
        str | None,
        typer.Option("--send-at", help="Send later: ISO 8601 with a UTC offset (…T09:00:00Z)"),
    ] = None,
    quiet_hours: Annotated[
        str | None,
        typer.Option(
            "--quiet-hours",
            help="Leave only within these local hours of the recipient: HH:MM-HH:MM, or "
            "'default' for TEXTBRIDGE_QUIET_HOURS",
        ),
    ] = None,
) -> None:
    """Send an SMS through a running textbridge."""
    body: dict[str, object] = {"to": to, "text": text, **({"from": sender} if sender else {})}
    if send_at:
        body["send_at"] = send_at
    if quiet_hours:
        body["quiet_hours"] = True if quiet_hours == "default" else quiet_hours
    response = httpx.post(
        f"{url or server_url()}/api/v1/messages",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    print_response(response)
