"""What the inbox asks of the API (issue 9): the preview's price and GSM-7 look-alikes, a
contact's name and the contact's conversations."""

from __future__ import annotations

import pytest

from ..support.live import wait_until
from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge

PLIVO_WHATSAPP = "+14155550101"


def preview(textbridge: Textbridge, **body: object) -> dict[str, object]:
    response = textbridge.api.post("/api/v1/messages/preview", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_the_preview_prices_the_message_by_country_and_provider(textbridge: Textbridge) -> None:
    long_text = "x" * 161  # two GSM-7 segments
    us = preview(textbridge, text=long_text, to="+14155550100")
    assert (us["country"], us["provider"], us["unit_price"], us["cost"], us["currency"]) == (
        "US",
        "plivo",  # the cheaper of the two in the shipped table
        "0.0055",
        "0.0110",
        "USD",
    )
    vonage_gb = preview(textbridge, text="hi", to="+447400123456", provider="vonage")
    assert (vonage_gb["country"], vonage_gb["cost"]) == ("GB", "0.0450")
    whatsapp = preview(textbridge, text=long_text, to="+14155550100", channel="whatsapp")
    assert whatsapp["cost"] == whatsapp["unit_price"]  # one message, however long
    unpriced = preview(textbridge, text="hi")
    assert unpriced["country"] is None


def test_the_preview_offers_gsm7_lookalikes(textbridge: Textbridge) -> None:
    typed = "We\u2019re open\u2026 10\u201312 \u201cish\u201d, caf\u00e9 \u2615"
    answer = preview(textbridge, text=typed)
    assert answer["encoding"] == "UCS-2"
    assert answer["replaceable_characters"] == ["\u2019", "\u2026", "\u2013", "\u201c", "\u201d"]
    assert answer["lookalike_text"] == 'We\'re open... 10-12 "ish", caf\u00e9 \u2615'
    plain = preview(textbridge, text="Plain text")
    assert (plain["lookalike_text"], plain["lookalike_segments"]) == (None, None)


@pytest.mark.parametrize("to", ["4155550100", "+1", "+1415555\u00000100", "+" + "1" * 40])
def test_a_bad_number_in_the_preview_is_a_clear_422(textbridge: Textbridge, to: str) -> None:
    response = textbridge.api.post("/api/v1/messages/preview", json={"text": "hi", "to": to})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "to"


def test_a_contacts_name_is_set_and_cleared(textbridge: Textbridge) -> None:
    textbridge.send()
    named = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"name": "  Lin Chen "})
    assert named.status_code == 200, named.text
    assert named.json()["name"] == "Lin Chen"
    assert named.json()["country"] == "US"
    listed = textbridge.api.get("/api/v1/conversations").json()
    assert [c["contact_name"] for c in listed] == ["Lin Chen"]
    zone = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"time_zone": "Asia/Tokyo"})
    assert zone.json()["name"] == "Lin Chen"  # a field not given is left as it is
    cleared = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"name": " "})
    assert cleared.json()["name"] is None


@pytest.mark.parametrize("name", ["A\u0000B", "x" * 201, 7])
def test_a_bad_name_is_a_clear_422(textbridge: Textbridge, name: object) -> None:
    textbridge.send()
    response = textbridge.api.patch(f"/api/v1/contacts/{CONTACT}", json={"name": name})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "name"


def test_a_contacts_conversations_are_listed_newest_first(textbridge: Textbridge) -> None:
    textbridge.send(text="by SMS")
    whatsapp = {"from": CONTACT, "to": PLIVO_WHATSAPP, "type": "whatsapp", "text": "and here"}
    assert textbridge.simulator.post("/control/plivo/inbound", json=whatsapp).status_code == 200

    def both() -> list[dict[str, object]] | None:
        found = textbridge.api.get(f"/api/v1/contacts/{CONTACT}/conversations")
        assert found.status_code == 200, found.text
        listed: list[dict[str, object]] = found.json()
        return listed if len(listed) == 2 else None

    listed = wait_until(both)
    assert [(c["channel"], c["sender_address"]) for c in listed] == [
        ("whatsapp", PLIVO_WHATSAPP),
        ("sms", SANDBOX_NUMBER),
    ]
    assert {c["contact_address"] for c in listed} == {CONTACT}
    unknown = textbridge.api.get("/api/v1/contacts/+14155550999/conversations")
    assert unknown.status_code == 404, unknown.text
