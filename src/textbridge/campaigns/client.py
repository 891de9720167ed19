"""The campaign API from a client: create a draft, upload a recipients file in chunks, start,
follow. The CLI (`textbridge campaign`) and the enqueue benchmark use it.

A file is streamed: rows are read one by one and sent in chunks of at most `CHUNK_ROWS` rows or
about `CHUNK_BYTES` of JSON (under the server's default 1 MB body limit), so neither side ever
holds the whole list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from textbridge.campaigns.recipients import RecipientRow

CHUNK_ROWS = 5_000
CHUNK_BYTES = 600_000


class CampaignApiError(RuntimeError):
    """The server refused a request; the message is its own explanation."""


@dataclass(slots=True)
class Upload:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)
    campaign: dict[str, Any] = field(default_factory=dict)


class CampaignClient:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/campaigns", json=body)["campaign"]  # type: ignore[no-any-return]

    def upload(
        self,
        campaign_id: str,
        rows: Iterable[RecipientRow],
        on_chunk: Callable[[Upload], None] = lambda _: None,
    ) -> Upload:
        """Send `rows` in chunks; `on_chunk` is told the running totals after each."""
        totals = Upload()
        chunk: list[dict[str, Any]] = []
        size = 0
        for row in rows:
            item = row.as_json()
            chunk.append(item)
            size += len(json.dumps(item, ensure_ascii=False)) + 1
            if len(chunk) >= CHUNK_ROWS or size >= CHUNK_BYTES:
                self._send_chunk(campaign_id, chunk, totals)
                on_chunk(totals)
                chunk, size = [], 0
        if chunk or totals.rows == 0:
            self._send_chunk(campaign_id, chunk, totals)
            on_chunk(totals)
        return totals

    def _send_chunk(self, campaign_id: str, chunk: list[dict[str, Any]], totals: Upload) -> None:
        answer = self._call(
            "POST", f"/campaigns/{campaign_id}/recipients", json={"recipients": chunk}
        )
        totals.rows += len(chunk)
        totals.accepted += answer["accepted"]
        totals.duplicates += answer["duplicates"]
        totals.invalid.extend(answer["invalid"])
        totals.campaign = answer["campaign"]

    def action(self, campaign_id: str, name: str) -> dict[str, Any]:
        """start, pause, resume or cancel."""
        return self._call("POST", f"/campaigns/{campaign_id}/{name}")["campaign"]  # type: ignore[no-any-return]

    def get(self, campaign_id: str) -> dict[str, Any]:
        return self._call("GET", f"/campaigns/{campaign_id}")

    def report(self, campaign_id: str) -> dict[str, Any]:
        return self._call("GET", f"/campaigns/{campaign_id}/report")

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **options)
        if response.is_error:
            raise CampaignApiError(_explain(response))
        body: dict[str, Any] = response.json()
        return body


def _explain(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"
    field_name = f" ({error['field']})" if error.get("field") else ""
    return f"HTTP {response.status_code}: {error['message']}{field_name}"
