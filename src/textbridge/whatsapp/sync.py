"""Bring a provider's WhatsApp templates into the registry (Plivo's template API today)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.whatsapp import registry
from textbridge.whatsapp.templates import CATEGORIES, STATUSES, TemplateError


class SyncUnavailable(Exception):
    """No provider to sync from, or the provider could not be read."""


@dataclass(frozen=True, slots=True)
class RemoteTemplate:
    name: str
    language: str
    category: str
    status: str
    components: list[dict[str, Any]]


class TemplateSource(Protocol):
    name: str

    async def fetch_templates(self) -> list[RemoteTemplate]:
        """Every template of the account; raises SyncUnavailable when it cannot."""
        ...


async def sync_templates(session: AsyncSession, source: TemplateSource | None) -> int:
    """Upsert every usable remote template; returns how many were stored."""
    if source is None:
        raise SyncUnavailable(
            "template sync needs Plivo: set PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN and PLIVO_WABA_ID"
        )
    stored = 0
    for remote in await source.fetch_templates():
        if remote.category not in CATEGORIES or remote.status not in STATUSES:
            continue
        try:
            await registry.upsert(
                session,
                name=remote.name,
                language=remote.language,
                category=remote.category,
                status=remote.status,
                components=remote.components,
                source=source.name,
            )
        except TemplateError:
            continue  # a definition we cannot fill in is not offered for sending
        stored += 1
    return stored
