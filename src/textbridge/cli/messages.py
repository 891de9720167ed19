"""`textbridge messages review`: the `unknown` messages of a running textbridge, and a
person's decision on each (resend once, or close as sent / not sent), through its API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.table import Table

from textbridge.cli.common import KeyOption, UrlOption, api, console, fail

app = typer.Typer(help="Outbound messages: review those whose outcome is unknown.")

Resolution = Literal["sent", "not_sent"]
CHOICES = {"r": "resend", "s": "sent", "n": "not_sent", "k": "skip", "q": "quit"}
PAGE_SIZE = 500  # the API's largest page
PROMPT = "[r]esend once, close as [s]ent, close as [n]ot sent, s[k]ip, [q]uit"


@app.command()
def review(
    resend: Annotated[str | None, typer.Option(help="Resend this message once")] = None,
    close: Annotated[str | None, typer.Option(help="Close this message")] = None,
    resolution: Annotated[
        str | None, typer.Option("--as", help="With --close: sent or not_sent")
    ] = None,
    note: Annotated[str | None, typer.Option(help="With --close: why")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    ask: Annotated[
        bool | None, typer.Option("--ask/--no-ask", help="Decide on each [default: in a terminal]")
    ] = None,
    url: UrlOption = None,
    api_key: KeyOption = "",
) -> None:
    """List unknown messages (the provider may or may not have them); decide on each when
    run in a terminal, or act on one with --resend ID or --close ID --as sent|not_sent."""
    with api(url, api_key) as client:
        if resend is not None:
            _confirm(yes, f"Resend {resend}? If the provider did take it, it arrives twice.")
            _show(_resend(client, resend))
        elif close is not None:
            _show(_close(client, close, _resolution(resolution), note))
        else:
            interactive = ask if ask is not None else sys.stdin.isatty() and not yes
            _review_all(client, interactive)


def _review_all(client: httpx.Client, interactive: bool) -> None:
    """Page by page (each shown, then decided on), through every unknown message."""
    seen = 0
    for page in _unknown_pages(client):
        seen += len(page)
        console.print(_table(page))
        if interactive and not _decide(client, page):
            return
    console.print(f"{seen} unknown messages." if seen else "No message is unknown.")


def _decide(client: httpx.Client, messages: list[dict[str, Any]]) -> bool:
    """Ask about each message; False when the person quits."""
    for message in messages:
        choice = _ask(message)
        if choice == "quit":
            return False
        if choice == "resend":
            _show(_resend(client, message["id"]))
        elif choice in ("sent", "not_sent"):
            _show(_close(client, message["id"], choice, None))  # type: ignore[arg-type]
    return True


def _ask(message: dict[str, Any]) -> str:
    console.print(f"\n{message['id']} to {message['to']}: {message.get('error_message') or ''}")
    while True:
        answer = typer.prompt(PROMPT, default="k").strip().lower()[:1]
        if answer in CHOICES:
            return CHOICES[answer]


def _unknown_pages(client: httpx.Client) -> Iterator[list[dict[str, Any]]]:
    """The unknown messages a page at a time, oldest first, following `X-Next-Cursor`: a
    message decided on meanwhile leaves the list, one that becomes unknown joins its end."""
    params: dict[str, Any] = {"status": "unknown", "limit": PAGE_SIZE}
    while True:
        response = client.get("/messages", params=params)
        _check(response)
        page: list[dict[str, Any]] = response.json()
        if page:
            yield page
        following = response.headers.get("X-Next-Cursor")
        if following is None:
            return
        params["after"] = following


def _resend(client: httpx.Client, message_id: str) -> dict[str, Any]:
    response = client.post(f"/messages/{message_id}/resend")
    _check(response)
    body: dict[str, Any] = response.json()
    return body


def _close(
    client: httpx.Client, message_id: str, resolution: Resolution, note: str | None
) -> dict[str, Any]:
    body = {"resolution": resolution, **({"note": note} if note else {})}
    response = client.post(f"/messages/{message_id}/close", json=body)
    _check(response)
    closed: dict[str, Any] = response.json()
    return closed


def _resolution(value: str | None) -> Resolution:
    if value == "sent":
        return "sent"
    if value == "not_sent":
        return "not_sent"
    raise fail("--close needs --as sent (the provider has it) or --as not_sent")


def _confirm(yes: bool, question: str) -> None:
    if not yes and not typer.confirm(question):
        raise typer.Exit(1)


def _check(response: httpx.Response) -> None:
    if response.is_error:
        try:
            error = response.json()["error"]
            text = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            text = response.text[:200]
        raise fail(f"{response.status_code} {text}", code=1)


def _show(message: dict[str, Any]) -> None:
    console.print(f"{message['id']}: now {message['status']}")


def _table(messages: list[dict[str, Any]]) -> Table:
    table = Table("id", "to", "from", "provider", "since", "why", title="unknown messages")
    for message in messages:
        table.add_row(
            message["id"],
            message["to"],
            message["from"],
            message["provider"],
            str(message.get("updated_at") or message.get("created_at") or ""),
            (message.get("error_message") or "")[:60],
        )
    return table
