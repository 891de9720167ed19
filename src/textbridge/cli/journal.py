"""`textbridge journal`: the webhook journal, on the database directly."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from textbridge.cli.common import Option, console, fail, with_session
from textbridge.webhooks.states import REPLAYABLE, STATES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = typer.Typer(
    help="The webhook journal (works on the database directly).", no_args_is_help=True
)


@app.command("list")
def journal_list(
    state: Annotated[str | None, Option(help=f"Only this state: {', '.join(STATES)}")] = None,
    limit: Annotated[int, Option(min=1, max=10_000, help="At most this many, newest first")] = 50,
) -> None:
    """Show journal entries: id, provider, kind, state, attempts, received, error."""
    if state is not None and state not in STATES:
        raise fail(f"unknown state {state}; choose among {', '.join(STATES)}")
    from textbridge.webhooks import journal

    rows = asyncio.run(with_session(lambda session: journal.list_entries(session, state, limit)))
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


@app.command("replay")
def journal_replay(
    entry_id: Annotated[int | None, typer.Argument(help="The entry's id")] = None,
    state: Annotated[
        str | None, Option(help=f"Every entry in this state: {', '.join(REPLAYABLE)}")
    ] = None,
) -> None:
    """Make parked entries pending again (attempts reset); a running textbridge applies them."""
    if (entry_id is None) == (state is None):
        raise fail("give either an entry id or --state (e.g. --state dead)")
    from textbridge.webhooks import journal

    try:
        count = asyncio.run(with_session(lambda session: _replay(session, entry_id, state)))
    except journal.NotReplayable as exc:
        raise fail(str(exc), 1) from None
    if entry_id is not None and count == 0:
        raise fail(f"no journal entry {entry_id}", 1)
    console.print(f"replayed {count} entr{'y' if count == 1 else 'ies'}")


async def _replay(session: AsyncSession, entry_id: int | None, state: str | None) -> int:
    from textbridge.audit.log import CLI_ORIGIN, cli_actor, record
    from textbridge.webhooks import journal

    if state is not None:
        count, target = await journal.replay_state(session, state), f"journal:state={state}"
    else:
        assert entry_id is not None
        count = 0 if await journal.replay_entry(session, entry_id) is None else 1
        target = f"journal:{entry_id}"
    if count:
        await record(
            session,
            actor=cli_actor(),
            action="journal.replayed",
            target=target,
            origin=CLI_ORIGIN,
            detail={"replayed": count},
        )
    return count
