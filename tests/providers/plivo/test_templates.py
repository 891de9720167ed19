"""Plivo's template sync against its documented API shape (fixtures/api, over MockTransport)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from textbridge.providers import shapes
from textbridge.providers.plivo.templates import PlivoTemplateSource
from textbridge.whatsapp.sync import RemoteTemplate

API_FIXTURES = Path(__file__).parents[3] / "src/textbridge/providers/plivo/fixtures/api"
BASE = "https://api.plivo.com/v1/Account"
AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
LIST = f"/v1/Account/{AUTH_ID}/WhatsApp/Template/1234/"


def fixture(name: str) -> Any:
    return json.loads((API_FIXTURES / name).read_text())


def detail_of(summary: dict[str, Any]) -> dict[str, Any]:
    components = fixture("template_detail.json")["components"]
    return {**summary, "components": components, "rejected_reason": "NONE"}


async def fetch(pages: dict[str, Any]) -> tuple[list[RemoteTemplate], list[str]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(
            request.url.path + (f"?{request.url.query.decode()}" if request.url.query else "")
        )
        body = pages.get(asked[-1])
        return httpx.Response(200, json=body) if body else httpx.Response(404, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        source = PlivoTemplateSource(AUTH_ID, "token", BASE, "1234", client)
        return await source.fetch_templates(), asked


async def test_each_listed_summary_is_fetched_whole() -> None:
    listed = fixture("template_list.json")
    pages = {LIST: listed} | {f"{LIST}{s['template_id']}/": detail_of(s) for s in listed["objects"]}

    templates, asked = await fetch(pages)

    assert [(t.name, t.status) for t in templates] == [
        ("order_update", "APPROVED"),
        ("summer_sale", "PENDING"),
    ]
    assert all(t.components and t.components[0]["type"] == "BODY" for t in templates)
    assert asked == [LIST, f"{LIST}1085432198765432/", f"{LIST}1085432198765433/"]


async def test_follows_the_next_page() -> None:
    first, second = fixture("template_list.json")["objects"]
    page_two = f"{LIST}?limit=1&offset=1"
    pages = {
        LIST: {"api_id": "a", "meta": {"next": page_two}, "objects": [first]},
        page_two: {"api_id": "b", "meta": {"next": None}, "objects": [second]},
        f"{LIST}{first['template_id']}/": detail_of(first),
        f"{LIST}{second['template_id']}/": detail_of(second),
    }

    templates, _ = await fetch(pages)

    assert [t.name for t in templates] == ["order_update", "summer_sale"]


async def test_a_summary_without_an_id_is_skipped_and_its_shape_counted() -> None:
    odd = {"name": "odd_one", "language": "en", "shape_marker_x": 1}
    pages = {LIST: {"api_id": "a", "meta": {"next": None}, "objects": [odd, odd]}}

    templates, _ = await fetch(pages)

    assert templates == []
    seen = shapes.unknown_shape_count("plivo", "whatsapp template summary", odd)
    assert seen == 2
