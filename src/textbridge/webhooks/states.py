"""The webhook journal's entry states (`webhooks.journal` describes each). Apart from the
journal itself, so that `textbridge journal --help` names them without loading the database
layer."""

from __future__ import annotations

PENDING = "pending"
APPLIED = "applied"
REFUSED = "refused"
INVALID = "invalid"
ORPHANED = "orphaned"
DEAD = "dead"
UNVERIFIED = "unverified"
"""An unsigned request from a provider that documents sending some (Vonage after an internal
error): kept for a person to review, applied only once someone sets it back to `pending`."""
STATES = (PENDING, APPLIED, REFUSED, INVALID, ORPHANED, DEAD, UNVERIFIED)
REPLAYABLE = (DEAD, INVALID, ORPHANED, UNVERIFIED)
