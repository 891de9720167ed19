"""Two people whose data goes everywhere textbridge keeps data, through the real app: signed
inbound webhooks from the simulator (SMS, MMS and WhatsApp with media, on both providers),
API sends with their status callbacks, campaigns with per-recipient variables (one started,
one left a draft) and a consent record."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from textbridge.models import ConsentRecord

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import Textbridge

PLIVO_SMS, PLIVO_WHATSAPP, VONAGE_SMS, VONAGE_WHATSAPP = (
    "+14155550100",
    "+14155550101",
    "+14155550102",
    "+14155550103",
)


@dataclass(frozen=True)
class Someone:
    address: str
    name: str
    tag: str
    """In every text of theirs, so that a scan finds any copy of one."""

    @property
    def digits(self) -> str:
        return self.address.removeprefix("+")

    @property
    def national(self) -> str:
        """As a person types it in a spreadsheet: `415 555 0177`."""
        return f"{self.digits[1:4]} {self.digits[4:7]} {self.digits[7:]}"

    @property
    def needles(self) -> list[str]:
        """Every form of their address, their name and the mark of their texts."""
        return [self.address, self.digits, self.national, *self.name.split(), self.tag]


ZELDA = Someone("+14155550177", "Zelda Quintessa", "zq77")
BORIS = Someone("+14155550188", "Boris Othermann", "bq88")


def media_server(request: httpx.Request) -> httpx.Response:
    """Media whose bytes name the URL they came from, so a stored file carries its owner's tag."""
    content = b"\x89PNG\r\n" + request.url.path.encode()
    return httpx.Response(200, content=content, headers={"content-type": "image/png"})


