"""Unknown payload shapes, logged once each.

Where a provider's documentation cannot settle a field, the adapters accept the documented shape,
keep the raw payload, and call ``note_unknown_shape`` for anything else: the first payload of a
given shape (provider, what it was, and its sorted field names) is logged with those field
names, never with values; later ones of the same shape are only counted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import structlog

log = structlog.get_logger("textbridge.providers")

MAX_SHAPES = 1000
"""Distinct shapes remembered; beyond it new shapes are no longer logged (memory stays bounded)."""

_seen: dict[tuple[str, str, tuple[str, ...]], int] = {}
_lock = threading.Lock()


def note_unknown_shape(provider: str, what: str, fields: Iterable[str]) -> bool:
    """Record a payload of an undocumented shape; True when this shape was new (and logged)."""
    names = tuple(sorted({str(name)[:64] for name in fields}))[:100]
    key = (provider, what, names)
    with _lock:
        if key not in _seen and len(_seen) >= MAX_SHAPES:
            return False
        count = _seen.get(key, 0) + 1
        _seen[key] = count
    if count > 1:
        return False
    log.warning("provider.unknown_shape", provider=provider, what=what, fields=list(names))
    return True


def unknown_shape_count(provider: str, what: str, fields: Iterable[str]) -> int:
    """How many payloads of this shape were seen (for tests and diagnostics)."""
    names = tuple(sorted({str(name)[:64] for name in fields}))[:100]
    with _lock:
        return _seen.get((provider, what, names), 0)
