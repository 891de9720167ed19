"""Inbox pages. A person signs in with an API key; the page then uses the same JSON API and
event stream as any application, authorised by an HttpOnly session cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from textbridge import __version__
from textbridge.api.deps import RuntimeDep, UowDep, _session_key_id
from textbridge.auth import keys, session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


@router.get("/", response_class=HTMLResponse)
async def inbox(request: Request, runtime: RuntimeDep) -> Response:
    if _session_key_id(request, runtime) is None:
        return RedirectResponse("/login", status_code=303)
    context = {"sandbox": runtime.sandbox is not None, "version": __version__}
    return templates.TemplateResponse(request, "inbox.html", context)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, runtime: RuntimeDep) -> Response:
    context = {"sandbox": runtime.sandbox is not None, "error": None}
    return templates.TemplateResponse(request, "login.html", context)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, runtime: RuntimeDep, uow: UowDep, api_key: Annotated[str, Form()]
) -> Response:
    found = await keys.find_active(uow.session, api_key.strip())
    if found is None:
        context = {"sandbox": runtime.sandbox is not None, "error": "That API key is not valid."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        session.COOKIE_NAME,
        session.issue(runtime.session_secret, found.id),
        max_age=int(session.LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=runtime.settings.public_url.startswith("https://"),
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE_NAME)
    return response
