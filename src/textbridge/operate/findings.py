"""One line of `doctor`'s report: a check, its outcome, what was seen, and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

Status = Literal["ok", "warn", "fail"]

CLOCK_WARN_SECONDS = 5.0
"""A clock kept by NTP is within a second; seconds off mean it is not synchronised."""
CLOCK_FAIL_SECONDS = 30.0
"""Vonage's signed webhooks carry their issue time, checked within
`TEXTBRIDGE_VONAGE_SIGNATURE_MAX_AGE` (300 s by default): a clock this far off eats a tenth
of it, and leases and scheduled sends are timed by the database's clock."""


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return asdict(self)


def ok(check: str, detail: str) -> Finding:
    return Finding(check, "ok", detail)


def warn(check: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(check, "warn", detail, fix)


def fail(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, "fail", detail, fix)


def clock_finding(check: str, source: str, theirs: datetime, ours: datetime) -> Finding:
    """How far this machine's clock is from `source`'s (`theirs`, read at `ours`)."""
    skew = (ours - theirs).total_seconds()
    detail = f"this machine is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} {source}"
    fix = "synchronise the clock (NTP: `timedatectl set-ntp true`, or chrony)"
    if abs(skew) > CLOCK_FAIL_SECONDS:
        return fail(check, detail, fix)
    if abs(skew) > CLOCK_WARN_SECONDS:
        return warn(check, detail, fix)
    return ok(check, f"within {CLOCK_WARN_SECONDS:.0f} s of {source}")


@dataclass(frozen=True, slots=True)
class ServerConnections:
    allowed: int  # max_connections less those reserved for superusers
    in_use: int  # by every client, this deployment's running processes included


CONNECTIONS_FIX = (
    "lower TEXTBRIDGE_DATABASE_POOL_SIZE (or TEXTBRIDGE_API_SEND_CONNECTIONS), raise the "
    "server's max_connections, or put a session-mode pooler in front (docs/DEPLOY.md)"
)


def connections_finding(per_process: int, server: ServerConnections) -> Finding:
    """Whether one more textbridge process fits in the server's connections. Processes open
    their connections as load needs them, so a fleet that fits when idle can overrun at peak:
    each process is counted at its most."""
    detail = (
        f"one textbridge process opens up to {per_process} connections; the server allows "
        f"{server.allowed}, {server.in_use} in use now"
    )
    if per_process > server.allowed:
        return fail("connections", f"{detail}: not even one process fits", CONNECTIONS_FIX)
    room = (server.allowed - server.in_use) // per_process
    if room < 1:
        return warn("connections", f"{detail}: no room for another process", CONNECTIONS_FIX)
    return ok("connections", f"{detail}: room for {room} more at their peak")
