"""Writing to the audit log. Call `record` inside the transaction of the action itself, so
that the entry exists exactly when the action happened (a rollback removes both).

Actions are dotted names, past tense: `key.created`, `key.revoked`, `login.succeeded`,
`login.failed`, `user.created`, `user.disabled`, `contact.exported`, `contact.erased`,
`consent.changed`, `journal.replayed`. A target that names a person is the keyed hash from
`compliance.identity` (`address:<hash>`), never the number."""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.auth.principal import Principal
from textbridge.db.base import utcnow
from textbridge.models import ApiKey, AuditEntry

CLI_ORIGIN = "cli"


def key_actor(key: ApiKey | Principal) -> str:
    """`key:<prefix>` for an API key; for the API's caller (`api.deps`), a key or a signed-in
    user (`user:<name>`), its own actor."""
    if isinstance(key, Principal):
        return key.actor
    return f"key:{key.prefix}"


def cli_actor() -> str:
    """The operating-system user running a CLI command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


async def record(
    db: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    origin: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await db.execute(
        insert(AuditEntry).values(
            at=utcnow(),
            actor=actor[:200],
            action=action,
            target=target[:300] if target else None,
            origin=origin[:100] if origin else None,
            detail=detail,
        )
    )
