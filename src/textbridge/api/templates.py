"""The WhatsApp template registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from textbridge.api.deps import ReadDep, RuntimeDep, SendDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.api.schemas import StorableJson, storable
from textbridge.messaging.text import excerpt
from textbridge.models import MessageTemplate
from textbridge.whatsapp import registry
from textbridge.whatsapp.sync import SyncUnavailable, sync_templates
from textbridge.whatsapp.templates import TemplateError, parameters_of

router = APIRouter(prefix="/templates", tags=["templates"])

Category = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
Status = Literal["PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED"]
# As long as the columns that keep them (`MessageTemplate.name`, `.language`).
Name = Annotated[str, Path(max_length=512), AfterValidator(storable)]
Language = Annotated[str, Path(max_length=20), AfterValidator(storable)]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    status: Status = "PENDING"
    components: list[StorableJson] = Field(
        min_length=1,
        description="Meta's definition: HEADER, BODY (required), FOOTER, BUTTONS; placeholders "
        "`{{1}}` or `{{name}}`",
    )


class TemplateOut(BaseModel):
    name: str
    language: str
    category: str
    status: str
    components: list[dict[str, Any]]
    parameters: list[str]
    source: str
    updated_at: datetime

    @classmethod
    def of(cls, row: MessageTemplate) -> TemplateOut:
        return cls(
            name=row.name,
            language=row.language,
            category=row.category,
            status=row.status,
            components=row.components,
            source=row.source,
            updated_at=row.updated_at,
            parameters=[parameter.name for parameter in parameters_of(row.components)],
        )


class SyncOut(BaseModel):
    provider: str
    synced: int


@router.get("", response_model=list[TemplateOut])
async def list_templates(uow: UowDep, _: ReadDep) -> list[TemplateOut]:
    return [TemplateOut.of(row) for row in await registry.list_templates(uow.session)]


@router.get("/{name}/{language}", response_model=TemplateOut)
async def get_template(name: Name, language: Language, uow: UowDep, _: ReadDep) -> TemplateOut:
    row = await registry.find(uow.session, name, language)
    if row is None:
        raise _not_found(name, language)
    return TemplateOut.of(row)


@router.put("/{name}/{language}", response_model=TemplateOut)
async def put_template(
    name: Name, language: Language, body: TemplateIn, uow: UowDep, _: SendDep
) -> TemplateOut:
    """Create or replace a template definition."""
    try:
        row = await registry.upsert(
            uow.session,
            name=name,
            language=language,
            category=body.category,
            status=body.status,
            components=body.components,
        )
    except TemplateError as exc:
        raise ApiError(422, "invalid_template", str(exc), exc.field) from None
    out = TemplateOut.of(row)
    await uow.commit()
    return out


@router.delete("/{name}/{language}", status_code=204)
async def delete_template(name: Name, language: Language, uow: UowDep, _: SendDep) -> Response:
    if not await registry.delete(uow.session, name, language):
        raise _not_found(name, language)
    await uow.commit()
    return Response(status_code=204)


def _not_found(name: str, language: str) -> ApiError:
    return ApiError(404, "not_found", f"no template {excerpt(name)} in {excerpt(language)}", "name")


@router.post("/sync", response_model=SyncOut)
async def sync(uow: UowDep, runtime: RuntimeDep, _: SendDep) -> SyncOut:
    """Fetch the templates of the WhatsApp Business Account from Plivo into the registry."""
    try:
        count = await sync_templates(uow.session, runtime.template_source())
    except SyncUnavailable as exc:
        raise ApiError(409, "sync_unavailable", str(exc)) from None
    await uow.commit()
    return SyncOut(provider="plivo", synced=count)
