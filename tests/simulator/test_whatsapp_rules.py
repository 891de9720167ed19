"""WhatsApp rules for both providers: the 24-hour window (with the movable clock) and templates."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .harness import Receiver

OURS, THEIRS, OTHER = "14155550100", "14155550199", "14155550188"
DAY = 24 * 3600


# --- helpers ---------------------------------------------------------------------------------


def vonage_send(vonage_api: httpx.Client, **content: Any) -> str:
    body = {"channel": "whatsapp", "to": THEIRS, "from": OURS, **content}
    response = vonage_api.post("/v1/messages", json=body)
    assert response.status_code == 202, response.text
    message_uuid: str = response.json()["message_uuid"]
    return message_uuid


def vonage_text(vonage_api: httpx.Client) -> str:
    return vonage_send(vonage_api, message_type="text", text="hello")


def vonage_statuses(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.wait_for(count, "/vonage/status")]


def plivo_send(api: httpx.Client, receiver: Receiver, **content: Any) -> str:
    body = {"src": OURS, "dst": THEIRS, "type": "whatsapp", "url": f"{receiver.url}/plivo"}
    response = api.post("/Message/", json={**body, **content})
    assert response.status_code == 202, response.text
    [message_uuid] = response.json()["message_uuid"]
    return str(message_uuid)


def plivo_statuses(receiver: Receiver, count: int) -> list[dict[str, str]]:
    return [r.params for r in receiver.wait_for(count, "/plivo")]


def vonage_inbound(control: httpx.Client, sender: str = THEIRS) -> None:
    body = {"channel": "whatsapp", "from": sender, "to": OURS, "text": "hi"}
    assert control.post("/vonage/inbound", json=body).status_code == 200


def plivo_inbound(control: httpx.Client) -> None:
    body = {"type": "whatsapp", "from": THEIRS, "to": OURS, "text": "hi"}
    assert control.post("/plivo/inbound", json=body).status_code == 200


def move_clock(control: httpx.Client, seconds: float) -> None:
    assert control.put("/clock", json={"offset_seconds": seconds}).status_code == 200


# --- the window ------------------------------------------------------------------------------


def test_vonage_free_form_outside_the_window_is_rejected_1340(
    vonage_api: httpx.Client, receiver: Receiver
) -> None:
    message_uuid = vonage_text(vonage_api)

    [rejected] = vonage_statuses(receiver, 1)
    assert rejected["message_uuid"] == message_uuid
    assert rejected["status"] == "rejected"
    assert rejected["error"]["title"] == "1340"
    assert rejected["error"]["type"] == "https://developer.vonage.com/api-errors/messages#1340"
    assert "window" in rejected["error"]["detail"]


def test_vonage_inbound_opens_the_window(
    vonage_api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    vonage_inbound(control)
    vonage_send(vonage_api, message_type="image", image={"url": "https://e.x/a.jpg"})

    statuses = vonage_statuses(receiver, 3)
    assert [s["status"] for s in statuses] == ["submitted", "delivered", "read"]
    delivered = statuses[1]["whatsapp"]
    assert delivered["pricing"]["category"] == "service"
    assert delivered["recipient"] == {"wa_id": THEIRS}


@pytest.mark.parametrize(("offset", "status"), [(DAY - 60, "delivered"), (DAY + 60, "rejected")])
def test_the_window_lasts_24_hours(
    vonage_api: httpx.Client, control: httpx.Client, receiver: Receiver, offset: int, status: str
) -> None:
    vonage_inbound(control)
    move_clock(control, offset)

    vonage_text(vonage_api)

    count = 2 if status == "delivered" else 1
    # The count-th status: a delivered message's `read` may have arrived too by then.
    assert vonage_statuses(receiver, count)[count - 1]["status"] == status


def test_a_new_inbound_restarts_the_window(
    vonage_api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    vonage_inbound(control)
    move_clock(control, DAY - 60)
    vonage_inbound(control)
    move_clock(control, 2 * DAY - 120)

    vonage_text(vonage_api)

    assert vonage_statuses(receiver, 2)[1]["status"] == "delivered"


def test_the_window_belongs_to_one_contact(
    vonage_api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    vonage_inbound(control, sender=OTHER)

    vonage_text(vonage_api)

    assert vonage_statuses(receiver, 1)[0]["error"]["title"] == "1340"


def test_plivo_free_form_outside_the_window_fails(api: httpx.Client, receiver: Receiver) -> None:
    plivo_send(api, receiver, text="hello")

    statuses = plivo_statuses(receiver, 2)
    assert [s["Status"] for s in statuses] == ["queued", "failed"]
    assert statuses[-1]["ErrorCode"] == "340"


@pytest.mark.parametrize(
    "content",
    [
        {"text": "hello"},
        {"media_urls": ["https://e.x/a.jpg"], "text": "caption"},
        {"location": {"latitude": "37.77", "longitude": "-122.41", "name": "SF", "address": "CA"}},
        {
            "interactive": {
                "type": "button",
                "body": {"text": "Pick one"},
                "action": {"buttons": [{"id": "y", "title": "Yes"}]},
            }
        },
    ],
)
def test_plivo_inbound_opens_the_window(
    api: httpx.Client, control: httpx.Client, receiver: Receiver, content: dict[str, Any]
) -> None:
    plivo_inbound(control)

    plivo_send(api, receiver, **content)

    statuses = plivo_statuses(receiver, 4)
    assert [s["Status"] for s in statuses] == ["queued", "sent", "delivered", "read"]
    assert all(s["Type"] == "whatsapp" for s in statuses)


def test_sms_has_no_window(vonage_api: httpx.Client, receiver: Receiver) -> None:
    body = {"channel": "sms", "message_type": "text", "to": THEIRS, "from": OURS, "text": "x"}
    vonage_api.post("/v1/messages", json=body)

    assert [s["status"] for s in vonage_statuses(receiver, 2)] == ["submitted", "delivered"]


# --- templates -------------------------------------------------------------------------------


PLIVO_TEMPLATE = {
    "name": "order_update",
    "language": "en_US",
    "components": [{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}],
}


def test_approved_plivo_template_goes_outside_the_window(
    api: httpx.Client, receiver: Receiver
) -> None:
    plivo_send(api, receiver, template=PLIVO_TEMPLATE)

    statuses = plivo_statuses(receiver, 4)
    assert [s["Status"] for s in statuses] == ["queued", "sent", "delivered", "read"]


@pytest.mark.parametrize(
    "template",
    [
        {"name": "summer_sale", "language": "en_US"},  # PENDING
        {"name": "no_such_template", "language": "en_US"},
        {"name": "order_update", "language": "fr_FR"},  # not in that language
    ],
)
def test_unusable_plivo_templates_fail(
    api: httpx.Client, control: httpx.Client, receiver: Receiver, template: dict[str, str]
) -> None:
    plivo_inbound(control)  # the window does not excuse a bad template

    plivo_send(api, receiver, template=template)

    statuses = plivo_statuses(receiver, 2)
    assert [s["Status"] for s in statuses] == ["queued", "failed"]
    assert statuses[-1]["ErrorCode"] == "340"


@pytest.mark.parametrize(
    "parameters",
    [[], [{"type": "text", "text": "A-1"}, {"type": "text", "text": "extra"}]],
)
def test_plivo_template_parameter_mismatch_fails_350(
    api: httpx.Client, receiver: Receiver, parameters: list[dict[str, str]]
) -> None:
    template = {**PLIVO_TEMPLATE, "components": [{"type": "body", "parameters": parameters}]}

    plivo_send(api, receiver, template=template)

    statuses = plivo_statuses(receiver, 2)
    assert [s["Status"] for s in statuses] == ["queued", "failed"]
    assert statuses[-1]["ErrorCode"] == "350"  # Plivo's code, not Meta's 132000


@pytest.mark.parametrize(
    "content",
    [
        {"message_type": "template", "template": {"name": "ns:summer_sale"}},
        {"message_type": "template", "template": {"name": "ns:missing"}},
        {
            "message_type": "custom",
            "custom": {
                "type": "template",
                "template": {"name": "summer_sale", "language": "en_US"},
            },
        },
    ],
)
def test_unusable_vonage_templates_are_rejected_1022(
    vonage_api: httpx.Client, receiver: Receiver, content: dict[str, Any]
) -> None:
    vonage_send(vonage_api, **content)

    [rejected] = vonage_statuses(receiver, 1)
    assert rejected["status"] == "rejected"
    assert rejected["error"]["title"] == "1022"


def test_templates_can_be_replaced(
    vonage_api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    seeded = control.get("/templates").json()
    assert [(t["name"], t["status"]) for t in seeded] == [
        ("order_update", "APPROVED"),
        ("appointment_reminder", "APPROVED"),
        ("summer_sale", "PENDING"),
    ]
    replacement = [
        {"name": "summer_sale", "language": "en_US", "category": "MARKETING", "status": "APPROVED"}
    ]
    assert control.put("/templates", json=replacement).status_code == 200

    vonage_send(vonage_api, message_type="template", template={"name": "ns:summer_sale"})
    vonage_send(vonage_api, message_type="template", template={"name": "ns:order_update"})

    webhooks = vonage_statuses(receiver, 4)
    by_status = {w["status"] for w in webhooks}
    assert {"delivered", "rejected"} <= by_status
    delivered = next(w for w in webhooks if w["status"] == "delivered")
    assert delivered["whatsapp"]["pricing"]["category"] == "marketing"


@pytest.mark.parametrize(
    "templates",
    [
        [{"name": "Bad Name", "language": "en_US", "category": "UTILITY", "status": "APPROVED"}],
        [{"name": "t", "language": "en_US", "category": "PROMO", "status": "APPROVED"}],
        [{"name": "t", "language": "en_US", "category": "UTILITY", "status": "LIVE"}],
        [{"name": "t", "language": "en_US", "category": "UTILITY", "status": "APPROVED"}] * 2,
    ],
)
def test_bad_templates_are_400(control: httpx.Client, templates: list[dict[str, str]]) -> None:
    assert control.put("/templates", json=templates).status_code == 400


# --- clock and reset -------------------------------------------------------------------------


def test_clock_shows_and_moves(control: httpx.Client) -> None:
    assert control.get("/clock").json()["offset_seconds"] == 0

    moved = control.put("/clock", json={"offset_seconds": 90000}).json()

    assert moved["offset_seconds"] == 90000
    assert moved["now"] > control.put("/clock", json={"offset_seconds": 0}).json()["now"]
    assert control.put("/clock", json={"offset_seconds": "soon"}).status_code == 400


def test_reset_forgets_windows_clock_and_templates(
    vonage_api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    vonage_inbound(control)
    move_clock(control, 3600)
    control.put("/templates", json=[])

    control.post("/reset")

    assert control.get("/clock").json()["offset_seconds"] == 0
    assert len(control.get("/templates").json()) == 3
    vonage_text(vonage_api)
    assert vonage_statuses(receiver, 1)[0]["status"] == "rejected"
