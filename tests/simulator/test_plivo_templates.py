"""Plivo's WhatsApp template API on the simulator: shape, pagination, filters, access."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .harness import AUTH_ID, AUTH_TOKEN
from .vonage_support import WABA_ID

PATH = f"/WhatsApp/Template/{WABA_ID}/"


def many(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"t_{n:02}", "language": "en_US", "category": "UTILITY", "status": "APPROVED"}
        for n in range(count)
    ]


def test_lists_the_seeded_templates(api: httpx.Client) -> None:
    response = api.get(PATH)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"api_id", "meta", "objects"}
    assert body["meta"] == {
        "limit": 20,
        "offset": 0,
        "next": None,
        "previous": None,
        "total_count": 3,
    }
    order_update, reminder, sale = body["objects"]
    # Plivo lists summaries (docs: List Templates); the whole template is by template_id.
    assert set(order_update) == {"template_id", "name", "language", "category", "status"}
    assert order_update["name"] == "order_update"
    assert order_update["language"] == "en_US"
    assert order_update["category"] == "UTILITY"
    assert order_update["status"] == "APPROVED"
    assert (sale["category"], sale["status"]) == ("MARKETING", "PENDING")
    whole = api.get(f"{PATH}{order_update['template_id']}/").json()
    assert whole["waba_id"] == WABA_ID
    assert whole["quality_score"] == {"score": "GREEN"}
    assert whole["rejected_reason"] == "NONE"
    assert "{{1}}" in whole["components"][0]["text"]
    named = api.get(f"{PATH}{reminder['template_id']}/").json()
    assert named["parameter_format"] == "NAMED"
    assert "{{customer_name}}" in named["components"][0]["text"]
    assert api.get(f"{PATH}{sale['template_id']}/").json()["quality_score"] is None


def test_pages_through_templates(api: httpx.Client, control: httpx.Client) -> None:
    control.put("/templates", json=many(25))

    first = api.get(PATH).json()
    second = api.get(PATH, params={"limit": 20, "offset": 20}).json()

    assert len(first["objects"]) == 20
    assert first["meta"]["next"] == f"/v1/Account/{AUTH_ID}{PATH}?limit=20&offset=20"
    assert [t["name"] for t in second["objects"]] == [f"t_{n}" for n in range(20, 25)]
    assert second["meta"]["next"] is None
    assert second["meta"]["previous"] == f"/v1/Account/{AUTH_ID}{PATH}?limit=20&offset=0"
    assert second["meta"]["total_count"] == 25


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"status": "PENDING"}, ["summer_sale"]),
        ({"category": "UTILITY"}, ["order_update", "appointment_reminder"]),
        ({"template_name": "order_update", "language": "en_US"}, ["order_update"]),
        ({"language": "es_MX"}, []),
    ],
)
def test_filters_templates(api: httpx.Client, query: dict[str, str], names: list[str]) -> None:
    body = api.get(PATH, params=query).json()

    assert [t["name"] for t in body["objects"]] == names


def test_fetches_one_template(api: httpx.Client) -> None:
    [first, *_] = api.get(PATH).json()["objects"]

    one = api.get(f"{PATH}{first['template_id']}/")

    assert one.status_code == 200
    assert one.json()["name"] == first["name"]
    assert api.get(f"{PATH}999/").status_code == 404


@pytest.mark.parametrize(
    ("path", "auth", "status"),
    [
        (PATH, (AUTH_ID, "wrong"), 401),
        ("/WhatsApp/Template/111111111111111/", (AUTH_ID, AUTH_TOKEN), 404),
        (f"{PATH}?limit=21", (AUTH_ID, AUTH_TOKEN), 400),
    ],
)
def test_access_and_query_errors(
    api: httpx.Client, path: str, auth: tuple[str, str], status: int
) -> None:
    response = api.get(path, auth=auth)

    assert response.status_code == status
    assert set(response.json()) == {"api_id", "error"}
