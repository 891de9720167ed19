"""Tests for textbridge.providers.plivo.signature against providers.md vectors and the plivo SDK."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plivo.utils import validate_signature, validate_v3_signature
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

from textbridge.providers.plivo.signature import (
    sign_v2,
    sign_v3,
    signed_headers,
    v3_string_to_sign,
    verify,
)

TOKEN = "my_auth_token"
NONCE = "12345678901234567890"
INBOUND = "https://example.com/plivo/inbound"
STATUS = "https://example.com/plivo/status?Status=delivered&MessageUUID=abc"
SMS = [
    ("From", "14155550100"),
    ("To", "14155550199"),
    ("Text", "Hello"),
    ("Type", "sms"),
    ("MessageUUID", "abc"),
]

# (method, url, params) covering POST/GET with and without a query string in the URL.
CASES = [
    ("POST", INBOUND, SMS),
    ("POST", INBOUND, []),
    ("POST", INBOUND + "?b=2&a=1", SMS),
    ("POST", INBOUND + "?b=2&a=1", []),
    ("GET", INBOUND, SMS),
    ("GET", INBOUND, []),
    ("GET", STATUS, SMS),
    ("GET", STATUS, []),
]


def sdk_v3(method: str, url: str, params: list[tuple[str, str]], token: str = TOKEN) -> str:
    """Sign with the SDK's own helpers (the same path validate_v3_signature uses)."""
    if method == "GET":
        base = construct_get_url(url, dict(params))
    else:
        base = construct_post_url(url, dict(params))
    sig: bytes = get_signature_v3(token.encode(), base.decode(), NONCE.encode())
    return sig.decode()


def v3_headers(sig: str, nonce: str = NONCE) -> dict[str, str]:
    return {"X-Plivo-Signature-V3": sig, "X-Plivo-Signature-V3-Nonce": nonce}


def v2_headers(sig: str, nonce: str = NONCE) -> dict[str, str]:
    return {"X-Plivo-Signature-V2": sig, "X-Plivo-Signature-V2-Nonce": nonce}


# --- documented vectors (providers.md section 3) ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "params", "string", "signature"),
    [
        (
            "POST",
            INBOUND,
            SMS,
            INBOUND + "?From14155550100MessageUUIDabcTextHelloTo14155550199Typesms." + NONCE,
            "1B/WnpnHF/+OnQZLLGLw97mWLdY6grDq4bARokgbQ6I=",
        ),
        (
            "GET",
            STATUS,
            [],
            "https://example.com/plivo/status?MessageUUID=abc&Status=delivered." + NONCE,
            "zoxyNo0q702N0PU7kX69vz0+/jr2YgDPHQSBRJmiRmo=",
        ),
        (
            "POST",
            INBOUND,
            [],
            INBOUND + "." + NONCE,
            "FcR5cLq6yRRzLvR3C++HSTYtOP+6jm/lafJjuHcAgyE=",
        ),
    ],
)
def test_v3_vectors(
    method: str, url: str, params: list[tuple[str, str]], string: str, signature: str
) -> None:
    assert v3_string_to_sign(method, url, NONCE, params) == string
    assert sign_v3(TOKEN, method, url, NONCE, params) == signature
    assert verify(v3_headers(signature), method, url, params, [TOKEN])


def test_v2_vector() -> None:
    expected = "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc="
    assert sign_v2(TOKEN, "https://answer.url", "12345") == expected
    assert sign_v2(TOKEN, "https://answer.url?x=1", "12345") == expected
    headers = v2_headers(expected, "12345")
    assert verify(headers, "POST", "https://answer.url", [], [TOKEN], accept_v2=True)
    assert not verify(headers, "POST", "https://answer.url", [], [TOKEN]), "V2 is opt-in"


# --- cross-check with the SDK ----------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "params"), CASES)
def test_ours_validates_with_sdk(method: str, url: str, params: list[tuple[str, str]]) -> None:
    ours = sign_v3(TOKEN, method, url, NONCE, params)
    assert validate_v3_signature(method, url, NONCE, TOKEN, ours, dict(params))
    assert validate_signature(url, NONCE, sign_v2(TOKEN, url, NONCE), TOKEN)


@pytest.mark.parametrize(("method", "url", "params"), CASES)
def test_sdk_validates_with_ours(method: str, url: str, params: list[tuple[str, str]]) -> None:
    assert verify(v3_headers(sdk_v3(method, url, params)), method, url, params, [TOKEN])
    v2 = sign_v2(TOKEN, url, NONCE)
    assert validate_signature(url, NONCE, v2, TOKEN)
    assert verify(v2_headers(v2), method, url, params, [TOKEN], accept_v2=True)


def test_get_url_query_overrides_param_like_sdk() -> None:
    params = [("Status", "queued"), ("Extra", "1")]
    assert sign_v3(TOKEN, "GET", STATUS, NONCE, params) == sdk_v3("GET", STATUS, params)


