"""Who is calling: an API key (bearer) or a signed-in user (the inbox's session cookie), and
the scopes that gives. A user's role gives scopes: `admin` all of them, `agent` the inbox's
`read` and `send`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from textbridge.models import ApiKey, User
from textbridge.models.api_key import SCOPES

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "agent": frozenset({"read", "send"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    id: uuid.UUID
    """The key's or the user's id (idempotency keys are scoped by it)."""
    actor: str
    """As the audit log names it: `key:<prefix>` or `user:<name>`."""
    label: str
    """As a person reads it, e.g. in a message's review history."""
    scopes: frozenset[str]
    session_id: uuid.UUID | None = None
    """The inbox session, for a cookie-authenticated request."""

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def of_key(key: ApiKey) -> Principal:
    return Principal(
        id=key.id,
        actor=f"key:{key.prefix}",
        label=f"api key {key.name} ({key.prefix})",
        scopes=frozenset(key.scopes.split()),
    )


def of_user(user: User, session_id: uuid.UUID | None = None) -> Principal:
    return Principal(
        id=user.id,
        actor=user_actor(user.username),
        label=f"user {user.username}",
        scopes=ROLE_SCOPES.get(user.role, frozenset()),
        session_id=session_id,
    )


def user_actor(username: str) -> str:
    return f"user:{username}"
