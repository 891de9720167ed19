"""Our Message API request, field for field, against what the official plivo SDK sends.

Both requests are captured on the wire: the SDK's through a `requests` adapter mounted on its
session (its base URL patched the documented way), ours through an httpx mock transport. Our
body may leave out the SDK's defaults (`log`, `trackable`) and the `None` fields it serialises
as `null`; every field we send must equal the SDK's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import plivo
import plivo.rest.client
import pytest
import requests
from plivo.utils.interactive import Interactive
from plivo.utils.location import Location as SdkLocation
from plivo.utils.template import Template as SdkTemplate

from textbridge.providers.base import Location, Media, OutboundMessage, Template
from textbridge.providers.plivo.checks import check
from textbridge.providers.plivo.client import PlivoMessageClient, message_request_body

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
BASE_URL = "http://plivo.test/v1/Account"
SRC, DST = "14155550100", "14155550199"
CALLBACK = "https://textbridge.example/webhooks/plivo/status"
SDK_DEFAULTS = {"log": "true", "trackable": False}
ACCEPTED = {"api_id": "a", "message": "message(s) queued", "message_uuid": ["u-1"]}


class Capture(requests.adapters.BaseAdapter):
    """A `requests` transport that records each request and answers 202, like Plivo."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *_: Any, **__: Any) -> requests.Response:
        self.requests.append(request)
        response = requests.Response()
        response.status_code = 202
        response._content = json.dumps(ACCEPTED).encode()
        response.headers["Content-Type"] = "application/json"
        response.url, response.request = request.url or "", request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def sdk_body(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    monkeypatch.setattr(plivo.rest.client, "PLIVO_API_BASE_URI", BASE_URL)
    client = plivo.RestClient(AUTH_ID, "token")
    capture = Capture()
    client.session.mount("http://plivo.test", capture)

    def send(**kwargs: Any) -> dict[str, Any]:
        client.messages.create(src=SRC, dst=DST, url=CALLBACK, **kwargs)
        request = capture.requests[-1]
        assert request.url == f"{BASE_URL}/{AUTH_ID}/Message/"
        assert isinstance(request.body, bytes)
        return dict(json.loads(request.body))

    return send


async def our_body(message: OutboundMessage) -> dict[str, Any]:
    """Our request as it leaves the client, JSON-decoded (for a message `check` accepts)."""
    assert check(message) == []
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202, json=ACCEPTED)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        result = await PlivoMessageClient(AUTH_ID, "token", BASE_URL, http).send(message)
    assert result.provider_message_id == "u-1"
    assert str(sent[0].url) == f"{BASE_URL}/{AUTH_ID}/Message/"
    body = json.loads(sent[0].content)
    assert body == message_request_body(message)
    return dict(body)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def assert_same_as_sdk(ours: dict[str, Any], sdk: dict[str, Any]) -> None:
    expected = _without_none(sdk)
    for name, default in SDK_DEFAULTS.items():
        if name not in ours:
            assert expected.pop(name) == default
    assert ours == expected


def message(channel: str = "whatsapp", text: str | None = None, **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id="m-1",
        channel=channel,  # type: ignore[arg-type]
        from_address=f"+{SRC}",
        to_address=f"+{DST}",
        text=text,
        status_callback_url=CALLBACK,
        **fields,
    )


async def test_sms_body_is_unchanged(sdk_body: Callable[..., dict[str, Any]]) -> None:
    ours = await our_body(message("sms", "Your order is ready"))
    assert ours == {
        "src": SRC,
        "dst": DST,
        "text": "Your order is ready",
        "type": "sms",
        "url": CALLBACK,
        "method": "POST",
    }
    assert_same_as_sdk(ours, sdk_body(text="Your order is ready"))


