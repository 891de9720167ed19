"""Signed webhooks: what Vonage (or the SDK, or plain PyJWT) signs verifies; nothing else does."""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.warnings import InsecureKeyLengthWarning
from starlette.datastructures import Headers
from vonage_jwt import verify_signature

from textbridge.providers.vonage.signature import (
    WebhookVerifier,
    bearer_token,
    payload_hash,
    sign_webhook,
    verify,
)

from .support import NOW, SIGNATURE_SECRET, FakeClock

BODY = (
    b'{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","to":"14155550199",'
    b'"from":"14155550100","timestamp":"2026-11-26T10:00:04Z","status":"delivered","channel":"sms"}'
)


def vonage_claims(body: bytes = BODY, **changes: Any) -> dict[str, Any]:
    """The claims Vonage puts in a signed webhook (Nexmo/station signed-webhooks.md)."""
    claims = {
        "iat": int(NOW),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "a1b2c3d4",
        "application_id": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hs256(claims: dict[str, Any], secret: str = SIGNATURE_SECRET) -> dict[str, str]:
    return header(jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"}))


@pytest.fixture
def verifier(clock: FakeClock) -> WebhookVerifier:
    return WebhookVerifier(SIGNATURE_SECRET, max_age=300, clock=clock)


# --- accepted --------------------------------------------------------------------------------


def test_documented_payload_hash_vector() -> None:
    body = b'{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","status":"delivered"}'
    expected = "d5ecbc7ab77b376b2cf635a6869d4dbb15322175f95b5c19260a27f6217e4eff"
    assert payload_hash(body) == expected


def test_a_token_signed_like_vonage_verifies(verifier: WebhookVerifier) -> None:
    assert verifier.verify(hs256(vonage_claims()), BODY)


def test_our_signature_verifies_here_and_in_the_sdk(verifier: WebhookVerifier) -> None:
    headers = sign_webhook(SIGNATURE_SECRET, BODY, iat=int(NOW), application_id="app-1")
    assert set(headers) == {"Authorization"}
    assert verifier.verify(headers, BODY)
    token = bearer_token(headers)
    assert token is not None
    assert verify_signature(token, SIGNATURE_SECRET)
    assert not verify_signature(token, SIGNATURE_SECRET + "x")
    claims = jwt.decode(token, SIGNATURE_SECRET, algorithms=["HS256"])
    assert set(claims) == {"iat", "jti", "iss", "payload_hash", "api_key", "application_id"}
    assert claims["iss"] == "Vonage"
    assert claims["payload_hash"] == payload_hash(BODY)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_sign_webhook_defaults_to_now() -> None:
    headers = sign_webhook(SIGNATURE_SECRET, BODY)
    assert verify(headers, BODY, SIGNATURE_SECRET)
    assert "application_id" not in jwt.decode(
        headers["Authorization"][7:], SIGNATURE_SECRET, algorithms=["HS256"]
    )


@pytest.mark.parametrize("age", [-300, -1, 0, 1, 299, 300])
def test_iat_within_the_window(verifier: WebhookVerifier, age: int) -> None:
    assert verifier.verify(hs256(vonage_claims(iat=int(NOW) - age)), BODY)


def test_without_iss_or_application_id(verifier: WebhookVerifier) -> None:
    assert verifier.verify(hs256(vonage_claims(iss=None, application_id=None)), BODY)


def test_exp_and_nbf_are_honoured_against_our_clock(verifier: WebhookVerifier) -> None:
    claims = vonage_claims(exp=int(NOW) + 60, nbf=int(NOW) - 60)
    assert verifier.verify(hs256(claims), BODY)


@pytest.mark.parametrize(
    "headers",
    [
        lambda token: {"authorization": f"Bearer {token}"},
        lambda token: {"AUTHORIZATION": f"bearer  {token} "},
        lambda token: Headers({"authorization": f"Bearer {token}"}),
    ],
    ids=["lower", "upper-and-spaces", "starlette"],
)
def test_header_spellings(verifier: WebhookVerifier, headers: Any) -> None:
    token = sign_webhook(SIGNATURE_SECRET, BODY, iat=int(NOW))["Authorization"][7:]
    assert verifier.verify(headers(token), BODY)


def test_a_short_secret_still_works_without_warnings(clock: FakeClock) -> None:
    short = "tiny"
    headers = sign_webhook(short, BODY, iat=int(NOW))
    assert WebhookVerifier(short, clock=clock).verify(headers, BODY)
    assert not WebhookVerifier("tinx", clock=clock).verify(headers, BODY)


# --- refused ---------------------------------------------------------------------------------


def test_tampered_body(verifier: WebhookVerifier) -> None:
    headers = hs256(vonage_claims())
    assert not verifier.verify(headers, BODY.replace(b"delivered", b"deliverer"))
    assert not verifier.verify(headers, BODY + b" ")
    assert not verifier.verify(headers, b"")


def test_wrong_secret(verifier: WebhookVerifier) -> None:
    assert not verifier.verify(hs256(vonage_claims(), "another-secret-of-decent-length-000"), BODY)


@pytest.mark.parametrize("age", [301, 3600, -301, -86400])
def test_stale_or_future_iat(verifier: WebhookVerifier, age: int) -> None:
    assert not verifier.verify(hs256(vonage_claims(iat=int(NOW) - age)), BODY)


def test_window_follows_max_age(clock: FakeClock) -> None:
    headers = hs256(vonage_claims(iat=int(NOW) - 60))
    assert not WebhookVerifier(SIGNATURE_SECRET, max_age=30, clock=clock).verify(headers, BODY)
    assert WebhookVerifier(SIGNATURE_SECRET, max_age=90, clock=clock).verify(headers, BODY)


def test_the_clock_moves_on(verifier: WebhookVerifier, clock: FakeClock) -> None:
    headers = hs256(vonage_claims())
    assert verifier.verify(headers, BODY)
    clock.now += 301
    assert not verifier.verify(headers, BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YTpi"},
        {"X-Authorization": "Bearer abc"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer ####"},
        {"Authorization": "Bearer é.é.é"},
    ],
)
def test_missing_or_malformed_header(verifier: WebhookVerifier, headers: dict[str, str]) -> None:
    assert not verifier.verify(headers, BODY)


def test_alg_none(verifier: WebhookVerifier) -> None:
    token = jwt.encode(vonage_claims(), "", algorithm="none")
    assert not verifier.verify(header(token), BODY)
    unsigned = token.rsplit(".", 1)[0] + "."
    assert not verifier.verify(header(unsigned), BODY)


def test_rs256(verifier: WebhookVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(vonage_claims(), rsa_key, algorithm="RS256")
    assert not verifier.verify(header(token), BODY)


def test_hs512_with_the_right_secret(verifier: WebhookVerifier) -> None:
    with warnings.catch_warnings():  # our test secret is short for HS512; irrelevant here
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = jwt.encode(vonage_claims(), SIGNATURE_SECRET, algorithm="HS512")
    assert not verifier.verify(header(token), BODY)


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "Mallory"},
        {"iss": ""},
        {"payload_hash": None},
        {"payload_hash": hashlib.sha256(BODY).hexdigest().upper()},
        {"payload_hash": hashlib.sha256(BODY).digest().hex()[:-1]},
        {"payload_hash": 123},
        {"iat": None},
        {"iat": "1790000000"},
        {"iat": True},
        {"exp": int(NOW) - 10},
        {"nbf": int(NOW) + 600},
    ],
    ids=lambda c: "-".join(f"{k}={v!r}"[:24] for k, v in c.items()),
)
def test_bad_claims(verifier: WebhookVerifier, changes: dict[str, Any]) -> None:
    claims = vonage_claims()
    for key, value in changes.items():
        if value is None:
            claims.pop(key)
        else:
            claims[key] = value
    assert not verifier.verify(hs256(claims), BODY)