def test_repeated_keys_sorted_like_sdk_lists() -> None:
    pairs = [("Media", "b"), ("Media", "a"), ("To", "1")]
    as_lists = {"Media": ["b", "a"], "To": "1"}
    for method in ("GET", "POST"):
        ours = sign_v3(TOKEN, method, INBOUND, NONCE, pairs)
        assert validate_v3_signature(method, INBOUND, NONCE, TOKEN, ours, dict(as_lists))
    assert sign_v3(TOKEN, "POST", INBOUND, NONCE, pairs[::-1]) == sign_v3(
        TOKEN, "POST", INBOUND, NONCE, pairs
    )


# --- header handling -------------------------------------------------------------------------


def test_comma_separated_signatures() -> None:
    good = sign_v3(TOKEN, "POST", INBOUND, NONCE, SMS)
    wrong = sign_v3("other_token", "POST", INBOUND, NONCE, SMS)
    assert verify(v3_headers(f"{wrong}, {good}"), "POST", INBOUND, SMS, [TOKEN])
    assert verify(v3_headers(f"{good},{wrong}"), "POST", INBOUND, SMS, [TOKEN])
    assert not verify(v3_headers(f"{wrong},{wrong}"), "POST", INBOUND, SMS, [TOKEN])


def test_ma_header_and_multiple_tokens() -> None:
    main = sign_v3("main_token", "POST", INBOUND, NONCE, SMS)
    headers = {
        "x-plivo-signature-v3": "bogus",
        "X-PLIVO-SIGNATURE-MA-V3": main,
        "x-plivo-signature-v3-nonce": NONCE,
    }
    assert verify(headers, "POST", INBOUND, SMS, [TOKEN, "main_token"])
    assert not verify(headers, "POST", INBOUND, SMS, [TOKEN])
    assert not verify(headers, "POST", INBOUND, SMS, [])


def test_signed_headers_roundtrip() -> None:
    headers = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    assert headers["X-Plivo-Signature-V3"] == "1B/WnpnHF/+OnQZLLGLw97mWLdY6grDq4bARokgbQ6I="
    assert headers["X-Plivo-Signature-V3-Nonce"] == NONCE
    assert headers["X-Plivo-Signature-V2-Nonce"] == NONCE
    assert verify(headers, "POST", INBOUND, SMS, [TOKEN])
    random_a = signed_headers(TOKEN, "GET", STATUS, [])
    random_b = signed_headers(TOKEN, "GET", STATUS, [])
    assert random_a["X-Plivo-Signature-V3-Nonce"] != random_b["X-Plivo-Signature-V3-Nonce"]
    assert verify(random_a, "GET", STATUS, [], [TOKEN])
    v2_only = {k: v for k, v in random_a.items() if "V2" in k}
    assert verify(v2_only, "GET", STATUS, [], [TOKEN], accept_v2=True)
    assert not verify(v2_only, "GET", STATUS, [], [TOKEN])


def test_v3_present_takes_precedence_over_v2() -> None:
    headers = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    headers["X-Plivo-Signature-V3"] = headers["X-Plivo-Signature-Ma-V3"] = "bogus"
    assert not verify(headers, "POST", INBOUND, SMS, [TOKEN])


# --- refusals --------------------------------------------------------------------------------


def _replaced(pairs: list[tuple[str, str]], i: int, value: str) -> list[tuple[str, str]]:
    """Copy of ``pairs`` with the i-th value replaced."""
    out = list(pairs)
    out[i] = (pairs[i][0], value)
    return out


def _changed_params() -> list[list[tuple[str, str]]]:
    appended = [_replaced(SMS, i, v + "x") for i, (_, v) in enumerate(SMS)]
    bit_flip = [_replaced(SMS, i, v[:-1] + chr(ord(v[-1]) ^ 1)) for i, (_, v) in enumerate(SMS)]
    return [*appended, *bit_flip, [*SMS, ("Extra", "")], SMS[1:]]


@pytest.mark.parametrize("params", _changed_params())
def test_changed_params_refused(params: list[tuple[str, str]]) -> None:
    headers = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    v3_only = {k: v for k, v in headers.items() if "V3" in k}
    assert not verify(v3_only, "POST", INBOUND, params, [TOKEN])


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/plivo/inbound2",
        "https://example.com/plivo/Inbound",
        "https://example.org/plivo/inbound",
        "https://example.com:8443/plivo/inbound",
        "http://example.com/plivo/inbound",
        "https://example.com/plivo/inbound?a=1",
    ],
)
def test_changed_url_refused(url: str) -> None:
    headers = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    assert not verify(headers, "POST", url, SMS, [TOKEN])


def test_changed_query_refused() -> None:
    headers = signed_headers(TOKEN, "GET", STATUS, [], nonce=NONCE)
    assert verify(headers, "GET", STATUS, [], [TOKEN])
    assert not verify(headers, "GET", STATUS.replace("delivered", "failed"), [], [TOKEN])
    assert not verify(headers, "GET", STATUS + "&x=1", [], [TOKEN])


