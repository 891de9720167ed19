"""The fake Plivo account API: the account, its numbers and its applications.

Shapes are those of the official SDK's test fixtures (plivo/plivo-python
`tests/resources/fixtures/accountGetResponse.json`, `numberGetResponse.json`,
`applicationGetResponse.json`, `applicationListResponse.json`,
`applicationCreateResponse.json`, `applicationModifyResponse.json`), at the paths the SDK calls
(`plivo/resources/accounts.py`, `numbers.py`, `applications.py`): every path ends with `/`,
reads are GET with a query string, writes are POST with a JSON body (the SDK's
`create_request`). Numbers are keyed by their digits (`17609915566`). Every answer carries
`Date` from the simulator's clock, so a shifted clock shows as skew.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from textbridge.simulator.accounts import (
    Accounts,
    PlivoApplication,
    PlivoNumber,
    digits,
    new_plivo_app_id,
)
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.errors import PlivoApiError, new_api_id
from textbridge.simulator.plivo.api import authorize, read_params
from textbridge.simulator.state import SimulatorState

LIST_LIMIT = 20  # the SDK's default and largest page


def build_account_router(config: SimulatorConfig, state: SimulatorState) -> APIRouter:
    """Routes under ``/v1/Account/{auth_id}/``: Account, Number, Application."""
    router = APIRouter(prefix="/v1/Account/{auth_id}", tags=["plivo"])

    def answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
        date = format_datetime(state.now(), usegmt=True)
        return JSONResponse({"api_id": new_api_id(), **body}, status, headers={"Date": date})

    @router.get("/")
    async def get_account(auth_id: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        return answer(_account(auth_id, state.accounts))

    @router.get("/Number/{number}/")
    async def get_number(auth_id: str, number: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        return answer(_number(auth_id, _owned(state.accounts, number)))

    @router.post("/Number/{number}/", status_code=202)
    async def update_number(auth_id: str, number: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        owned, params = _owned(state.accounts, number), await read_params(request)
        app_id = params.get("app_id")
        if app_id is not None:
            _application(state.accounts, str(app_id))
            owned.app_id = str(app_id)
        if params.get("alias") is not None:
            owned.alias = str(params["alias"])
        return answer({"message": "changed"}, 202)

    @router.get("/Application/")
    async def list_applications(auth_id: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        query = request.query_params
        apps = [
            app
            for app in state.accounts.plivo_applications.values()
            if query.get("app_name") in (None, app.app_name)
        ]
        offset, limit = _bounded(query.get("offset"), 0), _bounded(query.get("limit"), LIST_LIMIT)
        page = [_app(auth_id, app) for app in apps[offset : offset + limit]]
        meta = {"limit": limit, "offset": offset, "total_count": len(apps)}
        return answer({"meta": {**meta, "next": None, "previous": None}, "objects": page})

    @router.post("/Application/", status_code=201)
    async def create_application(auth_id: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        params = await read_params(request)
        if not params.get("app_name"):
            raise PlivoApiError(400, "app_name is required")
        app = PlivoApplication(new_plivo_app_id(), str(params["app_name"]))
        _apply(app, params)
        state.accounts.plivo_applications[app.app_id] = app
        return answer({"app_id": app.app_id, "message": "created"}, 201)

    @router.get("/Application/{app_id}/")
    async def get_application(auth_id: str, app_id: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        return answer(_app(auth_id, _application(state.accounts, app_id)))

    @router.post("/Application/{app_id}/", status_code=202)
    async def update_application(auth_id: str, app_id: str, request: Request) -> JSONResponse:
        authorize(request, auth_id, config)
        _apply(_application(state.accounts, app_id), await read_params(request))
        return answer({"message": "changed"}, 202)

    return router


def _owned(accounts: Accounts, number: str) -> PlivoNumber:
    owned = accounts.plivo_numbers.get(digits(number))
    if owned is None:
        raise PlivoApiError(404, "not found")
    return owned


def _application(accounts: Accounts, app_id: str) -> PlivoApplication:
    app = accounts.plivo_applications.get(app_id)
    if app is None:
        raise PlivoApiError(404, "not found")
    return app


def _apply(app: PlivoApplication, params: dict[str, object]) -> None:
    for name in ("message_url", "message_method", "answer_url", "answer_method"):
        if params.get(name) is not None:
            setattr(app, name, str(params[name]))
    if app.message_method not in ("GET", "POST"):
        raise PlivoApiError(400, "message_method must be GET or POST")


def _bounded(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        raise PlivoApiError(400, "limit and offset must be integers") from None
    if value < 0 or value > 10_000:
        raise PlivoApiError(400, "limit and offset must be between 0 and 10000")
    return value


def _account(auth_id: str, accounts: Accounts) -> dict[str, Any]:
    return {
        "account_type": "standard",
        "address": "",
        "auth_id": auth_id,
        "auto_recharge": False,
        "billing_mode": "prepaid",
        "cash_credits": accounts.plivo_cash_credits,
        "city": "",
        "name": "textbridge simulator",
        "resource_uri": f"/v1/Account/{auth_id}/",
        "state": "",
        "timezone": "UTC",
    }


def _number(auth_id: str, number: PlivoNumber) -> dict[str, Any]:
    application = f"/v1/Account/{auth_id}/Application/{number.app_id}/" if number.app_id else None
    return {
        "added_on": "2026-01-01",
        "active": True,
        "alias": number.alias,
        "application": application,
        "carrier": "Plivo",
        "monthly_rental_rate": "0.80000",
        "number": number.number,
        "number_type": "local",
        "resource_uri": f"/v1/Account/{auth_id}/Number/{number.number}/",
        "sms_enabled": True,
        "sms_rate": "0.00000",
        "mms_enabled": True,
        "voice_enabled": True,
        "sub_account": None,
    }


def _app(auth_id: str, app: PlivoApplication) -> dict[str, Any]:
    return {
        "answer_method": app.answer_method,
        "answer_url": app.answer_url,
        "app_id": app.app_id,
        "app_name": app.app_name,
        "default_app": False,
        "default_endpoint_app": False,
        "enabled": True,
        "fallback_answer_url": "",
        "fallback_method": "POST",
        "hangup_method": "POST",
        "hangup_url": app.answer_url,
        "message_method": app.message_method,
        "message_url": app.message_url or "",
        "public_uri": False,
        "resource_uri": f"/v1/Account/{auth_id}/Application/{app.app_id}/",
        "sip_uri": f"sip:{app.app_id}@app.plivo.com",
        "sub_account": None,
    }
