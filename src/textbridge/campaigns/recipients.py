"""Reading a recipients file: CSV (a header row), a JSON array, or JSON Lines.

Each row gives an address and per-recipient variables. The address column is the first of
`ADDRESS_COLUMNS` present (case-insensitive); every other column is a variable (`{name}` in a
text, or a template parameter). A JSON object may also nest its variables under `variables`.
Rows are yielded one by one: CSV and JSON Lines are streamed, so a file of any length is read in
bounded memory; a JSON array is parsed whole (say so where it matters: use JSON Lines or CSV for
very large lists).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADDRESS_COLUMNS = ("to", "phone", "number", "mobile", "msisdn")


class RecipientsFileError(ValueError):
    """The file as a whole cannot be read (no address column, not JSON, ...)."""


@dataclass(frozen=True, slots=True)
class RecipientRow:
    row: int  # 1-based data row (CSV: the header is row 0), as a person counts in a spreadsheet
    to: str
    variables: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "to": self.to, "variables": self.variables}


def read(path: Path) -> Iterator[RecipientRow]:
    """The rows of a recipients file, by its suffix (.csv, .json, .jsonl/.ndjson)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix in (".jsonl", ".ndjson"):
        return _json_lines(path)
    if suffix == ".json":
        return _json_array(path)
    raise RecipientsFileError(f"{path.name}: use a .csv, .json or .jsonl file")


def _csv_rows(path: Path) -> Iterator[RecipientRow]:
    with path.open(newline="", encoding="utf-8-sig") as lines:
        yield from csv_rows(lines, path.name)


def csv_rows(lines: Iterable[str], name: str) -> Iterator[RecipientRow]:
    """The rows of CSV text with a header row (a file, or an upload); `name` names it in
    errors. A line the CSV reader refuses (a NUL in it, say) is a RecipientsFileError."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [column.strip() for column in header]
        address = _address_column(names, name)
        for number, values in enumerate(reader, start=1):
            if not any(value.strip() for value in values):
                continue
            record = dict(zip(names, values, strict=False))
            yield _row(number, record, address)
    except csv.Error as exc:
        raise RecipientsFileError(f"{name} line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError:
        raise RecipientsFileError(f"{name}: not UTF-8 text") from None


def _json_lines(path: Path) -> Iterator[RecipientRow]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield from_object(number, _loads(line, path, number))


def _json_array(path: Path) -> Iterator[RecipientRow]:
    with path.open(encoding="utf-8") as source:
        try:
            items = json.load(source)
        except json.JSONDecodeError as exc:
            raise RecipientsFileError(f"{path.name}: not JSON ({exc})") from None
    if not isinstance(items, list):
        raise RecipientsFileError(f"{path.name}: a JSON array of recipients is expected")
    for number, item in enumerate(items, start=1):
        yield from_object(number, item)


def _loads(line: str, path: Path, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecipientsFileError(f"{path.name} line {number}: not JSON ({exc})") from None


def from_object(number: int, item: Any) -> RecipientRow:
    """One JSON recipient: `{"to": ..., "name": ...}` or `{"to": ..., "variables": {...}}`. A
    row that is not an object keeps an empty address, so that it is reported as invalid."""
    if not isinstance(item, dict):
        return RecipientRow(number, _text(item))
    record = {str(key): value for key, value in item.items() if key != "variables"}
    nested = item.get("variables")
    if isinstance(nested, dict):
        record.update({str(key): value for key, value in nested.items()})
    address = next((name for name in record if name.lower() in ADDRESS_COLUMNS), None)
    return _row(number, record, address)


def _address_column(names: list[str], name: str) -> str:
    lowered = {name.lower(): name for name in names}
    for candidate in ADDRESS_COLUMNS:
        if candidate in lowered:
            return lowered[candidate]
    raise RecipientsFileError(
        f"{name}: no address column; name one of {', '.join(ADDRESS_COLUMNS)}"
    )


def _row(number: int, record: dict[str, Any], address: str | None) -> RecipientRow:
    to = _text(record.pop(address, "")) if address else ""
    variables = {name: _text(value) for name, value in record.items() if name}
    return RecipientRow(number, to, variables)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