async def test_mms_with_text(sdk_body: Callable[..., dict[str, Any]]) -> None:
    urls = ["https://cdn.example/a.jpg", "https://cdn.example/b.gif"]
    media = tuple(Media(url) for url in urls)
    ours = await our_body(message("mms", "Two photos", media=media))
    assert ours["media_urls"] == urls
    assert_same_as_sdk(ours, sdk_body(type_="mms", text="Two photos", media_urls=urls))


async def test_mms_without_text(sdk_body: Callable[..., dict[str, Any]]) -> None:
    ours = await our_body(message("mms", None, media=(Media("https://cdn.example/a.png"),)))
    assert "text" not in ours
    assert_same_as_sdk(ours, sdk_body(type_="mms", media_urls=["https://cdn.example/a.png"]))


async def test_whatsapp_text(sdk_body: Callable[..., dict[str, Any]]) -> None:
    ours = await our_body(message("whatsapp", "Hello on WhatsApp"))
    assert_same_as_sdk(ours, sdk_body(type_="whatsapp", text="Hello on WhatsApp"))


@pytest.mark.parametrize(
    ("text", "media"),
    [
        ("The invoice", Media("https://cdn.example/invoice.pdf", "file", "application/pdf")),
        (None, Media("https://cdn.example/p.jpg", "image", caption="Your parcel")),
    ],
    ids=["caption-in-text", "caption-on-media"],
)
async def test_whatsapp_media_with_caption(
    sdk_body: Callable[..., dict[str, Any]], text: str | None, media: Media
) -> None:
    ours = await our_body(message("whatsapp", text, media=(media,)))
    caption = text or media.caption
    sdk = sdk_body(type_="whatsapp", text=caption, media_urls=[media.url])
    assert_same_as_sdk(ours, sdk)


async def test_whatsapp_media_without_caption(sdk_body: Callable[..., dict[str, Any]]) -> None:
    media = Media("https://cdn.example/voice.ogg", "audio", "audio/ogg")
    ours = await our_body(message("whatsapp", None, media=(media,)))
    assert "text" not in ours
    assert_same_as_sdk(ours, sdk_body(type_="whatsapp", media_urls=[media.url]))


# Meta-style components, as our API takes them ...
META_COMPONENTS: tuple[dict[str, Any], ...] = (
    {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://e.x/i.jpg"}}]},
    {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "Ann", "parameter_name": "customer_name"},
            {
                "type": "currency",
                "currency": {"fallback_value": "$12.50", "code": "USD", "amount_1000": 12500},
            },
            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}},
        ],
    },
    {
        "type": "button",
        "sub_type": "quick_reply",
        "index": 0,
        "parameters": [{"type": "payload", "payload": "YES"}],
    },
)
# ... and the same in the shape the SDK's `Template` accepts (it refuses Meta's media object).
SDK_COMPONENTS: list[dict[str, Any]] = [
    {"type": "header", "parameters": [{"type": "media", "media": "https://e.x/i.jpg"}]},
    {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "Ann", "parameter_name": "customer_name"},
            {
                "type": "currency",
                "currency": {
                    "fallback_value": "$12.50",
                    "currency_code": "USD",
                    "amount_1000": 12500,
                },
            },
            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}},
        ],
    },
    {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "YES"}],
    },
]


async def test_whatsapp_template(sdk_body: Callable[..., dict[str, Any]]) -> None:
    template = Template("order_update", "en_US", META_COMPONENTS)
    ours = await our_body(message("whatsapp", None, template=template))
    assert ours["template"]["components"][2]["index"] == "0"
    sdk_template = SdkTemplate(name="order_update", language="en_US", components=SDK_COMPONENTS)
    assert_same_as_sdk(ours, sdk_body(type_="whatsapp", template=sdk_template))


async def test_whatsapp_template_without_components(
    sdk_body: Callable[..., dict[str, Any]],
) -> None:
    ours = await our_body(message("whatsapp", None, template=Template("hello_world", "en_US")))
    sdk_template = SdkTemplate(name="hello_world", language="en_US")
    assert_same_as_sdk(ours, sdk_body(type_="whatsapp", template=sdk_template))


