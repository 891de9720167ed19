"""Inbox sessions: an HS256 JWT in an HttpOnly, SameSite=Strict cookie (PyJWT), naming a
`web_sessions` row (`jti`).

The token alone proves nothing after sign-out: every request also finds its row (and its API
key still active) in one indexed query, so signing out (the row is deleted) or revoking the key
ends the session on the server, in every process, at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.db.base import utcnow
from textbridge.models import ApiKey, WebSession

COOKIE_NAME = "textbridge_session"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SessionClaims:
    session_id: uuid.UUID
    api_key_id: uuid.UUID


async def open_session(db: AsyncSession, secret: str, api_key_id: uuid.UUID) -> str:
    """Store a new session for the key and return its cookie value (expired rows go too)."""
    now = utcnow()
    await db.execute(delete(WebSession).where(WebSession.expires_at <= now))
    row = WebSession(api_key_id=api_key_id, created_at=now, expires_at=now + LIFETIME)
    db.add(row)
    await db.flush()
    claims = {"sub": str(api_key_id), "jti": str(row.id), "iat": now, "exp": row.expires_at}
    return jwt.encode(claims, secret, algorithm="HS256")


def claims_of(secret: str, token: str) -> SessionClaims | None:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "jti", "sub"]}
        )
        return SessionClaims(uuid.UUID(str(claims["jti"])), uuid.UUID(str(claims["sub"])))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        return None


async def active_key(db: AsyncSession, claims: SessionClaims) -> ApiKey | None:
    """The session's API key, if the session is still open and the key not revoked."""
    query = (
        select(ApiKey)
        .join(WebSession, WebSession.api_key_id == ApiKey.id)
        .where(
            WebSession.id == claims.session_id,
            ApiKey.id == claims.api_key_id,
            WebSession.expires_at > utcnow(),
            ApiKey.revoked_at.is_(None),
        )
    )
    found: ApiKey | None = await db.scalar(query)
    return found


async def close_session(db: AsyncSession, session_id: uuid.UUID) -> None:
    await db.execute(delete(WebSession).where(WebSession.id == session_id))
