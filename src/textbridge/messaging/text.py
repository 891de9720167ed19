"""Text a database can store: the one normalization the API and the webhooks share.

PostgreSQL refuses NUL (U+0000) in text and JSON, and neither database driver can encode a
lone surrogate (U+D800..U+DFFF: half of a UTF-16 pair, which JSON's `\\ud800` escape can carry)
as UTF-8. What each edge does with them:

- the API refuses them (`problem`): the client sent the text and can fix it, so it gets a 422
  naming the field rather than a message that is not what it asked for;
- a webhook's content is normalized (`clean`): NUL removed, a lone surrogate replaced with
  U+FFFD. The contact's message is a fact we keep as close as we can store it, and a refusal
  would only make the provider retry (or drop) it.

`excerpt` quotes a bad value in an error: a short prefix, escaped, so that the error itself is
always storable and printable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

EXCERPT_LENGTH = 20


def clean(text: str) -> str:
    """`text` without NUL, each lone surrogate replaced with U+FFFD (a valid pair of surrogate
    code points becomes the character it encodes)."""
    if "\x00" not in text and not _has_surrogate(text):
        return text
    without_nul = text.replace("\x00", "")
    return without_nul.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_json(value: Any) -> Any:
    """`clean` applied to every string (keys too) of a JSON-like value; a NaN or infinity
    (Python's `json` reads them, PostgreSQL's JSON refuses them) becomes its name as a string.
    The value itself when nothing needs changing (the usual case, checked in C: this runs for
    every webhook)."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return _clean_json(value)
    # NUL comes out escaped; a lone surrogate as it is.
    unstorable = "\\u0000" in encoded or _has_surrogate(encoded)
    return _clean_json(value) if unstorable else value


def _has_surrogate(text: str) -> bool:
    # Encoding runs in C and fails exactly on a surrogate: much faster than a regex search.
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {clean(str(key)): _clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(item) for item in value]
    return value


def problem(text: str) -> str | None:
    """Why `text` cannot be stored as given, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (U+0000), which cannot be stored"
    if _has_surrogate(text):
        return "contains a lone surrogate (U+D800..U+DFFF), which is not valid Unicode"
    return None


def excerpt(value: str, length: int = EXCERPT_LENGTH) -> str:
    """A short, escaped prefix of `value` to quote in an error: `'AMAZON'`, `'abc\\x00de…'`."""
    quoted = repr(value[:length])
    return f"{quoted}…" if len(value) > length else quoted
