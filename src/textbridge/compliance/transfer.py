"""The consent ledger in and out of files, for audits and migrations from another system.

Both formats carry the same fields: `address`, `action` (opt_in | opt_out), `scope` (a sender
address, or `*`: default), `kind` (express | implied: default express), `channel`,
`expires_at`, `recorded_at` (ISO 8601; default now: an import from another system keeps its
dates), `evidence` (a JSON object, or any text, kept as {"note": text}). CSV has a header row;
JSON is a list of objects (or {"records": [...]}, as `export` writes it). An export also has
`id`, `address_hash`, `source` and `actor`; an import ignores them (its source is `import`).

A bad row is reported with its number and reason and skipped; the others are recorded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.compliance import consent
from textbridge.messaging.text import clean_json
from textbridge.models import ConsentRecord
from textbridge.models.consent_record import ALL_SENDERS

EXPORT_FIELDS = (
    "id",
    "address",
    "address_hash",
    "action",
    "scope",
    "channel",
    "source",
    "kind",
    "expires_at",
    "evidence",
    "actor",
    "recorded_at",
)


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (not CSV with a header, not a JSON list)."""


@dataclass
class ImportResult:
    recorded: int = 0
    bad_rows: list[dict[str, Any]] = field(default_factory=list)


def rows_of(text: str, fmt: str) -> list[Mapping[str, Any]]:
    if fmt == "json":
        return _json_rows(text)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "address" not in reader.fieldnames:
        raise UnreadableFile("the CSV needs a header row with at least address and action")
    return list(reader)


def _json_rows(text: str) -> list[Mapping[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UnreadableFile(f"not JSON: {exc}") from None
    if isinstance(value, dict):
        value = value.get("records")
    if not isinstance(value, list):
        raise UnreadableFile('the JSON must be a list of records (or {"records": [...]})')
    return value


def change_of(row: Any, actor: str) -> consent.Change:
    """One row as a change; ValueError says what is wrong with it."""
    if not isinstance(row, Mapping):
        raise ValueError("a record must be an object")
    return consent.Change(
        address=consent.contact_address(_text(row, "address") or ""),
        action=_text(row, "action") or "",
        source="import",
        scope=_text(row, "scope") or ALL_SENDERS,
        channel=_text(row, "channel"),
        kind=_text(row, "kind") or "express",
        expires_at=_moment(row, "expires_at"),
        evidence=_evidence(row.get("evidence")),
        actor=actor,
        recorded_at=_moment(row, "recorded_at"),
    )


def _text(row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return value.strip() or None


def _moment(row: Mapping[str, Any], name: str) -> datetime | None:
    value = _text(row, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _evidence(value: Any) -> dict[str, Any] | None:
    """The row's evidence, made storable (no NUL, no lone surrogate: `text.clean_json`)."""
    found = _evidence_of(value)
    return None if found is None else dict(clean_json(found))


def _evidence_of(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"note": value[:1000]}
        return parsed if isinstance(parsed, dict) else {"note": value[:1000]}
    raise ValueError("evidence must be an object or text")


async def import_rows(
    db: AsyncSession, rows: Sequence[Any], actor: str, origin: str
) -> ImportResult:
    """Record every good row (each with its audit entry); report the bad ones."""
    result = ImportResult()
    for number, row in enumerate(rows, start=1):
        try:
            change = change_of(row, actor)
            async with db.begin_nested():
                await consent.record(db, change)
                await consent.audit(db, change, actor, origin)
        except (ValueError, consent.ConsentError) as exc:
            result.bad_rows.append({"row": number, "reason": str(exc)})
            continue
        result.recorded += 1
    return result


async def export_rows(db: AsyncSession) -> list[dict[str, Any]]:
    query = select(ConsentRecord).order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    return [_exported(row) for row in await db.scalars(query)]


def _exported(row: ConsentRecord) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in EXPORT_FIELDS}
    for name in ("expires_at", "recorded_at"):
        values[name] = values[name].isoformat() if values[name] else None
    return values


def as_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for row in rows:
        evidence = row["evidence"]
        writer.writerow({**row, "evidence": json.dumps(evidence) if evidence else ""})
    return buffer.getvalue()


def as_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"records": list(rows)}, indent=2)
