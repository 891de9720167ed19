"""The simulator's clock and WhatsApp templates (control API).

- ``GET /control/clock``; ``PUT /control/clock {"offset_seconds": N}``: shift the simulator's
  "now" (WhatsApp windows, message and callback timestamps) by N seconds from the real time
  (absolute, not cumulative; ``0`` undoes it). Answers ``{"offset_seconds", "now"}``.
- ``GET /control/templates``; ``PUT /control/templates [{"name", "language", "category",
  "status", "components"?, "parameter_format"?, "template_id"?, "rejected_reason"?,
  "quality_score"?}, ...]``: list, or replace every template (both providers check sends
  against them). Answers the templates as Plivo's template API shows them.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter
from pydantic import Field

from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.control.api import ControlBody
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.state import SimulatorState
from textbridge.simulator.templates import (
    ParameterFormat,
    Template,
    TemplateCategory,
    TemplateStatus,
)

MAX_OFFSET_SECONDS = 10 * 365 * 24 * 3600


class ClockIn(ControlBody):
    offset_seconds: float = Field(ge=-MAX_OFFSET_SECONDS, le=MAX_OFFSET_SECONDS)


class TemplateIn(ControlBody):
    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    category: TemplateCategory
    status: TemplateStatus
    components: list[dict[str, object]] = Field(default_factory=list)
    parameter_format: ParameterFormat = "POSITIONAL"
    template_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    rejected_reason: str = "NONE"
    quality_score: str | None = Field(default=None, pattern=r"^(GREEN|YELLOW|RED|UNKNOWN)$")

    def template(self) -> Template:
        return Template(
            name=self.name,
            language=self.language,
            category=self.category,
            status=self.status,
            template_id=self.template_id or str(secrets.randbelow(10**15) + 10**15),
            components=tuple(self.components),
            parameter_format=self.parameter_format,
            rejected_reason=self.rejected_reason,
            quality_score=self.quality_score,
        )


def build_whatsapp_control_router(config: SimulatorConfig, state: SimulatorState) -> APIRouter:
    """Routes ``/control/clock`` and ``/control/templates``."""
    router = APIRouter(prefix="/control", tags=["control"])
    waba_id = config.plivo_waba_id or ""

    def clock_view() -> dict[str, object]:
        return {
            "offset_seconds": state.clock_offset.total_seconds(),
            "now": state.now().isoformat(),
        }

    @router.get("/clock")
    async def get_clock() -> dict[str, object]:
        return clock_view()

    @router.put("/clock")
    async def set_clock(body: ClockIn) -> dict[str, object]:
        state.clock_offset = timedelta(seconds=body.offset_seconds)
        return clock_view()

    @router.get("/templates")
    async def list_templates() -> list[dict[str, object]]:
        return [template.resource(waba_id) for template in state.templates.all()]

    @router.put("/templates")
    async def replace_templates(body: list[TemplateIn]) -> list[dict[str, object]]:
        templates = [item.template() for item in body]
        if len({template.ref for template in templates}) != len(templates):
            raise PlivoApiError(400, "two templates share a name and language")
        state.templates.replace(templates)
        return [template.resource(waba_id) for template in templates]

    return router
