"""Inbox pages. A person signs in with a username and password (or, in the sandbox, the
one-time link `serve` prints); the page then uses the same JSON API and event stream as any
application, authorised by an HttpOnly session cookie and the session's CSRF token.

Every form carries a CSRF token: the sign-in form a double-submit one (a random value in a
cookie and in the form, as there is no session yet), every other form the session's own.
Roles: an agent has the inbox; an admin also the audit log page."""

from __future__ import annotations

import hmac
import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Scope

from textbridge import __version__
from textbridge.api.deps import RuntimeDep, UowDep, client_address, same_origin, session_claims
from textbridge.audit import log
from textbridge.audit.query import AuditFilter, entries
from textbridge.auth import passwords, session, throttle, users
from textbridge.auth.principal import ROLE_SCOPES, user_actor
from textbridge.db.uow import UnitOfWork
from textbridge.models import User
from textbridge.runtime import Runtime
from textbridge.sandbox import SANDBOX_NUMBERS
from textbridge.webhooks import journal

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "textbridge_login_csrf"
SANDBOX_ADMIN = "admin"
"""Whom the sandbox's one-time sign-in link signs in (created on first use if missing)."""

# The security headers (CSP and the rest) are added to every response by `secure_responses`.
PAGE_HEADERS = {"Cache-Control": "no-store"}


class _StaticFiles(StaticFiles):
    """The page names its entry module with `?v=<version>`, but the modules that one imports
    are fetched by plain relative URLs: they are revalidated on every load (a 304 when
    unchanged) so that an upgrade never runs a new module against a stale cached one."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if path.startswith("inbox/"):
            response.headers.setdefault("Cache-Control", "no-cache")
        return response


def static_files() -> StaticFiles:
    return _StaticFiles(directory=HERE / "static")


def _context(runtime: Runtime, **extra: Any) -> dict[str, Any]:
    sandbox_number = runtime.settings.plivo_sms_from_number or SANDBOX_NUMBERS[("plivo", "sms")]
    return {
        "sandbox": runtime.sandbox is not None,
        "sandbox_number": sandbox_number if runtime.sandbox is not None else "",
        "version": __version__,
        **extra,
    }


async def _signed_in(
    request: Request, runtime: Runtime, db: AsyncSession
) -> session.ActiveSession | None:
    """The open session of an enabled user that the cookie names, if any."""
    claims = session_claims(request, runtime)
    return await session.active(db, claims) if claims is not None else None


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers={**PAGE_HEADERS, **(headers or {})}
    )


def _user_context(runtime: Runtime, found: session.ActiveSession, **extra: Any) -> dict[str, Any]:
    return _context(
        runtime,
        csrf_token=found.session.csrf_token,
        username=found.user.username,
        is_admin="admin" in ROLE_SCOPES.get(found.user.role, frozenset()),
        **extra,
    )


@router.get("/", response_class=HTMLResponse)
async def inbox(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    found = await _signed_in(request, runtime, uow.session)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, "inbox.html", _user_context(runtime, found))


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    if await _signed_in(request, runtime, uow.session) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_form(request, runtime)


def _login_form(
    request: Request,
    runtime: Runtime,
    error: str | None = None,
    status: int = 200,
    username: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    token = secrets.token_urlsafe(32)
    context = _context(runtime, error=error, csrf_token=token, username=username)
    response = _page(request, "login.html", context, status, headers)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
        path="/login",
    )
    return response


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.public_url.startswith("https://")


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    runtime: RuntimeDep,
    uow: UowDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not _login_csrf_passes(request, runtime, csrf_token):
        return _refused(request, runtime)
    # A name no database can hold (a NUL) is still a failed sign-in, throttled and audited.
    name, origin = journal.storable(users.normalized(username)), client_address(request)
    wait = await throttle.retry_after(uow.session, name, origin)
    if wait is not None:
        await _audit_login(uow, name, origin, "login.throttled")
        message = f"Too many failed sign-ins. Try again in {wait} seconds."
        headers = {"Retry-After": str(wait)}
        return _login_form(request, runtime, message, 429, name, headers)
    user = await users.authenticate(uow.session, name, password)
    if user is None:
        await _audit_login(uow, name, origin, throttle.FAILED)
        message = "That username and password do not match an active user."
        return _login_form(request, runtime, message, 401, name)
    return await _signed_in_as(uow, runtime, user, origin, via="password")


def _login_csrf_passes(request: Request, runtime: Runtime, token: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    matches = bool(token) and hmac.compare_digest(token.encode(), cookie.encode())
    return matches and same_origin_form(request, runtime)


def _refused(request: Request, runtime: Runtime) -> Response:
    context = _context(
        runtime,
        title="Request refused",
        message=(
            "This form was not sent from this inbox's own page (its security token is missing or "
            "wrong). Reload the page and try again."
        ),
    )
    return _page(request, "refused.html", context, 403)


async def _audit_login(uow: UnitOfWork, name: str, origin: str | None, action: str) -> None:
    """A refused sign-in: nobody is signed in, so the actor is `anonymous`; the target is
    the name tried (what `auth.throttle` counts, with the address)."""
    target = user_actor(name)
    await log.record(uow.session, actor="anonymous", action=action, target=target, origin=origin)
    await uow.commit()


async def _signed_in_as(
    uow: UnitOfWork, runtime: Runtime, user: User, origin: str | None, via: str
) -> Response:
    cookie = await session.open_session(uow.session, runtime.session_secret, user, origin)
    actor = user_actor(user.username)
    await log.record(
        uow.session,
        actor=actor,
        action="login.succeeded",
        target=actor,
        origin=origin,
        detail={"via": via},
    )
    await uow.commit()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        session.COOKIE_NAME,
        cookie,
        max_age=int(session.LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.get("/login/once")
async def sign_in_link(
    request: Request,
    runtime: RuntimeDep,
    uow: UowDep,
    token: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The sandbox's one-time sign-in link (printed by `serve`): signs in as `admin`."""
    if runtime.sandbox is None or token not in runtime.sign_in_tokens:
        return _login_form(request, runtime, "That sign-in link is not valid (any more).", 401)
    runtime.sign_in_tokens.discard(token)
    user = await users.find(uow.session, SANDBOX_ADMIN)
    if user is None:
        user = await users.create(
            uow.session,
            SANDBOX_ADMIN,
            secrets.token_urlsafe(24),  # never shown: the link is the way in
            "admin",
            actor="system:sandbox",
            origin=client_address(request),
        )
    if user.disabled_at is not None:
        return _login_form(request, runtime, "The sandbox's admin user is disabled.", 403)
    return await _signed_in_as(uow, runtime, user, client_address(request), via="sign-in link")