INTERACTIVE_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (  # reply buttons: Meta's {"type": "reply", "reply": {...}} -> Plivo's {"id", "title"}
        {
            "type": "button",
            "header": {"type": "text", "text": "Delivery"},
            "body": {"text": "Reschedule?"},
            "footer": {"text": "Acme"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        },
        {
            "type": "button",
            "header": {"type": "text", "text": "Delivery"},
            "body": {"text": "Reschedule?"},
            "footer": {"text": "Acme"},
            "action": {"buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]},
        },
    ),
    (  # list: Meta's action.button label -> the title of Plivo's one button
        {
            "type": "list",
            "header": {"type": "image", "image": {"link": "https://e.x/menu.jpg"}},
            "body": {"text": "Pick a slot"},
            "action": {
                "button": "Slots",
                "sections": [
                    {
                        "title": "Monday",
                        "rows": [{"id": "mon-9", "title": "9:00", "description": "Morning"}],
                    }
                ],
            },
        },
        {
            "type": "list",
            "header": {"type": "media", "media": "https://e.x/menu.jpg"},
            "body": {"text": "Pick a slot"},
            "action": {
                "buttons": [{"title": "Slots"}],
                "sections": [
                    {
                        "title": "Monday",
                        "rows": [{"id": "mon-9", "title": "9:00", "description": "Morning"}],
                    }
                ],
            },
        },
    ),
    (  # CTA URL: Meta's action.parameters -> a Plivo button with cta_url
        {
            "type": "cta_url",
            "body": {"text": "Track your parcel"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Track", "url": "https://e.x/track/1"},
            },
        },
        {
            "type": "cta_url",
            "body": {"text": "Track your parcel"},
            "action": {"buttons": [{"title": "Track", "cta_url": "https://e.x/track/1"}]},
        },
    ),
]


@pytest.mark.parametrize(
    ("meta", "plivo_shape"), INTERACTIVE_CASES, ids=["button", "list", "cta_url"]
)
async def test_whatsapp_interactive(
    sdk_body: Callable[..., dict[str, Any]], meta: dict[str, Any], plivo_shape: dict[str, Any]
) -> None:
    sdk = sdk_body(type_="whatsapp", interactive=Interactive(**plivo_shape))
    assert_same_as_sdk(await our_body(message("whatsapp", None, interactive=meta)), sdk)
    # Already in Plivo's shape, it passes through unchanged.
    assert_same_as_sdk(await our_body(message("whatsapp", None, interactive=plivo_shape)), sdk)


async def test_whatsapp_location(sdk_body: Callable[..., dict[str, Any]]) -> None:
    location = Location(37.7749, -122.4194, "Acme HQ", "1 Market St, San Francisco")
    ours = await our_body(message("whatsapp", None, location=location))
    assert ours["location"]["latitude"] == "37.7749"
    sdk_location = SdkLocation(
        latitude="37.7749",
        longitude="-122.4194",
        name="Acme HQ",
        address="1 Market St, San Francisco",
    )
    assert_same_as_sdk(ours, sdk_body(type_="whatsapp", location=sdk_location))


async def test_whatsapp_template_location_header(sdk_body: Callable[..., dict[str, Any]]) -> None:
    place = {"latitude": 37.7749, "longitude": -122.4194, "name": "Acme HQ", "address": "1 Main"}
    meta = ({"type": "header", "parameters": [{"type": "location", "location": place}]},)
    ours = await our_body(message("whatsapp", None, template=Template("visit_us", "en_US", meta)))
    as_strings = {key: str(value) for key, value in place.items()}
    sdk_components = [
        {"type": "header", "parameters": [{"type": "location", "location": as_strings}]}
    ]
    sdk_template = SdkTemplate(name="visit_us", language="en_US", components=sdk_components)
    assert_same_as_sdk(ours, sdk_body(type_="whatsapp", template=sdk_template))
