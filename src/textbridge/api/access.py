"""Users and their inbox sessions, for admins: list users, list open sessions, end one.

Users are created, disabled and given roles with `textbridge users` (a password never travels
in a command line or, here, in a request an admin did not make on purpose)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from textbridge.api.deps import AdminDep, UowDep, client_address
from textbridge.api.errors import ApiError
from textbridge.auth import session, users

router = APIRouter(tags=["access"])


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


class SessionOut(BaseModel):
    id: uuid.UUID
    username: str
    role: str
    origin: str | None
    created_at: datetime
    expires_at: datetime


@router.get("/users", response_model=list[UserOut])
async def list_users(uow: UowDep, _: AdminDep) -> list[UserOut]:
    found = await users.list_users(uow.session)
    return [
        UserOut(
            id=u.id,
            username=u.username,
            role=u.role,
            created_at=u.created_at,
            disabled_at=u.disabled_at,
        )
        for u in found
    ]


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(uow: UowDep, _: AdminDep) -> list[SessionOut]:
    return [
        SessionOut(
            id=row.id,
            username=user.username,
            role=user.role,
            origin=row.origin,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )
        for row, user in await session.list_open(uow.session)
    ]


@router.delete("/sessions/{session_id}", status_code=204)
async def revoke_session(
    session_id: uuid.UUID, uow: UowDep, request: Request, caller: AdminDep
) -> Response:
    """End someone's inbox session at once (audited as `session.revoked`)."""
    origin = client_address(request)
    if not await session.revoke(uow.session, session_id, actor=caller.actor, origin=origin):
        raise ApiError(404, "not_found", f"no open session {session_id}")
    await uow.commit()
    return Response(status_code=204)
