"""Request dependencies: the runtime, a unit of work, and the caller's API key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from textbridge.api.errors import ApiError
from textbridge.auth import keys, session
from textbridge.db.uow import UnitOfWork
from textbridge.models import ApiKey
from textbridge.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tb_...`")


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_uow(runtime: RuntimeDep) -> AsyncIterator[UnitOfWork]:
    async with runtime.unit_of_work() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def require_api_key(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """A bearer API key, or the inbox's session cookie (same-origin requests only). A cookie
    request's session is left in `request.state.web_session` (None for a bearer key).

    The lookup uses its own short session: an event stream must not hold a transaction open
    for its whole life (on SQLite that would block every writer)."""
    request.state.web_session = None
    if credentials is not None:
        return await bearer_key(runtime, credentials.credentials)
    async with runtime.sessions() as db:
        claims = session_claims(request, runtime)
        found = await session.active_key(db, claims) if claims else None
    if found is None:
        raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer ...)")
    request.state.web_session = claims
    return found


async def bearer_key(runtime: Runtime, key: str) -> ApiKey:
    """The active key, without a round trip when this process verified it lately (see
    `keys.VerifiedKeys`: a revocation holds within its TTL). Concurrent requests with a key
    that is not kept share one look-up."""
    found = runtime.api_keys.get(key)
    if found is not None:
        return found
    found = await runtime.api_keys.look_up(key, partial(_find_active, runtime))
    if found is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key")
    runtime.api_keys.put(key, found)
    return found


async def _find_active(runtime: Runtime, key: str) -> ApiKey | None:
    async with runtime.sessions() as db:
        return await keys.find_active(db, key)


async def has_admin_key(request: Request, runtime: Runtime) -> bool:
    """Whether the request carries what `require_admin` accepts (a bearer key with the `admin`
    scope, or such a key's inbox session on a same-origin request). The sandbox simulator's
    control routes ask this of clients that are not on loopback."""
    credentials = await bearer(request)
    try:
        key = await require_api_key(request, runtime, credentials)
    except ApiError:
        return False
    return key.has_scope("admin")


def session_claims(request: Request, runtime: Runtime) -> session.SessionClaims | None:
    """The session cookie's claims (not yet checked against the database)."""
    token = request.cookies.get(session.COOKIE_NAME)
    if not token:
        return None
    if request.method in UNSAFE_METHODS and not _same_origin(request, runtime):
        # A cookie alone never authorises a cross-site write (CSRF).
        return None
    return session.claims_of(runtime.session_secret, token)


def _same_origin(request: Request, runtime: Runtime) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("x-requested-with") == "textbridge"
    return origin in (runtime.settings.public_url, f"{request.url.scheme}://{request.url.netloc}")


ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]


async def require_admin(key: ApiKeyDep) -> ApiKey:
    """The caller's key (bearer or inbox session) must carry the `admin` scope."""
    if not key.has_scope("admin"):
        raise ApiError(403, "forbidden", "admin scope required")
    return key
