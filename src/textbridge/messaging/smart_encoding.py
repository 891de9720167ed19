"""Typographic characters that force an SMS into UCS-2 for no visible gain, and their GSM-7
look-alikes: a text typed in a word processor or on a phone often carries curly quotes, dashes,
an ellipsis or a non-breaking space, and one of them halves a segment's capacity (160 -> 70).
The composer offers the replacement; nothing is replaced without the person asking."""

from __future__ import annotations

from typing import Final

REPLACEMENTS: Final[dict[str, str]] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark, the apostrophe of smart quotes
    "\u201a": "'",  # single low-9 quotation mark
    "\u2032": "'",  # prime
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u2033": '"',  # double prime
    "\u00ab": '"',  # left guillemet
    "\u00bb": '"',  # right guillemet
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # ellipsis
    "\u00a0": " ",  # no-break space
    "\u2007": " ",  # figure space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
    "\u200b": "",  # zero-width space
    "\u2022": "-",  # bullet
}


_TABLE: Final = {ord(char): lookalike for char, lookalike in REPLACEMENTS.items()}


def gsm_lookalike(text: str) -> str:
    """`text` with every character of `REPLACEMENTS` replaced by its GSM-7 look-alike."""
    return text.translate(_TABLE)
