"""Plivo's WhatsApp template API (read side), Basic auth like the Message API.

- ``GET /v1/Account/{auth_id}/WhatsApp/Template/{waba_id}/?limit=&offset=&status=&category=
  &language=&template_name=``: a page of template *summaries* (``template_id``, ``name``,
  ``language``, ``category``, ``status``), as Plivo lists them; components are not there.
- ``GET /v1/Account/{auth_id}/WhatsApp/Template/{waba_id}/{template_id}/``: one full template
  (the WhatsAppTemplate object: ``quality_score{score}``, ``rejected_reason``, ``components``...).

Source: https://plivo.com/docs/messaging/api/whatsapp-templates (the object, the filter
``template_name``, "Get a Template" by ``template_id``) and Plivo's list envelope
(https://docs.plivo.com/docs/messaging/api/response): ``{"api_id", "meta": {"limit", "offset",
"next", "previous", "total_count"}, "objects"}``, ``limit`` 1-20 (default 20). A ``waba_id``
other than the configured ``plivo_waba_id`` is 404.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.errors import PlivoApiError, new_api_id
from textbridge.simulator.plivo.api import authorize
from textbridge.simulator.state import SimulatorState
from textbridge.simulator.templates import Template

MAX_LIMIT = 20


def build_template_router(config: SimulatorConfig, state: SimulatorState) -> APIRouter:
    router = APIRouter(prefix="/v1/Account/{auth_id}/WhatsApp/Template", tags=["plivo"])

    @router.get("/{waba_id}/")
    async def list_templates(
        auth_id: str,
        waba_id: str,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
        offset: Annotated[int, Query(ge=0)] = 0,
        status: str | None = None,
        category: str | None = None,
        language: str | None = None,
        template_name: str | None = None,
    ) -> JSONResponse:
        _check_access(request, auth_id, waba_id, config)
        wanted = {
            "status": status,
            "category": category,
            "language": language,
            "template_name": template_name,
        }
        found = [t for t in state.templates.all() if _matches(t, wanted)]
        page = found[offset : offset + limit]
        base = f"/v1/Account/{auth_id}/WhatsApp/Template/{waba_id}/"
        body = {
            "api_id": new_api_id(),
            "meta": _meta(base, wanted, limit, offset, len(found)),
            "objects": [template.summary() for template in page],
        }
        return JSONResponse(body)

    @router.get("/{waba_id}/{template_id}/")
    async def get_template(
        auth_id: str, waba_id: str, template_id: str, request: Request
    ) -> JSONResponse:
        _check_access(request, auth_id, waba_id, config)
        for template in state.templates.all():
            if template.template_id == template_id:
                return JSONResponse({"api_id": new_api_id(), **template.resource(waba_id)})
        raise PlivoApiError(404, "template not found")

    return router


def _check_access(request: Request, auth_id: str, waba_id: str, config: SimulatorConfig) -> None:
    authorize(request, auth_id, config)
    if config.plivo_waba_id is None or waba_id != config.plivo_waba_id:
        raise PlivoApiError(404, f"WhatsApp Business Account {waba_id} not found")


FILTERED_FIELDS = {"template_name": "name"}


def _matches(template: Template, wanted: dict[str, str | None]) -> bool:
    return all(
        value is None or str(getattr(template, FILTERED_FIELDS.get(key, key))) == value
        for key, value in wanted.items()
    )


def _meta(
    base: str, filters: dict[str, str | None], limit: int, offset: int, total: int
) -> dict[str, object]:
    def page(start: int) -> str:
        query = {key: value for key, value in filters.items() if value is not None}
        return f"{base}?{urlencode({**query, 'limit': limit, 'offset': start})}"

    return {
        "limit": limit,
        "offset": offset,
        "next": page(offset + limit) if offset + limit < total else None,
        "previous": page(max(offset - limit, 0)) if offset > 0 else None,
        "total_count": total,
    }
