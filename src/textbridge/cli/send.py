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
) -> None:
    """Send an SMS through a running textbridge."""
    body = {"to": to, "text": text, **({"from": sender} if sender else {})}
    response = httpx.post(
        f"{url or server_url()}/api/v1/messages",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    print_response(response)
