"""Request dependencies: the runtime, a unit of work, the caller and the scope it needs.

Every `/api/v1` route names exactly one scope, through one of `ReadDep`, `SendDep` and
`AdminDep` (`require_scope`): `read` for reads, `send` for writes that send or change
messaging data, `admin` for what is the operator's (keys, users, sessions, the audit log, the
journal, reviews). `tests/api/test_access.py` walks the route table and holds every route to
it, so a route added without a scope fails that test.

The caller (`Principal`) is a bearer API key, or a signed-in user's session cookie. A cookie
authorises a write only from our own origin and with the session's CSRF token in the
`X-CSRF-Token` header. Every caller is held to the API rate limit (`auth.ratelimit`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from textbridge.api.errors import ApiError
from textbridge.auth import keys, principal, session
from textbridge.auth.principal import Principal
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


async def require_principal(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """A bearer API key, or the inbox's session cookie. A cookie request's session is left in
    `request.state.web_session` (None for a bearer key).

    The lookup uses its own short session: an event stream must not hold a transaction open
    for its whole life (on SQLite that would block every writer)."""
    request.state.web_session = None
    if credentials is not None:
        caller = principal.of_key(await bearer_key(runtime, credentials.credentials))
    else:
        caller = await _session_caller(request, runtime)
    return within_rate(runtime, caller)


def within_rate(runtime: Runtime, caller: Principal) -> Principal:
    """The caller, unless it is over the API rate limit (429 with `Retry-After`)."""
    wait = runtime.api_rate.retry_after(caller.actor)
    if wait is not None:
        raise ApiError(429, "rate_limited", f"too many requests; retry in {wait} s", None, wait)
    return caller


async def bearer_key(runtime: Runtime, key: str) -> ApiKey:
    """The active key, without a round trip when this process verified it lately (see
    `keys.VerifiedKeys`: a revocation empties it). Concurrent requests with a key that is not
    kept share one look-up."""
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


async def _session_caller(request: Request, runtime: Runtime) -> Principal:
    claims = session_claims(request, runtime)
    async with runtime.sessions() as db:
        found = await session.active(db, claims) if claims else None
    if claims is None or found is None:
        raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer ...)")
    if request.method in UNSAFE_METHODS and not csrf_passes(request, runtime, found):
        raise ApiError(403, "csrf_failed", "a write from the inbox needs its CSRF token")
    request.state.web_session = claims
    return principal.of_user(found.user, claims.session_id)


def csrf_passes(request: Request, runtime: Runtime, found: session.ActiveSession) -> bool:
    """A cookie alone never authorises a write (CSRF): it must come from our own origin and
    carry the session's token (header, or for a form the value the caller read from it)."""
    token = request.headers.get(session.CSRF_HEADER)
    return same_origin(request, runtime) and found.csrf_matches(token)


async def has_admin_key(request: Request, runtime: Runtime) -> bool:
    """Whether the request carries what `require_admin` accepts (a bearer key with the `admin`
    scope, or an admin's inbox session with its CSRF token). The sandbox simulator's control
    routes ask this of clients that are not on loopback."""
    credentials = await bearer(request)
    try:
        caller = await require_principal(request, runtime, credentials)
    except ApiError:
        return False
    return caller.has_scope("admin")


def session_claims(request: Request, runtime: Runtime) -> session.SessionClaims | None:
    """The session cookie's claims (not yet checked against the database)."""
    token = request.cookies.get(session.COOKIE_NAME)
    if not token:
        return None
    return session.claims_of(runtime.session_secret, token)


def same_origin(request: Request, runtime: Runtime) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("x-requested-with") == "textbridge"
    return origin in (runtime.settings.public_url, f"{request.url.scheme}://{request.url.netloc}")


def client_address(request: Request) -> str | None:
    """The caller's address, as the audit log keeps it (behind a proxy, `serve` takes it from
    the forwarded headers of trusted proxies: uvicorn's `proxy_headers`)."""
    return request.client.host if request.client else None


PrincipalDep = Annotated[Principal, Depends(require_principal)]
ApiKeyDep = PrincipalDep
"""Authenticated, with no scope named: not enough for an `/api/v1` route (see the module)."""


class RequireScope:
    """The dependency that lets a caller in only with `scope` (403 `forbidden` otherwise)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(self, caller: PrincipalDep) -> Principal:
        return with_scope(caller, self.scope)


def with_scope(caller: Principal, scope: str) -> Principal:
    if not caller.has_scope(scope):
        raise ApiError(403, "forbidden", f"{scope} scope required")
    return caller


async def bearer_caller(runtime: Runtime, token: str, scope: str) -> Principal:
    """What `require_principal` and `RequireScope(scope)` make of a bearer key, for a route's
    own fast lane (the send route's: see `api/messages.py`)."""
    caller = within_rate(runtime, principal.of_key(await bearer_key(runtime, token)))
    return with_scope(caller, scope)


require_read = RequireScope("read")
require_send = RequireScope("send")
require_admin = RequireScope("admin")

ReadDep = Annotated[Principal, Depends(require_read)]
SendDep = Annotated[Principal, Depends(require_send)]
AdminDep = Annotated[Principal, Depends(require_admin)]
