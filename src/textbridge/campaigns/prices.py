"""The price table behind a campaign's cost estimate: a price per provider, channel and
recipient country, as data (`prices.csv` in this package, or the file `TEXTBRIDGE_PRICE_TABLE`
names). Prices are kept in micro-units of the currency (integers: sums stay exact on every
database). The shipped figures are illustrative; see the file's header."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path

MICROS = 1_000_000
CURRENCY = "USD"
ANY_COUNTRY = "*"
COLUMNS = ("provider", "channel", "country", "price")


class PriceTableError(ValueError):
    """The price table cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class PriceTable:
    prices: dict[tuple[str, str, str], int]
    source: str

    def micros(self, provider: str, channel: str, country: str | None) -> int | None:
        """The price of one unit (an SMS segment, a WhatsApp message), or None if unknown."""
        found = self.prices.get((provider, channel, country or ANY_COUNTRY))
        if found is None:
            found = self.prices.get((provider, channel, ANY_COUNTRY))
        return found


@lru_cache(maxsize=4)
def load(path: Path | None = None) -> PriceTable:
    """The table at `path`, or the one shipped with textbridge."""
    if path is not None:
        with path.open(newline="", encoding="utf-8") as lines:
            try:
                return PriceTable(_parse(lines, str(path)), str(path))
            except UnicodeDecodeError:
                raise PriceTableError(f"{path}: not UTF-8 text") from None
    shipped = resources.files(__package__).joinpath("prices.csv")
    with shipped.open("r", encoding="utf-8") as lines:
        return PriceTable(_parse(lines, "prices.csv"), "built-in (illustrative)")


def _parse(lines: Iterable[str], source: str) -> dict[tuple[str, str, str], int]:
    """Rows of `provider,channel,country,price` after that header; `#` lines are comments.
    A bad row raises `PriceTableError` with its line in the file (comments counted)."""
    # A comment becomes an empty line rather than vanishing, so the reader's line numbers stay
    # the file's.
    reader = csv.reader("\n" if line.startswith("#") else line for line in lines)
    rows = ((reader.line_num, row) for row in reader if any(field.strip() for field in row))
    header = next(rows, None)
    if header is None or tuple(field.strip() for field in header[1]) != COLUMNS:
        raise PriceTableError(f"{source}: the header must be {','.join(COLUMNS)}")
    prices: dict[tuple[str, str, str], int] = {}
    for line, row in rows:
        key, price = _row(row, source, line)
        if key in prices:
            raise PriceTableError(f"{source} line {line}: {','.join(key)} is priced twice")
        prices[key] = price
    return prices


def _row(row: list[str], source: str, line: int) -> tuple[tuple[str, str, str], int]:
    if len(row) != len(COLUMNS):
        raise PriceTableError(
            f"{source} line {line}: {len(row)} fields; {len(COLUMNS)} expected "
            f"({','.join(COLUMNS)})"
        )
    provider, channel, country, price = (field.strip() for field in row)
    for name, value in (("provider", provider), ("channel", channel), ("country", country)):
        if not value:
            raise PriceTableError(f"{source} line {line}: no {name}")
    return (provider, channel, country.upper()), _micros(price, source, line)


def _micros(text: str, source: str, line: int) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise PriceTableError(f"{source} line {line}: {text!r} is not a price") from None
    if not value.is_finite() or value < 0:
        raise PriceTableError(f"{source} line {line}: {text!r} is not a price")
    return int(value * MICROS)


def money(micros: int) -> str:
    """Micro-units as a decimal amount, e.g. 5500 -> "0.0055"."""
    return str((Decimal(micros) / MICROS).quantize(Decimal("0.0001")))
