"""API keys are random tokens shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.models import ApiKey

KEY_PREFIX = "tb_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def add_key(session: AsyncSession, key: str, name: str) -> ApiKey:
    existing = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if existing is not None:
        return existing
    row = ApiKey(name=name, prefix=key[:8], key_hash=hash_key(key))
    session.add(row)
    await session.flush()
    return row


async def find_active(session: AsyncSession, key: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )


async def count_active(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
    )
    return count or 0
