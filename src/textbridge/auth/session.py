"""Inbox sessions: an HS256 JWT in an HttpOnly, SameSite=Strict cookie (PyJWT)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt

from textbridge.db.base import utcnow

COOKIE_NAME = "textbridge_session"
LIFETIME = timedelta(hours=12)


def issue(secret: str, api_key_id: uuid.UUID) -> str:
    now = utcnow()
    claims = {"sub": str(api_key_id), "iat": now, "exp": now + LIFETIME}
    return jwt.encode(claims, secret, algorithm="HS256")


def api_key_id_of(secret: str, token: str) -> uuid.UUID | None:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
        return uuid.UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        return None
