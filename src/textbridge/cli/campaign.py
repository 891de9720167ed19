"""`textbridge campaign`: bulk sends through a running textbridge, over its HTTP API.

Over HTTP rather than on the database: a campaign goes through the same checks as the API
(numbers, templates, the sender), works against a remote deployment with `--url` and an API
key, and its messages are woken up in the server that sends them. The recipients file is read
row by row and uploaded in chunks, so its size does not matter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from textbridge.campaigns import recipients
from textbridge.campaigns.client import CampaignApiError, CampaignClient, Upload
from textbridge.cli.common import DEFAULT_URL, KeyOption, UrlOption, api, console, fail

app = typer.Typer(help="Campaigns: one message to many recipients.", no_args_is_help=True)
Option = typer.Option
POLL_SECONDS = 1.0
FINAL = ("completed", "cancelled")
INVALID_SHOWN = 10


@contextmanager
def _client(url: str | None, api_key: str) -> Iterator[CampaignClient]:
    try:
        with api(url, api_key) as http:
            yield CampaignClient(http)
    except CampaignApiError as exc:
        raise fail(escape(str(exc)), 1) from None
    except recipients.RecipientsFileError as exc:
        raise fail(escape(str(exc)), 2) from None


@app.command("send")
def send(
    file: Annotated[Path, typer.Argument(help="Recipients: .csv (a header row), .json or .jsonl")],
    text: Annotated[
        str | None, Option(help="The text; {column} is replaced by each recipient's value")
    ] = None,
    template: Annotated[str | None, Option(help="A WhatsApp template (approved) instead")] = None,
    language: Annotated[str, Option(help="The template's language")] = "en_US",
    param: Annotated[
        list[str] | None, Option(help="A template parameter for everyone, name=value; repeatable")
    ] = None,
    sender: Annotated[str | None, Option("--from", help="One of our numbers")] = None,
    provider: Annotated[str | None, Option(help="plivo or vonage")] = None,
    channel: Annotated[
        str | None, Option(help="sms, or whatsapp [default: whatsapp with --template]")
    ] = None,
    name: Annotated[str | None, Option(help="The campaign's name [default: the file's]")] = None,
    draft: Annotated[
        bool, Option("--draft", help="Stop after the preview; start it later")
    ] = False,
    wait: Annotated[bool, Option(help="Follow it to the end with a progress bar")] = True,
    send_at: Annotated[
        str | None,
        Option("--send-at", help="Send later: ISO 8601 with a UTC offset (…T09:00:00Z)"),
    ] = None,
    quiet_hours: Annotated[
        str,
        Option(
            "--quiet-hours",
            help="The recipients' local hours messages may leave in: HH:MM-HH:MM, 'on' for "
            "TEXTBRIDGE_QUIET_HOURS, or 'off' for any hour",
        ),
    ] = "on",
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
) -> None:
    """Create a campaign from a recipients file, show its preview (count, segments, cost,
    when it leaves), start it, and follow it to its report."""
    if (text is None) == (template is None):
        raise fail("give either --text or --template")
    if not file.is_file():
        raise fail(f"no file {file}")
    body = _campaign_body(file, text, template, language, param, sender, provider, channel, name)
    body.update(_schedule(send_at, quiet_hours))
    with _client(url, api_key) as client:
        campaign = client.create(body)
        upload = _upload(client, campaign["id"], file)
        current = client.get(campaign["id"])
        _show_preview(current["campaign"], upload.invalid)
        _show_departures(current.get("departures"))
        if draft:
            console.print(
                f"draft {campaign['id']}: "
                f"start it with `textbridge campaign start {campaign['id']}`"
            )
            return
        client.action(campaign["id"], "start")
        console.print(f"campaign {campaign['id']} started")
        if wait:
            _follow(client, campaign["id"])


def _campaign_body(
    file: Path,
    text: str | None,
    template: str | None,
    language: str,
    param: list[str] | None,
    sender: str | None,
    provider: str | None,
    channel: str | None,
    name: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name or file.stem,
        "channel": channel or ("whatsapp" if template else "sms"),
    }
    if text is not None:
        body["text"] = text
    if template is not None:
        body["template"] = {"name": template, "language": language, "parameters": _params(param)}
    if sender:
        body["from"] = sender
    if provider:
        body["provider"] = provider
    return body


def _schedule(send_at: str | None, quiet_hours: str) -> dict[str, Any]:
    """The body's send_at and quiet_hours; the server checks both."""
    window: bool | str = {"on": True, "off": False}.get(quiet_hours.lower(), quiet_hours)
    return {"quiet_hours": window, **({"send_at": send_at} if send_at else {})}


def _params(values: list[str] | None) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        key, found, item = value.partition("=")
        if not found or not key:
            raise fail(f"--param {escape(value)}: write name=value")
        pairs[key] = item
    return pairs


def _upload(client: CampaignClient, campaign_id: str, file: Path) -> Upload:
    rows = recipients.read(file)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("uploading", total=_row_count(file))
        return client.upload(
            campaign_id, rows, lambda totals: bar.update(task, completed=totals.rows)
        )


def _row_count(file: Path) -> int | None:
    """Rows in a CSV or JSON Lines file (a cheap pass over its lines), for the upload bar."""
    if file.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        return None
    with file.open("rb") as lines:
        count = sum(1 for line in lines if line.strip())
    return count - 1 if file.suffix.lower() == ".csv" else count


