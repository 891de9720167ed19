"""Plivo's WhatsApp template API (https://plivo.com/docs/messaging/api/whatsapp-templates).

`GET /v1/Account/{auth_id}/WhatsApp/Template/{waba_id}/` lists *summaries* page by page
(`{"api_id", "meta": {"next", ...}, "objects": [{template_id, name, language, category,
status}]}`); the components come only from `GET .../{waba_id}/{template_id}/` ("Get a
Template"), so a sync fetches each template it lists. A list item that already carries
`components` is taken as it is; one with neither is skipped and its shape logged once
(`providers.shapes`). Fixtures: `fixtures/template_list.json`, `fixtures/template_detail.json`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urljoin

import httpx

from textbridge.providers.shapes import note_unknown_shape
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
            page = await self._get(url)
            for item in _items(page):
                full = await self._full(item)
                if full is not None:
                    found.append(_template(full))
            url = _next_url(self._url, page)
        return found

    async def _full(self, summary: dict[str, Any]) -> dict[str, Any] | None:
        """The whole template a list item summarizes (fetched by its `template_id`)."""
        if isinstance(summary.get("components"), list):
            return summary
        template_id = str(summary.get("template_id") or "").strip()
        if not template_id or "/" in template_id:
            note_unknown_shape("plivo", "whatsapp template summary", summary)
            return None
        return await self._get(f"{self._url}{quote(template_id, safe='')}/")

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, auth=self._auth)
        except httpx.HTTPError as exc:
            raise SyncUnavailable(f"could not reach Plivo: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SyncUnavailable(f"Plivo answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        if not isinstance(body, dict):
            raise SyncUnavailable("Plivo's template answer is not a JSON object")
        return body


def _items(page: dict[str, Any]) -> list[dict[str, Any]]:
    objects = page.get("objects")
    if not isinstance(objects, list):
        note_unknown_shape("plivo", "whatsapp template list", page)
        return []
    return [item for item in objects if isinstance(item, dict)]


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
