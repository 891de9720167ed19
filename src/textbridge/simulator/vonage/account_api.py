"""The fake Vonage account APIs: balance, owned numbers, and the Application API v2.

Paths and hosts as the official SDK calls them (vonage-python-sdk `vonage_account/account.py`:
`GET /account/get-balance` on the REST host; `vonage_numbers/number_management.py`:
`GET /account/numbers`, `POST /number/update` as a form, on the REST host;
`vonage_application/application.py`: `GET|PUT /v2/applications/{id}` on the API host; all with
Basic auth of the account's key and secret). The simulator serves both hosts. Shapes are the
SDK's test fixtures (`account/tests/data/get_balance.json`,
`number_management/tests/data/list_owned_numbers_basic.json`, `number.json`, `no_number.json`,
`application/tests/data/get_application.json`). Every answer carries `Date` from the
simulator's clock.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from textbridge.simulator.accounts import VonageNumber, digits, merged_application
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.state import SimulatorState
from textbridge.simulator.vonage.auth import authorize_account
from textbridge.simulator.vonage.errors import VonageProblem

NOT_FOUND_TYPE = "https://developer.nexmo.com/api-errors#not-found"
# Application API v2 (Nexmo/api-specification `definitions/application.v2.yml`).
PAYLOAD_INVALID_TYPE = "https://developer.nexmo.com/api-errors/application#payload-validation"
PAGE_SIZE = 100  # the SDK's default and largest page


def build_vonage_account_router(config: SimulatorConfig, state: SimulatorState) -> APIRouter:
    router = APIRouter(tags=["vonage"])

    def answer(body: dict[str, Any]) -> JSONResponse:
        date = format_datetime(state.now(), usegmt=True)
        return JSONResponse(body, headers={"Date": date})

    def authorize(request: Request) -> None:
        key, secret = request.query_params.get("api_key"), request.query_params.get("api_secret")
        joined = f"{key}:{secret}" if key is not None and secret is not None else None
        authorize_account(request.headers.get("authorization"), joined, config)

    @router.get("/account/get-balance")
    async def get_balance(request: Request) -> JSONResponse:
        authorize(request)
        return answer({"value": state.accounts.vonage_balance, "autoReload": False})

    @router.get("/account/numbers")
    async def list_numbers(request: Request) -> JSONResponse:
        authorize(request)
        numbers = _filtered(list(state.accounts.vonage_numbers.values()), request)
        size = _positive(request.query_params.get("size"), PAGE_SIZE)
        index = _positive(request.query_params.get("index"), 1)
        page = numbers[(index - 1) * size : index * size]
        if not numbers:
            return answer({"count": 0})
        return answer({"count": len(numbers), "numbers": [_number(n) for n in page]})

    @router.post("/number/update")
    async def update_number(request: Request) -> JSONResponse:
        authorize(request)
        async with request.form() as form:
            params = {key: value for key, value in form.items() if isinstance(value, str)}
        owned = state.accounts.vonage_numbers.get(digits(params.get("msisdn", "")))
        if owned is None or owned.country != params.get("country"):
            return answer({"error-code": "420", "error-code-label": "method failed"})
        if "app_id" in params:
            owned.app_id = params["app_id"] or None
        return answer({"error-code": "200", "error-code-label": "success"})

    @router.get("/v2/applications/{application_id}")
    async def get_application(application_id: str, request: Request) -> JSONResponse:
        authorize(request)
        return answer(_with_links(_stored(state, application_id)))

    @router.put("/v2/applications/{application_id}")
    async def update_application(application_id: str, request: Request) -> JSONResponse:
        authorize(request)
        stored = _stored(state, application_id)
        update = await _json_object(request)
        if not isinstance(update.get("name"), str) or not update["name"]:
            raise _invalid("name", "is required")
        merged = merged_application(stored, update)
        state.accounts.vonage_applications[application_id] = merged
        return answer(_with_links(merged))

    return router


def _filtered(numbers: list[VonageNumber], request: Request) -> list[VonageNumber]:
    wanted_app = request.query_params.get("application_id")
    pattern = request.query_params.get("pattern")
    return [
        number
        for number in numbers
        if wanted_app in (None, number.app_id) and (pattern is None or pattern in number.msisdn)
    ]


def _positive(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        raise _invalid("size", "must be an integer") from None
    if not 1 <= value <= 10_000:
        raise _invalid("size", "must be between 1 and 10000")
    return value


def _number(number: VonageNumber) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "country": number.country,
        "msisdn": number.msisdn,
        "type": "mobile-lvn",
        "features": ["VOICE", "SMS", "MMS"],
    }
    if number.app_id:
        shown |= {
            "messagesCallbackType": "app",
            "messagesCallbackValue": number.app_id,
            "app_id": number.app_id,
        }
    return shown


def _stored(state: SimulatorState, application_id: str) -> dict[str, Any]:
    stored = state.accounts.vonage_applications.get(application_id)
    if stored is None:
        raise VonageProblem(404, NOT_FOUND_TYPE, "Not Found", "Application not found.")
    return stored


def _with_links(application: dict[str, Any]) -> dict[str, Any]:
    href = f"/v2/applications/{application['id']}"
    return {**application, "_links": {"self": {"href": href}}}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _invalid("body", "must be a JSON object")
    return data


def _invalid(name: str, reason: str) -> VonageProblem:
    return VonageProblem(
        400,
        PAYLOAD_INVALID_TYPE,
        "Bad Request",
        "The request failed due to validation errors",
        [{"name": name, "reason": reason}],
    )
