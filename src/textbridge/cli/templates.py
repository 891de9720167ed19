"""`textbridge templates`: the WhatsApp template registry, through a running textbridge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from textbridge.cli.common import DEFAULT_URL, KeyOption, UrlOption, api, fail, print_response

app = typer.Typer(help="The WhatsApp template registry.", no_args_is_help=True)


@app.command("list")
def templates_list(url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Show the registry."""
    with api(url, api_key) as client:
        response = client.get("/templates")
    if response.is_error:
        print_response(response)
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


@app.command("add")
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
        raise fail(f"{definition}: {exc}") from None
    with api(url, api_key) as client:
        print_response(client.put(f"/templates/{name}/{language}", json=body))


@app.command("remove")
def templates_remove(
    name: str, language: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = ""
) -> None:
    """Delete a template from the registry."""
    with api(url, api_key) as client:
        print_response(client.delete(f"/templates/{name}/{language}"))


@app.command("sync")
def templates_sync(url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Fetch the WhatsApp Business Account's templates from Plivo."""
    with api(url, api_key) as client:
        print_response(client.post("/templates/sync"))