def inject(textbridge: Textbridge, provider: str, **body: Any) -> None:
    response = textbridge.simulator.post(f"/control/{provider}/inbound", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 200, response.text


def fill(textbridge: Textbridge, who: Someone) -> None:
    """Everything of one person, settled: messages applied, media stored, sends delivered."""
    tag = who.tag
    inject(textbridge, "plivo", **{"from": who.address, "to": PLIVO_SMS, "text": f"{tag} sms in"})
    inject(
        textbridge,
        "plivo",
        **{"from": who.address, "to": PLIVO_SMS, "type": "mms", "text": f"{tag} mms caption"},
        media=[{"mime_type": "image/png"}],
    )
    inject(
        textbridge,
        "vonage",
        channel="whatsapp",
        to=VONAGE_WHATSAPP,
        text=f"{tag} whatsapp in",
        profile_name=who.name,
        **{"from": who.address},
    )
    inject(
        textbridge,
        "vonage",
        channel="whatsapp",
        to=VONAGE_WHATSAPP,
        image={"url": f"https://api-us.nexmo.com/v3/media/{tag}-photo", "caption": f"{tag} pic"},
        **{"from": who.address},
    )
    wait_until(lambda: _inbound_settled(textbridge, who, 4), timeout=20)
    for provider, channel in (("plivo", "sms"), ("vonage", "sms"), ("vonage", "whatsapp")):
        sent = textbridge.send(
            to=who.address,
            text=f"{tag} out {provider} {channel}",
            provider=provider,
            channel=channel,
        )
        final = "read" if channel == "whatsapp" else "delivered"  # the simulator's last word
        textbridge.wait_for_status(sent["id"], final, timeout=20)


def _inbound_settled(textbridge: Textbridge, who: Someone, count: int) -> bool:
    rows = textbridge.database.rows(
        "SELECT a.download_state FROM messages m LEFT JOIN attachments a ON a.message_id = m.id"
        " WHERE m.from_address = :address",
        address=who.address,
    )
    messages = textbridge.database.scalar(
        "SELECT count(*) FROM messages WHERE from_address = :address", address=who.address
    )
    states = [row[0] for row in rows if row[0] is not None]
    return messages == count and len(states) == 2 and set(states) == {"stored"}


def run_campaigns(textbridge: Textbridge, *people: Someone) -> None:
    """A started campaign with per-recipient variables (and a row refused for its format), run
    to the end, and a draft that still holds its recipients' rendered texts."""
    recipients = [{"to": who.address, "variables": {"name": who.name}} for who in people]
    refused = [{"to": who.national, "variables": {"name": who.name}} for who in people]
    started = _campaign(textbridge, "spring", recipients + refused)
    response = textbridge.api.post(f"/api/v1/campaigns/{started}/start")
    assert response.status_code == 200, response.text

    def completed() -> bool:
        report = textbridge.api.get(f"/api/v1/campaigns/{started}/report").json()
        return bool(report["campaign"]["state"] == "completed")

    wait_until(completed, timeout=30)
    delivered = (
        "SELECT count(*) FROM messages WHERE campaign_id IS NOT NULL AND status = 'delivered'"
    )
    wait_until(lambda: textbridge.database.scalar(delivered) == len(people), timeout=20)
    _campaign(textbridge, "autumn", recipients)


def _campaign(textbridge: Textbridge, name: str, recipients: list[dict[str, Any]]) -> str:
    body = {"name": name, "text": "Hello {name}, see you soon", "quiet_hours": False}
    response = textbridge.api.post("/api/v1/campaigns", json={**body, "recipients": recipients})
    assert response.status_code == 201, response.text
    return str(response.json()["campaign"]["id"])


def address_hash(database: Database, address: str) -> str:
    key = database.scalar("SELECT value FROM instance_secrets WHERE name = 'address_hash_key'")
    return hmac.new(bytes.fromhex(key), address.encode(), hashlib.sha256).hexdigest()


def record_opt_out(database: Database, who: Someone) -> None:
    """An opt-out in the ledger as a STOP keyword would leave it (the consent lane writes these
    through its own code; the ledger row is the same)."""
    database.run(
        insert(ConsentRecord).values(
            address=who.address,
            address_hash=address_hash(database, who.address),
            action="opt_out",
            scope="*",
            channel="sms",
            source="keyword",
            kind="express",
            evidence={"text": "STOP", "from": who.address, "name": who.name},
        )
    )


def columns(database: Database) -> dict[str, list[str]]:
    """Every column of every table, read from the database's own catalog (so a table added
    later is scanned too)."""
    if database.backend == "sqlite":
        tables = [
            row[0]
            for row in database.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        ]
        return {
            table: [row[1] for row in database.rows(f'PRAGMA table_info("{table}")')]
            for table in tables
        }
    found: dict[str, list[str]] = {}
    for table, column in database.rows(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    ):
        found.setdefault(table, []).append(column)
    return found


def catalog_tables(database: Database) -> set[str]:
    """Every table the database holds data in, in any schema but the system's own: on
    PostgreSQL ordinary tables, partitioned tables and each partition (`messages_y2026m12`,
    `messages_default`), materialized views and foreign tables. What `columns` scans must
    cover all of them (a table in another schema would escape a scan of `public`)."""
    if database.backend == "sqlite":
        rows = database.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows if not row[0].startswith("sqlite_")}
    rows = database.rows(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p', 'm', 'f')"
        " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg\\_toast%'"
    )
    return {name if schema == "public" else f"{schema}.{name}" for schema, name in rows}


def found_in_database(database: Database, who: Someone) -> list[str]:
    """Every table.column holding any needle of this person (case-insensitive): one query
    per table, a count per column and needle."""
    hits = []
    needles = {f"n{index}": f"%{needle.lower()}%" for index, needle in enumerate(who.needles)}
    for table, names in columns(database).items():
        pairs = [(column, key) for column in names for key in needles]
        counts = ", ".join(
            f'SUM(CASE WHEN lower(CAST("{column}" AS TEXT)) LIKE :{key} THEN 1 ELSE 0 END)'
            for column, key in pairs
        )
        [row] = database.rows(f'SELECT {counts} FROM "{table}"', **needles)
        for (column, key), count in zip(pairs, row, strict=True):
            if count:
                needle = who.needles[int(key[1:])]
                hits.append(f"{table}.{column} holds {needle!r} ({count} rows)")
    return hits


def found_in_files(folder: Path, who: Someone) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes().decode("utf-8", "replace").lower()
        for needle in who.needles:
            if needle.lower() in content or needle.lower() in path.name.lower():
                hits.append(f"{path.name} holds {needle!r}")
    return hits