def test_changed_nonce_refused() -> None:
    headers = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    headers["X-Plivo-Signature-V3-Nonce"] = NONCE[:-1] + "1"
    assert not verify(headers, "POST", INBOUND, SMS, [TOKEN])
    v2 = {k: v for k, v in signed_headers(TOKEN, "POST", INBOUND, SMS, NONCE).items() if "V2" in k}
    v2["X-Plivo-Signature-V2-Nonce"] = "x" + NONCE
    assert not verify(v2, "POST", INBOUND, SMS, [TOKEN])


@pytest.mark.parametrize(
    "keep",
    [
        (),
        ("X-Plivo-Signature-V3", "X-Plivo-Signature-Ma-V3"),
        ("X-Plivo-Signature-V3-Nonce", "X-Plivo-Signature-V2-Nonce"),
        ("X-Plivo-Signature-V3", "X-Plivo-Signature-V2-Nonce"),
        ("X-Plivo-Signature-V2", "X-Plivo-Signature-Ma-V2", "X-Plivo-Signature-V3-Nonce"),
    ],
)
def test_missing_headers_refused(keep: tuple[str, ...]) -> None:
    full = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    assert not verify({k: full[k] for k in keep}, "POST", INBOUND, SMS, [TOKEN])


def test_wrong_token_or_method_refused() -> None:
    headers = signed_headers(TOKEN, "POST", INBOUND, SMS, nonce=NONCE)
    assert not verify(headers, "POST", INBOUND, SMS, ["my_auth_tokeN"])
    assert not verify(headers, "POST", INBOUND, SMS, [""])
    assert not verify(headers, "GET", INBOUND, SMS, [TOKEN])
    assert not verify(headers, "PUT", INBOUND, SMS, [TOKEN])
    with pytest.raises(ValueError, match="GET and POST"):
        sign_v3(TOKEN, "PUT", INBOUND, NONCE, SMS)


# --- property test ---------------------------------------------------------------------------

printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(printable, printable, min_size=1, max_size=8), data=st.data())
def test_sdk_signed_post_verifies_and_single_flip_fails(
    params: dict[str, str], data: st.DataObject
) -> None:
    pairs = list(params.items())
    headers = v3_headers(sdk_v3("POST", INBOUND, pairs))
    assert verify(headers, "POST", INBOUND, pairs, [TOKEN])
    i = data.draw(st.integers(0, len(pairs) - 1), label="index")
    value = pairs[i][1]
    new_value = data.draw(printable.filter(lambda v: v != value), label="new value")
    flipped = _replaced(pairs, i, new_value)
    assert not verify(headers, "POST", INBOUND, flipped, [TOKEN])


# --- JSON bodies, signed as the SDK signs the object (nested objects included) -------------

JSON_BODIES = [
    {"From": "14155550199", "To": "14155550101", "Type": "whatsapp", "MessageUUID": "abc"},
    {"Button": {"Payload": "yes", "Text": "Yes"}, "Context": {"MessageUUID": "m1"}, "To": "1"},
    {"Units": 1, "Rate": 0.005, "Flag": True, "None": None, "List": ["b", "a", 3]},
    {"Outer": {"Inner": {"Deep": "x", "Number": 2}, "List": ["z"]}},
    {},
]


@pytest.mark.parametrize("body", JSON_BODIES)
def test_json_body_signed_like_the_sdk(body: dict[str, object]) -> None:
    for url in (INBOUND, INBOUND + "?ref=1"):
        sdk = get_signature_v3(TOKEN.encode(), construct_post_url(url, body).decode(), NONCE)
        assert sign_v3(TOKEN, "POST", url, NONCE, body) == sdk.decode()
        assert verify(v3_headers(sdk.decode()), "POST", url, body, [TOKEN])
        assert validate_v3_signature("POST", url, NONCE, TOKEN, sdk.decode(), dict(body))


def test_json_body_change_anywhere_is_refused() -> None:
    body = {"Button": {"Payload": "yes", "Text": "Yes"}, "To": "1"}
    signature = sign_v3(TOKEN, "POST", INBOUND, NONCE, body)
    changed = {"Button": {"Payload": "no", "Text": "Yes"}, "To": "1"}
    assert not verify(v3_headers(signature), "POST", INBOUND, changed, [TOKEN])
    query_only = sign_v3(TOKEN, "POST", INBOUND + "?To=1", NONCE, [])
    assert not verify(v3_headers(query_only), "POST", INBOUND + "?To=1", body, [TOKEN])


def test_json_body_the_sdk_cannot_sign_is_refused() -> None:
    unsortable = {"List": [{"a": 1}, {"b": 2}]}
    assert not verify(v3_headers("anything"), "POST", INBOUND, unsortable, [TOKEN])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4), json_values, max_size=4))
def test_any_json_object_signed_like_the_sdk(body: dict[str, object]) -> None:
    sdk = get_signature_v3(TOKEN.encode(), construct_post_url(INBOUND, body).decode(), NONCE)
    assert sign_v3(TOKEN, "POST", INBOUND, NONCE, body) == sdk.decode()


def test_long_nonce_is_refused() -> None:
    nonce = "1" * 65
    signature = sign_v3(TOKEN, "POST", INBOUND, nonce, SMS)
    assert not verify(v3_headers(signature, nonce), "POST", INBOUND, SMS, [TOKEN])