@router.post("/logout")
async def logout(
    request: Request,
    runtime: RuntimeDep,
    uow: UowDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Ends the session on the server too: its cookie, even if kept, no longer signs in."""
    found = await _signed_in(request, runtime, uow.session)
    if found is not None:
        if not found.csrf_matches(csrf_token):
            return _refused(request, runtime)
        await session.close_session(uow.session, found.session.id)
        await uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE_NAME)
    return response


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    runtime: RuntimeDep,
    uow: UowDep,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=200)] = "",
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """The audit log, newest first, 100 a page: admins only (an agent gets 403)."""
    found = await _signed_in(request, runtime, uow.session)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    if found.user.role != "admin":
        context = _context(
            runtime,
            title="Admins only",
            message=("The audit log is for admins. Ask an admin if you need something from it."),
        )
        return _page(request, "refused.html", context, 403)
    wanted = AuditFilter(action=action or None, actor=actor or None, before_id=before_id)
    rows = await entries(uow.session, wanted)
    more = rows[-1].id if len(rows) == wanted.limit else None
    context = _user_context(runtime, found, rows=rows, action=action, actor=actor, more=more)
    return _page(request, "audit.html", context)


def _not_admin(request: Request, runtime: Runtime, found: session.ActiveSession | None) -> Response:
    if found is None:
        return RedirectResponse("/login", status_code=303)
    message = "This page is for admins. Ask an admin if you need something from it."
    return _page(
        request, "refused.html", _context(runtime, title="Admins only", message=message), 403
    )


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    """Open inbox sessions, each with a button that ends it: admins only."""
    found = await _signed_in(request, runtime, uow.session)
    if found is None or found.user.role != "admin":
        return _not_admin(request, runtime, found)
    rows = await session.list_open(uow.session)
    context = _user_context(runtime, found, rows=rows, own=found.session.id)
    return _page(request, "sessions.html", context)


@router.post("/sessions/{session_id}/revoke")
async def revoke_session(
    request: Request,
    runtime: RuntimeDep,
    uow: UowDep,
    session_id: uuid.UUID,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    found = await _signed_in(request, runtime, uow.session)
    if found is None or found.user.role != "admin":
        return _not_admin(request, runtime, found)
    if not found.csrf_matches(csrf_token) or not same_origin_form(request, runtime):
        return _refused(request, runtime)
    actor = user_actor(found.user.username)
    await session.revoke(uow.session, session_id, actor=actor, origin=client_address(request))
    await uow.commit()
    return RedirectResponse("/sessions", status_code=303)


def same_origin_form(request: Request, runtime: Runtime) -> bool:
    """A form post from a browser names its origin; one from elsewhere is refused."""
    return "origin" not in request.headers or same_origin(request, runtime)
