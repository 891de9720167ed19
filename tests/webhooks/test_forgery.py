"""Forgery and replay, through the running app over HTTP, on both databases, with signatures
made by the official plivo SDK (Vonage's JWT as Vonage makes it: PyJWT, HS256).

None of the forged, replayed or unsigned webhooks below is applied."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge, running_textbridge

NONCE = "12345678901234567890"
PLIVO_WHATSAPP = "+14155550101"
VONAGE_NUMBER = "+14155550102"


# --- Plivo ---------------------------------------------------------------------------------


def _sms(text: str = "hello") -> dict[str, str]:
    return {
        "From": CONTACT.lstrip("+"),
        "To": SANDBOX_NUMBER.lstrip("+"),
        "Type": "sms",
        "Text": text,
        "MessageUUID": str(uuid.uuid4()),
    }


def _v3(token: str, url: str, params: dict[str, Any], nonce: str = NONCE) -> dict[str, str]:
    signature = get_signature_v3(token, construct_post_url(url, params), nonce).decode()
    return {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}


def _v2(token: str, url: str, nonce: str = NONCE) -> dict[str, str]:
    digest = hmac.new(token.encode(), (url + nonce).encode(), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode()
    return {"X-Plivo-Signature-V2": signature, "X-Plivo-Signature-V2-Nonce": nonce}


def _form(client: httpx.Client, path: str, params: dict[str, str], headers: dict[str, str]) -> int:
    form = {"content-type": "application/x-www-form-urlencoded", **headers}
    return client.post(path, content=urlencode(params), headers=form).status_code


@pytest.fixture
def anonymous(textbridge: Textbridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        yield client


@pytest.fixture
def token(textbridge: Textbridge) -> str:
    assert textbridge.runtime.sandbox is not None
    return textbridge.runtime.sandbox.plivo_auth_token


def _texts(textbridge: Textbridge) -> list[str]:
    return sorted(text for (text,) in textbridge.database.rows("SELECT body FROM messages"))


def _applied(textbridge: Textbridge) -> None:
    pending = "SELECT count(*) FROM webhook_journal WHERE state = 'pending'"
    wait_until(lambda: textbridge.database.scalar(pending) == 0, timeout=30)


def test_v2_only_is_refused_by_default(
    textbridge: Textbridge, anonymous: httpx.Client, token: str, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    assert _form(anonymous, "/webhooks/plivo/inbound", _sms(), _v2(token, url)) == 403
    assert "TEXTBRIDGE_PLIVO_ACCEPT_V2" in capfd.readouterr().out, "the operator is told why"
    _applied(textbridge)
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0
    states = textbridge.database.rows("SELECT state FROM webhook_journal")
    assert [state for (state,) in states] == ["refused"]


def test_v2_with_the_opt_in_is_accepted_once_per_nonce(
    database: Database, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with (
        running_textbridge(database, tmp_path, plivo_accept_v2=True) as textbridge,
        httpx.Client(base_url=textbridge.url, timeout=10) as client,
    ):
        assert textbridge.runtime.sandbox is not None
        token = textbridge.runtime.sandbox.plivo_auth_token
        url = f"{textbridge.url}/webhooks/plivo/inbound"
        signed = _v2(token, url)
        assert _form(client, "/webhooks/plivo/inbound", _sms("genuine"), signed) == 200
        # V2 does not sign the body: the same headers over other fields are a forgery, and
        # only the nonce, already used, stops it.
        assert _form(client, "/webhooks/plivo/inbound", _sms("forged"), signed) == 403
        _applied(textbridge)
        assert _texts(textbridge) == ["genuine"]
    assert "TEXTBRIDGE_PLIVO_ACCEPT_V2" in capfd.readouterr().out


def test_replayed_v3_nonce_is_refused_and_never_applied(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    first = _sms("first")
    headers = _v3(token, url, first)
    assert _form(anonymous, "/webhooks/plivo/inbound", first, headers) == 200
    _applied(textbridge)

    # The very same request again (a redelivery): answered 200, stored once.
    assert _form(anonymous, "/webhooks/plivo/inbound", first, headers) == 200
    # Another request under the used nonce, even correctly signed: refused.
    other = _sms("second")
    assert _form(anonymous, "/webhooks/plivo/inbound", other, _v3(token, url, other)) == 403
    # The journal row forgotten (retention), the request replayed: still not applied again.
    textbridge.database.rows("DELETE FROM webhook_journal")
    textbridge.database.rows("DELETE FROM messages")
    assert _form(anonymous, "/webhooks/plivo/inbound", first, headers) == 200
    assert textbridge.database.scalar("SELECT count(*) FROM webhook_journal") == 0

    fresh = _v3(token, url, other, nonce="98765432109876543210")
    assert _form(anonymous, "/webhooks/plivo/inbound", other, fresh) == 200
    _applied(textbridge)
    assert _texts(textbridge) == ["second"]


def test_signature_headers_are_redacted_in_the_journal(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    url = f"{textbridge.url}/webhooks/plivo/inbound"
    params = _sms()
    headers = {**_v3(token, url, params), **_v2(token, url), "X-Plivo-Signature-Ma-V3": "x"}
    assert _form(anonymous, "/webhooks/plivo/inbound", params, headers) == 200
    (stored,) = textbridge.database.rows("SELECT headers FROM webhook_journal")
    journaled = stored[0] if isinstance(stored[0], dict) else json.loads(stored[0])
    signatures = {k: v for k, v in journaled.items() if k.lower().startswith("x-plivo-sig")}
    assert len(signatures) == 5
    assert set(signatures.values()) == {"[redacted]"}


def _whatsapp_button(text: str) -> dict[str, Any]:
    return {
        "From": CONTACT.lstrip("+"),
        "To": PLIVO_WHATSAPP.lstrip("+"),
        "Type": "whatsapp",
        "ContentType": "button",
        "MessageUUID": str(uuid.uuid4()),
        "Button": {"Text": text, "Payload": "yes"},
    }


def _json(client: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    content = json.dumps(body).encode()
    json_headers = {"content-type": "application/json", **headers}
    return client.post(path, content=content, headers=json_headers).status_code


def test_json_body_must_be_under_the_signature(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    path = "/webhooks/plivo/inbound"
    url = f"{textbridge.url}{path}"
    signed = _whatsapp_button("signed")
    assert _json(anonymous, path, signed, _v3(token, url, signed)) == 200

    # A signature over the URL's query only, with the fields in an unsigned JSON body.
    forged = _whatsapp_button("forged")
    query = urlencode({"ref": "x"})
    query_only = _v3(token, f"{url}?{query}", {}, nonce="11111111111111111111")
    assert _json(anonymous, f"{path}?{query}", forged, query_only) == 403
    # A body changed in a nested field under the signature of the original.
    nested = {**signed, "Button": {"Text": "signed", "Payload": "no"}}
    other_nonce = _v3(token, url, signed, nonce="22222222222222222222")
    assert _json(anonymous, path, nested, other_nonce) == 403
    _applied(textbridge)
    assert _texts(textbridge) == ["signed"]


def test_a_get_body_is_never_read(
    textbridge: Textbridge, anonymous: httpx.Client, token: str
) -> None:
    path = "/webhooks/plivo/inbound"
    params = _sms("from the signed query")
    url = f"{textbridge.url}{path}?{urlencode(params)}"
    signature = get_signature_v3(token, construct_get_url(url, {}), NONCE).decode()
    headers = {
        "X-Plivo-Signature-V3": signature,
        "X-Plivo-Signature-V3-Nonce": NONCE,
        "content-type": "application/json",
    }
    body = json.dumps({**params, "Text": "from the unsigned body"})
    response = anonymous.request("GET", url, content=body, headers=headers)
    assert response.status_code == 200
    _applied(textbridge)
    assert _texts(textbridge) == ["from the signed query"]


# --- Vonage --------------------------------------------------------------------------------


def _vonage_body(text: str = "hello", message_uuid: str | None = None) -> bytes:
    return json.dumps(
        {
            "channel": "sms",
            "message_uuid": message_uuid or str(uuid.uuid4()),
            "to": VONAGE_NUMBER.lstrip("+"),
            "from": CONTACT.lstrip("+"),
            "timestamp": "2026-11-26T10:00:00Z",
            "message_type": "text",
            "text": text,
        }
    ).encode()


def _vonage_token(secret: str, body: bytes, api_key: str = "a1b2c3d4") -> str:
    claims = {
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": api_key,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _deliver(client: httpx.Client, body: bytes, authorization: str | None) -> int:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    return client.post("/webhooks/vonage/inbound", content=body, headers=headers).status_code


def test_unsigned_vonage_is_kept_unverified_and_applied_only_when_replayed(
    textbridge: Textbridge, anonymous: httpx.Client
) -> None:
    body = _vonage_body("sent while Vonage had an internal error")
    assert _deliver(anonymous, body, None) == 202
    assert textbridge.database.scalar("SELECT state FROM webhook_journal") == "unverified"
    ready = textbridge.api.get("/readyz").json()
    assert ready["journal"]["unverified"] == 1
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0

    # An admin's replay sets it back to pending; the applier then applies it.
    textbridge.database.rows("UPDATE webhook_journal SET state = 'pending'")
    _applied(textbridge)
    assert _texts(textbridge) == ["sent while Vonage had an internal error"]
    assert textbridge.api.get("/readyz").json()["journal"]["unverified"] == 0


def test_an_unreadable_unsigned_vonage_is_unverified_not_invalid(
    textbridge: Textbridge, anonymous: httpx.Client
) -> None:
    """`invalid` means verified but unreadable: replaying those (after a parser fix) must
    never apply an unsigned request."""
    assert _deliver(anonymous, b'{"message_type": "hologram"}', None) == 400
    assert _deliver(anonymous, b"not json", None) == 400
    states = textbridge.database.rows("SELECT state FROM webhook_journal")
    assert [state for (state,) in states] == ["unverified"] * 2


def test_an_unsigned_copy_never_shadows_the_signed_delivery(
    textbridge: Textbridge, anonymous: httpx.Client
) -> None:
    assert textbridge.runtime.sandbox is not None
    secret = textbridge.runtime.sandbox.vonage_signature_secret
    body = _vonage_body("the real one")
    assert _deliver(anonymous, body, None) == 202
    assert _deliver(anonymous, body, f"Bearer {_vonage_token(secret, body)}") == 200
    _applied(textbridge)
    assert _texts(textbridge) == ["the real one"]


def test_a_bad_vonage_signature_is_still_refused(
    textbridge: Textbridge, anonymous: httpx.Client
) -> None:
    body = _vonage_body()
    forged = _vonage_token("not-the-secret-at-all-0123456789abc", body)
    assert _deliver(anonymous, body, f"Bearer {forged}") == 401
    assert _deliver(anonymous, body, "Bearer not-a-token") == 401
    assert _deliver(anonymous, body, "Basic dXNlcjpwYXNz") == 401
    assert _deliver(anonymous, body, "") == 401
    states = textbridge.database.rows("SELECT state FROM webhook_journal")
    assert [state for (state,) in states] == ["refused"] * 4
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


MAIN_SECRET = "main-account-signature-secret-0123456789"
SUB_SECRET = "sub-account-signature-secret-0123456789ab"


def _private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


@pytest.fixture
def vonage_accounts(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    """A real (not sandbox) Vonage configuration: a main account and a sub-account, each
    with its own signature secret, chosen by the token's `api_key`."""
    with running_textbridge(
        database,
        tmp_path,
        vonage_application_id=str(uuid.uuid4()),
        vonage_private_key_content=_private_pem(),
        vonage_signature_secret=MAIN_SECRET,
        vonage_signature_secrets=f"main1234:{MAIN_SECRET}, sub56789:{SUB_SECRET}",
        vonage_number=VONAGE_NUMBER,
    ) as textbridge:
        yield textbridge


def test_vonage_secret_chosen_by_api_key(vonage_accounts: Textbridge) -> None:
    textbridge = vonage_accounts
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        main, sub, other = (_vonage_body(text) for text in ("main", "sub", "other"))
        assert (
            _deliver(client, main, f"Bearer {_vonage_token(MAIN_SECRET, main, 'main1234')}") == 200
        )
        assert _deliver(client, sub, f"Bearer {_vonage_token(SUB_SECRET, sub, 'sub56789')}") == 200
        # The default secret for an api_key not listed.
        assert _deliver(client, other, f"Bearer {_vonage_token(MAIN_SECRET, other, 'x')}") == 200
        # A sub-account's token signed with the main secret: refused.
        crossed = _vonage_body("crossed")
        wrong = _vonage_token(MAIN_SECRET, crossed, "sub56789")
        assert _deliver(client, crossed, f"Bearer {wrong}") == 401
        _applied(textbridge)
    assert _texts(textbridge) == ["main", "other", "sub"]
