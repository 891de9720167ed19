"""Inbox pages. A person signs in with an API key; the page then uses the same JSON API and
event stream as any application, authorised by an HttpOnly session cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from textbridge import __version__
from textbridge.api.deps import RuntimeDep, UowDep, session_claims
from textbridge.auth import keys, session
from textbridge.db.uow import UnitOfWork
from textbridge.runtime import Runtime
from textbridge.sandbox import SANDBOX_NUMBERS

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

# The security headers (CSP and the rest) are added to every response by `secure_responses`.
PAGE_HEADERS = {"Cache-Control": "no-store"}


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def _context(runtime: Runtime, **extra: Any) -> dict[str, Any]:
    sandbox_number = runtime.settings.plivo_sms_from_number or SANDBOX_NUMBERS[("plivo", "sms")]
    return {
        "sandbox": runtime.sandbox is not None,
        "sandbox_number": sandbox_number if runtime.sandbox is not None else "",
        "version": __version__,
        **extra,
    }


async def _signed_in(request: Request, runtime: Runtime, uow: UnitOfWork) -> bool:
    """A valid session cookie for an open session whose API key is not revoked."""
    claims = session_claims(request, runtime)
    return claims is not None and await session.active_key(uow.session, claims) is not None


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers=PAGE_HEADERS
    )


@router.get("/", response_class=HTMLResponse)
async def inbox(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    if not await _signed_in(request, runtime, uow):
        return RedirectResponse("/login", status_code=303)
    return _page(request, "inbox.html", _context(runtime))


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    if await _signed_in(request, runtime, uow):
        return RedirectResponse("/", status_code=303)
    return _page(request, "login.html", _context(runtime, error=None))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, runtime: RuntimeDep, uow: UowDep, api_key: Annotated[str, Form()]
) -> Response:
    found = await keys.find_active(uow.session, api_key.strip())
    if found is None:
        context = _context(runtime, error="That API key is not valid. Check it and try again.")
        return _page(request, "login.html", context, status=401)
    cookie = await session.open_session(uow.session, runtime.session_secret, found.id)
    await uow.commit()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        session.COOKIE_NAME,
        cookie,
        max_age=int(session.LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=runtime.settings.public_url.startswith("https://"),
    )
    return response


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    """Ends the session on the server too: its cookie, even if kept, no longer signs in.
    (No same-origin check: ending a session is never a forged write worth refusing.)"""
    token = request.cookies.get(session.COOKIE_NAME)
    claims = session.claims_of(runtime.session_secret, token) if token else None
    if claims is not None:
        await session.close_session(uow.session, claims.session_id)
        await uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE_NAME)
    return response
