"""Plivo's WhatsApp template API: `GET /v1/Account/{auth_id}/WhatsApp/Template/{waba_id}/`
(https://plivo.com/docs/messaging/api/whatsapp-templates), read page by page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx

from textbridge.whatsapp.sync import RemoteTemplate, SyncUnavailable

MAX_PAGES = 50


class PlivoTemplateSource:
    name = "plivo"

    def __init__(
        self, auth_id: str, auth_token: str, base_url: str, waba_id: str, client: httpx.AsyncClient
    ) -> None:
        self._url = f"{base_url}/{auth_id}/WhatsApp/Template/{waba_id}/"
        self._auth = httpx.BasicAuth(auth_id, auth_token)
        self._client = client

    async def fetch_templates(self) -> list[RemoteTemplate]:
        found: list[RemoteTemplate] = []
        url: str | None = self._url
        for _ in range(MAX_PAGES):
            if url is None:
                break
            page = await self._page(url)
            found += [_template(item) for item in _items(page)]
            url = _next_url(self._url, page)
        return found

    async def _page(self, url: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, auth=self._auth)
        except httpx.HTTPError as exc:
            raise SyncUnavailable(f"could not reach Plivo: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SyncUnavailable(f"Plivo answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        if not isinstance(body, dict):
            raise SyncUnavailable("Plivo's template list is not a JSON object")
        return body


def _items(page: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("objects", "templates", "data"):
        if isinstance(page.get(key), list):
            return [item for item in page[key] if isinstance(item, dict)]
    return []


def _next_url(base: str, page: dict[str, Any]) -> str | None:
    meta = page.get("meta")
    following = meta.get("next") if isinstance(meta, dict) else None
    return urljoin(base, following) if following else None


def _template(item: dict[str, Any]) -> RemoteTemplate:
    return RemoteTemplate(
        name=str(item.get("name", "")),
        language=str(item.get("language", "")),
        category=str(item.get("category", "")).upper(),
        status=str(item.get("status", "")).upper(),
        components=list(item.get("components") or []),
    )