def _show_preview(campaign: dict[str, Any], invalid: list[dict[str, Any]]) -> None:
    table = Table(
        "recipients",
        "invalid",
        "duplicates",
        "segments",
        "cost estimate",
        "unpriced",
        title="preview",
    )
    table.add_row(
        str(campaign["recipients"]),
        str(campaign["invalid"]),
        str(campaign["duplicates"]),
        str(campaign["segments"]),
        f"{campaign['cost_estimate']} {campaign['currency']}",
        str(campaign["unpriced"]),
    )
    Console().print(table)
    _show_departure(campaign)
    console.print(
        "costs come from the price table (illustrative unless TEXTBRIDGE_PRICE_TABLE is set)"
    )
    _show_invalid(invalid)


def _show_departure(campaign: dict[str, Any]) -> None:
    leaves = f"from {campaign['send_at']}" if campaign.get("send_at") else "at start"
    hours = campaign.get("quiet_hours")
    within = f", within {hours} of each recipient's local time" if hours else ", at any hour"
    console.print(f"leaves {leaves}{within}")


def _show_departures(departures: dict[str, Any] | None) -> None:
    if not departures or not (departures["scheduled"] or departures["held"]):
        return
    if departures.get("estimated"):
        console.print(
            f"if started now: {departures['scheduled']} scheduled, {departures['held']} held "
            f"by quiet hours; the first of them leaves at {departures['next_leaves_at']}"
        )
        return
    console.print(
        f"waiting: {departures['scheduled']} scheduled, {departures['held']} held by quiet "
        f"hours; next leaves at {departures['next_leaves_at'] or '(paused)'}"
    )


def _show_invalid(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table("row", "value", "reason", title=f"invalid rows ({len(rows)})")
    for row in rows[:INVALID_SHOWN]:
        table.add_row(str(row["row"]), escape(row["value"]), escape(row["reason"]))
    Console().print(table)
    if len(rows) > INVALID_SHOWN:
        console.print(
            f"... and {len(rows) - INVALID_SHOWN} more (see `textbridge campaign report`)"
        )


def _follow(client: CampaignClient, campaign_id: str) -> None:
    """A progress bar over the campaign's messages until nothing is waiting or sending (the
    report's counts; the server also publishes them as `campaign.progress` events)."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("delivered {task.fields[delivered]}  failed {task.fields[failed]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("sending", total=None, delivered=0, failed=0)
            while True:
                current = client.get(campaign_id)
                progress, state = current["progress"], current["campaign"]["state"]
                bar.update(
                    task,
                    total=progress["total"],
                    completed=progress["done"],
                    description=state,
                    delivered=progress["delivered"],
                    failed=progress["failed"],
                )
                if state in FINAL:
                    break
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        console.print(
            "no longer following; the campaign goes on "
            f"(`textbridge campaign status {campaign_id}`)"
        )
        return
    _show_report(client.report(campaign_id))


@app.command("status")
def status(campaign_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """The campaign's state and counts so far."""
    with _client(url, api_key) as client:
        current = client.get(campaign_id)
    _show_progress(current["campaign"], current["progress"])
    _show_departures(current.get("departures"))


@app.command("list")
def list_campaigns(url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """The latest campaigns, newest first."""
    with api(url, api_key) as http:
        response = http.get("/campaigns")
    if response.is_error:
        raise fail(escape(response.text[:200]), 1)
    table = Table("id", "name", "state", "recipients", "cost estimate", "created")
    for item in response.json():
        campaign = item["campaign"]
        table.add_row(
            campaign["id"],
            escape(campaign["name"]),
            campaign["state"],
            str(campaign["recipients"]),
            f"{campaign['cost_estimate']} {campaign['currency']}",
            campaign["created_at"][:19],
        )
    Console(width=200).print(table)


def _action(name: str, done: str) -> Any:
    def command(campaign_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
        with _client(url, api_key) as client:
            campaign = client.action(campaign_id, name)
        console.print(f"campaign {campaign['id']} {done} ({campaign['state']})")

    command.__doc__ = {
        "start": "Start a draft: its recipients become messages, due now.",
        "pause": "Stop messages not yet sent from leaving (those being sent finish).",
        "resume": "Let a paused campaign's messages leave again.",
        "cancel": "Cancel what has not been sent; it is counted as skipped in the report.",
    }[name]
    return command


for _name, _done in (
    ("start", "started"),
    ("pause", "paused"),
    ("resume", "resumed"),
    ("cancel", "cancelled"),
):
    app.command(_name)(_action(_name, _done))


@app.command("report")
def report(campaign_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Sent, delivered, failed by reason, skipped by reason, and the cost."""
    with _client(url, api_key) as client:
        found = client.report(campaign_id)
    _show_report(found)


def _show_progress(campaign: dict[str, Any], progress: dict[str, int]) -> None:
    table = Table("state", *progress, title=escape(campaign["name"]))
    table.add_row(campaign["state"], *(str(value) for value in progress.values()))
    Console(width=200).print(table)


def _show_report(found: dict[str, Any]) -> None:
    out = Console(width=200)
    _show_progress(found["campaign"], found["progress"])
    _show_departures(found.get("departures"))
    skipped = found["skipped"]
    out.print("skipped: " + ", ".join(f"{reason} {count}" for reason, count in skipped.items()))
    cost = found["cost"]
    out.print(
        f"cost: {cost['sent']} {cost['currency']} for what was sent "
        f"(estimate for all: {cost['estimate']}; {cost['unpriced']} unpriced; "
        f"prices: {cost['price_table']})"
    )
    if found["failed_by_reason"]:
        table = Table("code", "reason", "count", title="failed by reason")
        for row in found["failed_by_reason"]:
            table.add_row(
                escape(str(row["code"] or "")), escape(str(row["reason"] or "")), str(row["count"])
            )
        out.print(table)
    _show_invalid(found["invalid_rows"])
