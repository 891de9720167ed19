"""API keys for admins: list them, create one (its secret shown in that answer only), revoke.

A revocation is audited, and every process forgets the keys it had verified (`auth.keys`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from textbridge.api.deps import AdminDep, RuntimeDep, UowDep, client_address
from textbridge.api.errors import ApiError
from textbridge.api.schemas import storable
from textbridge.auth import keys
from textbridge.models import ApiKey
from textbridge.models.api_key import SCOPES

router = APIRouter(prefix="/keys", tags=["keys"])

Scope = Annotated[str, StringConstraints(pattern="^(send|read|admin)$")]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=100, strip_whitespace=True),
        AfterValidator(storable),
    ]
    scopes: list[Scope] = Field(
        default_factory=lambda: keys.NEW_KEY_SCOPES.split(),
        max_length=len(SCOPES),
        description="Any of `send`, `read`, `admin` (default: send and read).",
    )


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyOut:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=row.scopes.split(),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


class CreatedKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown in this answer only, never again.")


@router.get("", response_model=list[KeyOut])
async def list_keys(uow: UowDep, _: AdminDep) -> list[KeyOut]:
    return [KeyOut.of(row) for row in await keys.list_keys(uow.session)]


@router.post("", status_code=201, response_model=CreatedKeyOut)
async def create_key(body: KeyIn, uow: UowDep, request: Request, caller: AdminDep) -> CreatedKeyOut:
    scopes = keys.scopes_text(body.scopes)
    key, row = await keys.create(
        uow.session, body.name, scopes, actor=caller.actor, origin=client_address(request)
    )
    await uow.commit()
    return CreatedKeyOut(key=key, **KeyOut.of(row).model_dump())


@router.delete("/{key_id}", status_code=204)
async def revoke_key(
    key_id: uuid.UUID, uow: UowDep, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> Response:
    origin = client_address(request)
    row = await keys.revoke_id(uow.session, key_id, actor=caller.actor, origin=origin)
    if row is None:
        raise ApiError(404, "not_found", f"no API key {key_id}")
    await uow.commit()
    runtime.api_keys.forget_all()  # this process at once; others by the NOTIFY (PostgreSQL)
    return Response(status_code=204)