def test_no_secret_refuses_everything(clock: FakeClock) -> None:
    headers = hs256(vonage_claims())
    assert not WebhookVerifier(None, clock=clock).verify(headers, BODY)
    assert not WebhookVerifier("", clock=clock).verify(headers, BODY)
    assert not verify(headers, BODY, None)


def test_token_for_one_body_does_not_verify_another(verifier: WebhookVerifier) -> None:
    other = json.dumps({"message_uuid": "x", "status": "read"}).encode()
    assert not verifier.verify(hs256(vonage_claims(other)), BODY)
    assert verifier.verify(hs256(vonage_claims(other)), other)


@settings(max_examples=150, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), data=st.data())
def test_any_single_byte_change_is_refused(body: bytes, data: st.DataObject) -> None:
    verifier = WebhookVerifier(SIGNATURE_SECRET, clock=FakeClock())
    headers = sign_webhook(SIGNATURE_SECRET, body, iat=int(NOW))
    assert verifier.verify(headers, body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert not verifier.verify(headers, changed)


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=300))
def test_never_raises(value: str) -> None:
    verifier = WebhookVerifier(SIGNATURE_SECRET, clock=FakeClock())
    assert verifier.verify({"Authorization": value}, BODY) is False
    assert verifier.verify({"Authorization": f"Bearer {value}"}, BODY) is False


# --- a secret per account, chosen by the token's api_key -------------------------------------

SUB_SECRET = "sub-account-signature-secret-0123456789ab"


def test_secret_chosen_by_api_key(clock: FakeClock) -> None:
    by_key = {"sub56789": SUB_SECRET}
    verifier = WebhookVerifier(SIGNATURE_SECRET, clock=clock, secrets_by_api_key=by_key)
    sub = vonage_claims(api_key="sub56789")
    assert verifier.verify(hs256(sub, SUB_SECRET), BODY)
    assert not verifier.verify(hs256(sub, SIGNATURE_SECRET), BODY), "only the key's own secret"
    assert verifier.verify(hs256(vonage_claims()), BODY), "other keys: the default secret"
    assert not verifier.verify(hs256(vonage_claims(), SUB_SECRET), BODY)
    without_default = WebhookVerifier(None, clock=clock, secrets_by_api_key=by_key)
    assert without_default.verify(hs256(sub, SUB_SECRET), BODY)
    assert not without_default.verify(hs256(vonage_claims()), BODY)
    none_alg = jwt.encode(sub, key=None, algorithm="none")  # type: ignore[arg-type]
    assert not verifier.verify(header(none_alg), BODY)
