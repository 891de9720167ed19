"""The textbridge command line (Typer): one module per command group, registered here.

Every command waits for this package's import (and `bench/campaign_enqueue.py` times it), so
the command modules import only Typer, Rich, httpx, the settings and light textbridge modules at
their top; SQLAlchemy, Alembic, the runtime, uvicorn and uvloop are imported inside the commands
that use them. Importing them all here took 0.9 s; without them, 0.3 s (`tests/test_cli_startup.py`
checks that none of them is loaded).
"""

from __future__ import annotations

from textbridge.cli import (
    campaign,
    consent,
    contacts,
    db,
    doctor,
    journal,
    keys,
    messages,
    providers,
    send,
    serve,
    simulator,
    templates,
    users,
    worker,
)
from textbridge.cli.errors import OneLineErrors

app = OneLineErrors(
    help="textbridge: two-way SMS and WhatsApp through Plivo and Vonage.", no_args_is_help=True
)
app.command()(serve.serve)
app.command()(worker.worker)
app.command()(send.send)
app.command()(simulator.simulator)
app.command()(doctor.doctor)
app.add_typer(keys.app, name="keys")
app.add_typer(users.app, name="users")
app.add_typer(journal.app, name="journal")
app.add_typer(db.app, name="db")
app.add_typer(simulator.app, name="sim")
app.add_typer(templates.app, name="templates")
app.add_typer(messages.app, name="messages")
app.add_typer(campaign.app, name="campaign")
app.add_typer(consent.app, name="consent")
app.add_typer(contacts.app, name="contacts")
app.add_typer(providers.app, name="providers")
