"""The template registry: definitions stored in `message_templates`, looked up when sending."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.db.base import utcnow
from textbridge.messaging.text import clean_json, excerpt, problem
from textbridge.models import MessageTemplate
from textbridge.providers.base import Template
from textbridge.whatsapp import templates
from textbridge.whatsapp.templates import TemplateError


async def list_templates(session: AsyncSession) -> Sequence[MessageTemplate]:
    query = select(MessageTemplate).order_by(MessageTemplate.name, MessageTemplate.language)
    return (await session.scalars(query)).all()


async def find(session: AsyncSession, name: str, language: str) -> MessageTemplate | None:
    return await session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.name == name, MessageTemplate.language == language
        )
    )


async def upsert(
    session: AsyncSession,
    *,
    name: str,
    language: str,
    category: str,
    status: str,
    components: list[dict[str, Any]],
    source: str = "api",
) -> MessageTemplate:
    """Create or replace the definition of (name, language). A definition from a provider's
    sync is made storable like any webhook content (`messaging.text`); a name or language too
    long for its column is a `TemplateError` (the sync skips it)."""
    _check_lengths(name=name, language=language, category=category, status=status)
    components = clean_json(components)
    templates.validate_definition(components)
    row = await find(session, name, language)
    if row is None:
        row = MessageTemplate(name=name, language=language)
        session.add(row)
    row.category, row.status, row.components, row.source = category, status, components, source
    row.updated_at = utcnow()
    await session.flush()
    return row


def _check_lengths(**values: str) -> None:
    for field, value in values.items():
        limit: int = getattr(MessageTemplate, field).property.columns[0].type.length
        if len(value) > limit or problem(value):
            raise TemplateError(f"{field} {excerpt(value)} cannot be stored", field)


async def delete(session: AsyncSession, name: str, language: str) -> bool:
    row = await find(session, name, language)
    if row is None:
        return False
    await session.delete(row)
    return True


async def resolve_for_sending(
    session: AsyncSession, name: str, language: str, values: dict[str, str]
) -> Template:
    """The template with its parameters filled in; TemplateError names what is wrong."""
    row = await find(session, name, language)
    if row is None:
        message = f"no template {excerpt(name)} in language {excerpt(language)}"
        raise TemplateError(message, "template.name")
    if row.status != "APPROVED":
        raise TemplateError(
            f"template {excerpt(name)} ({language}) is {row.status}; only APPROVED templates "
            "can be sent",
            "template.name",
        )
    components = templates.resolve(row.components, values)
    return Template(name=row.name, language=row.language, components=components)
