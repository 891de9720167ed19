"""Reading Plivo's send answer: `message_uuid` as documented (a list) or as a bare string."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from textbridge.providers.base import OutboundMessage, SendOutcomeUnknown
from textbridge.providers.plivo.client import PlivoMessageClient

API_FIXTURES = Path(__file__).parents[3] / "src/textbridge/providers/plivo/fixtures/api"
BASE_URL = "https://api.plivo.com/v1/Account"
AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
MESSAGE = OutboundMessage(
    message_id="m-1",
    channel="sms",
    from_address="+14155550100",
    to_address="+14155550199",
    text="hi",
    status_callback_url="https://example.com/webhooks/plivo/status",
)


async def send_answered(body: dict[str, Any]) -> str:
    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        result = await PlivoMessageClient(AUTH_ID, "token", BASE_URL, http).send(MESSAGE)
    return result.provider_message_id


async def test_a_string_message_uuid_is_read_whole() -> None:
    body = json.loads((API_FIXTURES / "message_created_string_uuid.json").read_text())

    assert await send_answered(body) == "db3ce55a-7f1d-11e1-8ea7-1231380bc196"


async def test_the_documented_list_gives_its_first_uuid() -> None:
    body = {"api_id": "a", "message": "message(s) queued", "message_uuid": ["u-1", "u-2"]}

    assert await send_answered(body) == "u-1"


@pytest.mark.parametrize("value", [[], "", None, 42, {"uuid": "x"}])
async def test_no_usable_uuid_is_an_unknown_outcome(value: object) -> None:
    with pytest.raises(SendOutcomeUnknown):
        await send_answered({"api_id": "a", "message_uuid": value})
