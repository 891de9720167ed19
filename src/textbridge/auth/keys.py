"""API keys are random tokens shown once; only their SHA-256 is stored."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.audit import log
from textbridge.db.base import utcnow
from textbridge.models import ApiKey
from textbridge.models.api_key import ALL_SCOPES, SCOPES
from textbridge.realtime.listener import KEYS as KEYS_CHANNEL

KEY_PREFIX = "tb_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


NEW_KEY_SCOPES = "send read"
"""What `keys create` gives when no scope is named: least privilege, as an application needs.
`admin` (the journal, replays of unsigned webhooks, the sandbox's control routes) is asked for
by name. The bootstrap and development keys are the operator's own and have every scope."""


def scopes_text(scopes: list[str] | None) -> str:
    """The stored form of `scopes` (`NEW_KEY_SCOPES` when none are given); ValueError for an
    unknown one."""
    if not scopes:
        return NEW_KEY_SCOPES
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}; choose among {', '.join(SCOPES)}")
    return " ".join(scope for scope in SCOPES if scope in scopes)


async def add_key(session: AsyncSession, key: str, name: str, scopes: str = ALL_SCOPES) -> ApiKey:
    existing = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if existing is not None:
        return existing
    row = ApiKey(name=name, prefix=key[:8], key_hash=hash_key(key), scopes=scopes)
    session.add(row)
    await session.flush()
    return row


async def find_active(session: AsyncSession, key: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )


class VerifiedKeys:
    """Keys this process verified in the last `ttl` seconds, by hash: the API's hot path checks
    a key without a database round trip.

    Only keys found active are kept (an unknown key is looked up every time, so a key created
    by `keys create` in another process works at once). A revocation empties it: in the
    process that revoked at once, and in every other on PostgreSQL through the `KEYS`
    notification sent in the revoking transaction (`announce_revocation`). What is left is
    the `ttl`: while a process's listening connection is down it misses the notification,
    and an entry is looked up again once it is `ttl` old (`ttl=0` turns the cache off)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._found: dict[str, tuple[float, ApiKey]] = {}
        self._looking_up: dict[str, asyncio.Future[ApiKey | None]] = {}

    def get(self, key: str) -> ApiKey | None:
        entry = self._found.get(hash_key(key))
        if entry is None:
            return None
        verified_at, row = entry
        if self._clock() - verified_at >= self.ttl:
            del self._found[hash_key(key)]
            return None
        return row

    def put(self, key: str, row: ApiKey) -> None:
        if self.ttl > 0:
            self._found[hash_key(key)] = (self._clock(), row)

    async def look_up(
        self, key: str, find: Callable[[str], Awaitable[ApiKey | None]]
    ) -> ApiKey | None:
        """`find(key)`, shared by the requests that ask for the same key while it runs: when
        an entry expires under load, one look-up instead of one per request in flight."""
        digest = hash_key(key)
        running = self._looking_up.get(digest)
        if running is None:
            running = asyncio.ensure_future(find(key))
            self._looking_up[digest] = running
            running.add_done_callback(lambda _: self._looking_up.pop(digest, None))
        return await asyncio.shield(running)

    def forget_all(self) -> None:
        self._found.clear()


async def count_active(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
    )
    return count or 0


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


async def create(
    db: AsyncSession, name: str, scopes: str, *, actor: str, origin: str | None
) -> tuple[str, ApiKey]:
    """A new key (returned in plain only here) and its row; audited as `key.created`."""
    key = new_key()
    row = await add_key(db, key, name, scopes)
    await log.record(
        db,
        actor=actor,
        action="key.created",
        target=f"key:{row.prefix}",
        origin=origin,
        detail={"name": name, "scopes": scopes, "id": str(row.id)},
    )
    return key, row


async def revoke(db: AsyncSession, prefix: str, *, actor: str, origin: str | None) -> int:
    """Revoke the active keys starting with `prefix` (at least 8 characters, as listed)."""
    if len(prefix) < 8:
        raise ValueError("give at least the 8-character prefix shown by `keys list`")
    found = await db.scalars(
        select(ApiKey).where(ApiKey.prefix == prefix[:8], ApiKey.revoked_at.is_(None))
    )
    return await _revoke_all(db, list(found), actor=actor, origin=origin)


async def revoke_id(
    db: AsyncSession, key_id: uuid.UUID, *, actor: str, origin: str | None
) -> ApiKey | None:
    """Revoke one key by id (a key revoked already stays as it was); None if there is none."""
    row = await db.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        await _revoke_all(db, [row], actor=actor, origin=origin)
    return row


async def _revoke_all(
    db: AsyncSession, rows: Iterable[ApiKey], *, actor: str, origin: str | None
) -> int:
    count = 0
    for row in rows:
        row.revoked_at = utcnow()
        count += 1
        await log.record(
            db,
            actor=actor,
            action="key.revoked",
            target=f"key:{row.prefix}",
            origin=origin,
            detail={"name": row.name, "id": str(row.id)},
        )
    if count:
        await announce_revocation(db)
    return count


async def announce_revocation(db: AsyncSession) -> None:
    """On PostgreSQL, NOTIFY every process to forget the keys it verified. Sent inside the
    revoking transaction, so it is delivered exactly when (and if) that commits."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text(f"NOTIFY {KEYS_CHANNEL}"))  # a constant of ours, never input
