"""The official plivo SDK as a real client: it sends through our simulator, and what it signs
verifies in our webhook endpoint (over HTTP), while any changed byte is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import plivo
import plivo.rest.client
import pytest
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3

from ...support.live import wait_until
from ...support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge

NONCE = "12345678901234567890"


@pytest.fixture
def sdk(textbridge: Textbridge, monkeypatch: pytest.MonkeyPatch) -> plivo.RestClient:
    # The SDK has no base-URL option; its module constant is the documented way in.
    monkeypatch.setattr(
        plivo.rest.client, "PLIVO_API_BASE_URI", f"{textbridge.url}/simulator/v1/Account"
    )
    assert textbridge.runtime.sandbox is not None
    sandbox = textbridge.runtime.sandbox
    return plivo.RestClient(sandbox.plivo_auth_id, sandbox.plivo_auth_token)


@pytest.fixture
def anonymous(textbridge: Textbridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        yield client


def test_sdk_sends_through_the_simulator(sdk: plivo.RestClient, textbridge: Textbridge) -> None:
    response = sdk.messages.create(
        src=SANDBOX_NUMBER.lstrip("+"), dst=CONTACT.lstrip("+"), text="from the SDK"
    )
    assert response.message == "message(s) queued"
    assert len(response.message_uuid) == 1
    uuid.UUID(response.message_uuid[0])
    fetched = sdk.messages.get(response.message_uuid[0])
    assert fetched.message_uuid == response.message_uuid[0]


def test_sdk_with_wrong_token_is_refused(textbridge: Textbridge, sdk: plivo.RestClient) -> None:
    assert textbridge.runtime.sandbox is not None
    wrong = plivo.RestClient(textbridge.runtime.sandbox.plivo_auth_id, "not-the-token")
    with pytest.raises(plivo.exceptions.AuthenticationError):
        wrong.messages.create(src="14155550100", dst="14155550199", text="hi")


def _inbound_params() -> dict[str, str]:
    return {
        "From": CONTACT.lstrip("+"),
        "To": SANDBOX_NUMBER.lstrip("+"),
        "Type": "sms",
        "Text": "signed by the SDK",
        "MessageUUID": str(uuid.uuid4()),
        "Units": "1",
    }


def _sdk_v3_headers(token: str, url: str, params: dict[str, str], nonce: str) -> dict[str, str]:
    signature = get_signature_v3(token, construct_post_url(url, params), nonce)
    return {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}


def _v2_headers(token: str, url: str, nonce: str) -> dict[str, str]:
    # The SDK's V2 validator is `plivo.utils.validate_signature`; it has no signing helper, so
    # we sign as it verifies and check our signature against it.
    digest = hmac.new(token.encode(), (url + nonce).encode(), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode()
    assert plivo.utils.validate_signature(url, nonce, signature, token)
    return {"X-Plivo-Signature-V2": signature, "X-Plivo-Signature-V2-Nonce": nonce}


def _post(client: httpx.Client, path: str, params: dict[str, str], headers: dict[str, str]) -> int:
    form = {"content-type": "application/x-www-form-urlencoded", **headers}
    return client.post(path, content=urlencode(params), headers=form).status_code


@pytest.fixture
def token(textbridge: Textbridge) -> str:
    assert textbridge.runtime.sandbox is not None
    return textbridge.runtime.sandbox.plivo_auth_token


def test_sdk_v3_signature_verifies(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    params = _inbound_params()
    assert (
        _post(
            anonymous, "/webhooks/plivo/inbound", params, _sdk_v3_headers(token, url, params, NONCE)
        )
        == 200
    )


def test_v2_signature_is_refused_by_default(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    """V2 signs the URL and nonce only (see tests/webhooks/test_forgery.py for the opt-in)."""
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    headers = _v2_headers(token, url, NONCE)
    assert _post(anonymous, "/webhooks/plivo/inbound", _inbound_params(), headers) == 403


def test_any_change_is_refused(textbridge: Textbridge, anonymous: httpx.Client, token: str) -> None:
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    params = _inbound_params()
    headers = _sdk_v3_headers(token, url, params, NONCE)
    changed_value = {**params, "Text": params["Text"] + "!"}
    added = {**params, "Extra": "1"}
    assert _post(anonymous, "/webhooks/plivo/inbound", changed_value, headers) == 403
    assert _post(anonymous, "/webhooks/plivo/inbound", added, headers) == 403
    assert _post(anonymous, "/webhooks/plivo/status", params, headers) == 403
    assert _post(anonymous, "/webhooks/plivo/inbound?x=1", params, headers) == 403
    other_nonce = {**headers, "X-Plivo-Signature-V3-Nonce": NONCE[:-1] + "1"}
    assert _post(anonymous, "/webhooks/plivo/inbound", params, other_nonce) == 403
    other_token = _sdk_v3_headers("another-token", url, params, NONCE)
    assert _post(anonymous, "/webhooks/plivo/inbound", params, other_token) == 403
    v2 = _v2_headers(token, url, NONCE)
    assert _post(anonymous, "/webhooks/plivo/status", params, v2) == 403
    assert (
        textbridge.database.scalar("SELECT count(*) FROM webhook_journal WHERE state = 'refused'")
        == 7
    )
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


def _whatsapp_button_body() -> dict[str, object]:
    return {
        "From": CONTACT.lstrip("+"),
        "To": "14155550101",
        "Type": "whatsapp",
        "Body": "",
        "MessageUUID": str(uuid.uuid4()),
        "ContentType": "button",
        "Button": {"Payload": "YES", "Text": "Yes please"},
        "Context": {"MessageUUID": str(uuid.uuid4())},
        "Units": "1",
    }


def _post_json(client: httpx.Client, body: dict[str, object], headers: dict[str, str]) -> int:
    typed = {"content-type": "application/json", **headers}
    return client.post(
        "/webhooks/plivo/inbound", content=json.dumps(body), headers=typed
    ).status_code


def test_a_json_body_signed_by_the_sdk_verifies_nested_fields_and_all(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    body = _whatsapp_button_body()
    headers = _sdk_v3_headers(token, url, body, NONCE)  # type: ignore[arg-type]
    changed = {**body, "Button": {"Payload": "NO", "Text": "Yes please"}}

    assert _post_json(anonymous, changed, headers) == 403  # a nested field is signed too
    assert _post_json(anonymous, body, headers) == 200

    def replied() -> list[object] | None:
        rows = textbridge.database.rows("SELECT content_type FROM messages")
        return rows or None

    assert [tuple(row) for row in wait_until(replied, timeout=10)] == [("button",)]
