"""Inbox users: created, listed, disabled and given a role, each change in the audit log in
the same transaction. Disabling a user ends every session of theirs at once."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.audit import log
from textbridge.auth import passwords, session
from textbridge.auth.principal import user_actor
from textbridge.auth.roles import ROLES
from textbridge.db.base import utcnow
from textbridge.models import User

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")


class UserError(ValueError):
    """A change that cannot be made (the message says why, in a sentence)."""


def normalized(username: str) -> str:
    return username.strip().lower()


def _checked_username(username: str) -> str:
    name = normalized(username)
    if not USERNAME.fullmatch(name):
        raise UserError("a username is 1 to 100 characters: letters, digits, '.', '_', '@' or '-'")
    return name


def _checked_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role}; choose among {', '.join(ROLES)}")
    return role


async def find(db: AsyncSession, username: str) -> User | None:
    found: User | None = await db.scalar(select(User).where(User.username == normalized(username)))
    return found


async def create(
    db: AsyncSession, username: str, password: str, role: str, *, actor: str, origin: str | None
) -> User:
    name, role = _checked_username(username), _checked_role(role)
    if (why := passwords.problem(password)) is not None:
        raise UserError(why)
    if await find(db, name) is not None:
        raise UserError(f"a user {name} exists already")
    user = User(username=name, password_hash=await passwords.hash_soon(password), role=role)
    db.add(user)
    await db.flush()
    await log.record(
        db,
        actor=actor,
        action="user.created",
        target=user_actor(name),
        origin=origin,
        detail={"role": role},
    )
    return user


async def list_users(db: AsyncSession) -> list[User]:
    return list(await db.scalars(select(User).order_by(User.username)))


async def _existing(db: AsyncSession, username: str) -> User:
    user = await find(db, username)
    if user is None:
        raise UserError(f"no user {normalized(username)}")
    return user


async def disable(db: AsyncSession, username: str, *, actor: str, origin: str | None) -> User:
    """Disable the user and end all their sessions (idempotent; audited once)."""
    user = await _existing(db, username)
    ended = await session.close_user_sessions(db, user.id)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        await log.record(
            db,
            actor=actor,
            action="user.disabled",
            target=user_actor(user.username),
            origin=origin,
            detail={"sessions_ended": ended},
        )
    return user


async def set_role(
    db: AsyncSession, username: str, role: str, *, actor: str, origin: str | None
) -> User:
    user = await _existing(db, username)
    role = _checked_role(role)
    if user.role != role:
        await log.record(
            db,
            actor=actor,
            action="user.role_changed",
            target=user_actor(user.username),
            origin=origin,
            detail={"from": user.role, "to": role},
        )
        user.role = role
    return user


async def authenticate(db: AsyncSession, username: str, password: str) -> User | None:
    """The active user with this name and password. Every refusal costs one argon2 check."""
    user = await find(db, username)
    matches = await passwords.verify_soon(user.password_hash if user else None, password)
    if user is None or not matches or user.disabled_at is not None:
        return None
    return user
