"""The template registry through the API, and how parameters become send-time components."""

from __future__ import annotations

from typing import Any

from ..support.textbridge import CONTACT, Textbridge

SHIPPING = {
    "category": "UTILITY",
    "status": "APPROVED",
    "components": [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "Hi {{customer_name}}, order {{order}} ships {{day}}."},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Track", "url": "https://t.example.com/{{1}}"}],
        },
    ],
}


def _put(textbridge: Textbridge, name: str, body: dict[str, Any]) -> Any:
    return textbridge.api.put(f"/api/v1/templates/{name}/en_US", json=body)


def test_create_list_get_delete(textbridge: Textbridge) -> None:
    created = _put(textbridge, "shipping_update", SHIPPING)
    assert created.status_code == 200, created.text
    assert created.json()["parameters"] == ["header", "customer_name", "order", "day", "button_0"]
    listed = textbridge.api.get("/api/v1/templates").json()
    assert [(t["name"], t["status"], t["source"]) for t in listed] == [
        ("shipping_update", "APPROVED", "api")
    ]
    assert textbridge.api.get("/api/v1/templates/shipping_update/en_US").status_code == 200
    assert textbridge.api.delete("/api/v1/templates/shipping_update/en_US").status_code == 204
    assert textbridge.api.get("/api/v1/templates/shipping_update/en_US").status_code == 404


def test_a_definition_without_body_is_refused(textbridge: Textbridge) -> None:
    response = _put(textbridge, "broken", {**SHIPPING, "components": [{"type": "FOOTER"}]})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "components"
    bad_status = _put(textbridge, "broken", {**SHIPPING, "status": "MAYBE"})
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["field"] == "status"


def test_sync_brings_the_providers_templates(textbridge: Textbridge) -> None:
    response = textbridge.api.post("/api/v1/templates/sync")
    assert response.status_code == 200, response.text
    templates = {t["name"]: t for t in textbridge.api.get("/api/v1/templates").json()}
    assert templates["order_update"]["status"] == "APPROVED"
    assert templates["order_update"]["source"] == "plivo"
    assert templates["summer_sale"]["status"] == "PENDING"
    assert set(templates["appointment_reminder"]["parameters"]) == {"customer_name", "time"}


def test_named_parameters_and_media_header_are_resolved(textbridge: Textbridge) -> None:
    _put(textbridge, "shipping_update", SHIPPING)
    textbridge.simulator.put(
        "/control/templates",
        json=[
            {
                "name": "shipping_update",
                "language": "en_US",
                "category": "UTILITY",
                "status": "APPROVED",
                "parameter_format": "NAMED",
                "components": SHIPPING["components"],
            }
        ],
    )
    parameters = {
        "header": "https://cdn.example.com/box.jpg",
        "customer_name": "Ann",
        "order": "A-7",
        "day": "Friday",
        "button_0": "A7TRACK",
    }
    response = textbridge.api.post(
        "/api/v1/messages",
        json={
            "to": CONTACT,
            "channel": "whatsapp",
            "provider": "vonage",
            "template": {"name": "shipping_update", "language": "en_US", "parameters": parameters},
        },
    )
    assert response.status_code == 202, response.text
    components = response.json()["template"]["components"]
    assert components == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/box.jpg"}}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ann", "parameter_name": "customer_name"},
                {"type": "text", "text": "A-7", "parameter_name": "order"},
                {"type": "text", "text": "Friday", "parameter_name": "day"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": 0,
            "parameters": [{"type": "text", "text": "A7TRACK"}],
        },
    ]
    textbridge.wait_for_status(response.json()["id"], "delivered", "read")
