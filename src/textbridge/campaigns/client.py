"""The campaign API from a client: create a draft, upload a recipients file in chunks, start,
follow. The CLI (`textbridge campaign`) and the enqueue benchmark use it.

A file is streamed: rows are read one by one and sent in chunks of at most `CHUNK_ROWS` rows or
about `CHUNK_BYTES` of JSON (under the server's default 1 MB body limit), so neither side ever
holds the whole list. Each row is encoded to JSON once: the chunk's body is the rows' own
texts joined, which is also how its size is known.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from textbridge.campaigns.recipients import RecipientRow

CHUNK_ROWS = 5_000
CHUNK_BYTES = 600_000
IN_FLIGHT = 2


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
        """Send `rows` in chunks, `IN_FLIGHT` at a time (the server checks one chunk while it
        writes another); `on_chunk` is told the running totals after each, in file order."""
        totals = Upload()
        pending: deque[Future[tuple[int, dict[str, Any]]]] = deque()
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="upload") as pool:
            for chunk in _chunks(rows):
                if len(pending) >= IN_FLIGHT:
                    _add(totals, *pending.popleft().result())
                    on_chunk(totals)
                pending.append(pool.submit(self._send_chunk, campaign_id, chunk))
            if not pending and totals.rows == 0:  # an empty file: still a preview to show
                pending.append(pool.submit(self._send_chunk, campaign_id, _Chunk([])))
            while pending:
                _add(totals, *pending.popleft().result())
                on_chunk(totals)
        return totals

    def _send_chunk(self, campaign_id: str, chunk: _Chunk) -> tuple[int, dict[str, Any]]:
        path = f"/campaigns/{campaign_id}/recipients"
        return len(chunk.items), self._call("POST", path, content=chunk.body(), headers=_JSON)

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


_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class _Chunk:
    items: list[str]  # each row's JSON (ASCII: its length is its size in bytes)

    def body(self) -> bytes:
        return ('{"recipients":[' + ",".join(self.items) + "]}").encode("ascii")


def _chunks(rows: Iterable[RecipientRow]) -> Iterator[_Chunk]:
    items: list[str] = []
    size = 0
    for row in rows:
        item = json.dumps(row.as_json())
        items.append(item)
        size += len(item) + 1
        if len(items) >= CHUNK_ROWS or size >= CHUNK_BYTES:
            yield _Chunk(items)
            items, size = [], 0
    if items:
        yield _Chunk(items)


def _add(totals: Upload, rows: int, answer: dict[str, Any]) -> None:
    totals.rows += rows
    totals.accepted += answer["accepted"]
    totals.duplicates += answer["duplicates"]
    totals.invalid.extend(answer["invalid"])
    totals.campaign = answer["campaign"]


def _explain(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"
    field_name = f" ({error['field']})" if error.get("field") else ""
    return f"HTTP {response.status_code}: {error['message']}{field_name}"
