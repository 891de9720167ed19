"""Inbox sessions: an HS256 JWT in an HttpOnly, SameSite=Strict cookie (PyJWT), naming a
`web_sessions` row (`jti`) of one user (`sub`).

The token alone proves nothing: every request also finds its row, and its user still enabled,
in one indexed query, so signing out, an admin's revocation or disabling the user (each
deletes rows) ends the session on the server, in every process, at once. The row's
`csrf_token` must accompany every write the cookie authorises.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.audit import log
from textbridge.db.base import utcnow
from textbridge.models import User, WebSession

COOKIE_NAME = "textbridge_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SessionClaims:
    session_id: uuid.UUID
    user_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ActiveSession:
    user: User
    session: WebSession

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(
            token.encode(), self.session.csrf_token.encode()
        )


async def open_session(db: AsyncSession, secret: str, user: User, origin: str | None) -> str:
    """Store a new session for the user and return its cookie value (expired rows go too)."""
    now = utcnow()
    await db.execute(delete(WebSession).where(WebSession.expires_at <= now))
    row = WebSession(
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        origin=origin[:100] if origin else None,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    db.add(row)
    await db.flush()
    claims = {"sub": str(user.id), "jti": str(row.id), "iat": now, "exp": row.expires_at}
    return jwt.encode(claims, secret, algorithm="HS256")


def claims_of(secret: str, token: str) -> SessionClaims | None:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "jti", "sub"]}
        )
        return SessionClaims(uuid.UUID(str(claims["jti"])), uuid.UUID(str(claims["sub"])))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        return None


async def active(db: AsyncSession, claims: SessionClaims) -> ActiveSession | None:
    """The session and its user, if the session is still open and the user enabled."""
    query = (
        select(User, WebSession)
        .join(WebSession, WebSession.user_id == User.id)
        .where(
            WebSession.id == claims.session_id,
            User.id == claims.user_id,
            WebSession.expires_at > utcnow(),
            User.disabled_at.is_(None),
        )
    )
    row = (await db.execute(query)).first()
    return ActiveSession(row[0], row[1]) if row is not None else None


async def close_session(db: AsyncSession, session_id: uuid.UUID) -> bool:
    result = await db.execute(delete(WebSession).where(WebSession.id == session_id))
    return bool(getattr(result, "rowcount", 0))


async def close_user_sessions(db: AsyncSession, user_id: uuid.UUID) -> int:
    result = await db.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def list_open(db: AsyncSession) -> list[tuple[WebSession, User]]:
    query = (
        select(WebSession, User)
        .join(User, WebSession.user_id == User.id)
        .where(WebSession.expires_at > utcnow())
        .order_by(WebSession.created_at.desc())
    )
    return [(row[0], row[1]) for row in (await db.execute(query)).all()]


async def revoke(
    db: AsyncSession, session_id: uuid.UUID, *, actor: str, origin: str | None
) -> bool:
    """An admin ends someone's session; False when there was no such session."""
    row = await db.get(WebSession, session_id)
    if row is None:
        return False
    user = await db.get(User, row.user_id)
    await close_session(db, session_id)
    await log.record(
        db,
        actor=actor,
        action="session.revoked",
        target=f"user:{user.username}" if user else None,
        origin=origin,
        detail={"session": str(session_id)},
    )
    return True
