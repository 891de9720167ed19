"""SMS encoding detection and segment counting (GSM 03.38 / 3GPP TS 23.038).

Written by hand: on PyPI, ``gsm0338`` and ``gsmcodecs`` are codecs only, and the
packages that count segments (``smsutil``, ``py-smsify``, ``sms-counter``) are either
unmaintained or pre-release. The rules are small enough to own:

* A message is GSM-7 if every character is in the basic or extension table;
  a single other character switches the whole message to UCS-2.
* GSM-7 counts septets (extension characters cost 2: ESC + char); UCS-2 counts
  UTF-16 code units (astral characters such as emoji cost 2: a surrogate pair).
* One segment holds 160 septets / 70 units; a concatenated message holds
  153 / 67 per segment (the rest is the User Data Header).
* A split never breaks an escape pair or a surrogate pair, so segments are
  counted by greedily packing characters, not by dividing the total.
* An empty message is GSM-7 with 0 characters and 0 units, and counts as
  1 segment: carriers still send one (empty) part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC_CHARS",
    "GSM7_EXTENSION_CHARS",
    "Encoding",
    "EncodingInfo",
    "analyze",
]

Encoding = Literal["GSM-7", "UCS-2"]

# The 127 characters of the GSM 03.38 basic table (the 128th code, 0x1B, is ESC).
GSM7_BASIC_CHARS: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# Extension table characters: each is sent as ESC + code, so costs 2 septets.
GSM7_EXTENSION_CHARS: frozenset[str] = frozenset("\f^{}\\[~]|€")

_GSM7_CHARS: frozenset[str] = GSM7_BASIC_CHARS | GSM7_EXTENSION_CHARS

# (units in a single-segment message, units per segment of a concatenated message)
_LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True, slots=True)
class EncodingInfo:
    """How a text would be sent as SMS."""

    encoding: Encoding
    segments: int
    characters: int  # len(text) in Unicode code points
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    ucs2_characters: tuple[str, ...]  # distinct chars forcing UCS-2, by first appearance


def analyze(text: str) -> EncodingInfo:
    """Return the encoding, segment count and size of ``text`` sent as one SMS."""
    distinct = set(text)
    outside = distinct - _GSM7_CHARS
    ucs2_characters = tuple(dict.fromkeys(c for c in text if c in outside)) if outside else ()
    encoding: Encoding = "UCS-2" if ucs2_characters else "GSM-7"
    single_limit, part_limit = _LIMITS[encoding]
    if not _has_double_units(distinct, encoding):
        # Every character costs one unit: no pair to keep whole, so parts are simply full
        # (campaigns analyze every recipient's text; this is the usual case, in C speed).
        units = len(text)
        segments = 1 if units <= single_limit else -(-units // part_limit)
    else:
        costs = [_unit_cost(char, encoding) for char in text]
        units = sum(costs)
        segments = _count_segments(costs, single_limit, part_limit)
    return EncodingInfo(
        encoding=encoding,
        segments=segments,
        characters=len(text),
        units=units,
        ucs2_characters=ucs2_characters,
    )


def _has_double_units(distinct: set[str], encoding: Encoding) -> bool:
    if encoding == "GSM-7":
        return not distinct.isdisjoint(GSM7_EXTENSION_CHARS)
    return any(ord(char) > 0xFFFF for char in distinct)


def _unit_cost(char: str, encoding: Encoding) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) needed for one code point."""
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION_CHARS else 1
    return 2 if ord(char) > 0xFFFF else 1


def _count_segments(costs: list[int], single_limit: int, part_limit: int) -> int:
    """Count segments, packing whole characters greedily into each part."""
    if sum(costs) <= single_limit:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part_limit:
            segments, used = segments + 1, 0
        used += cost
    return segments
