"""Plivo webhook signatures (V3 and V2): signing and constant-time verification.

Algorithm source: the official SDK, plivo 4.63 ``plivo/utils/signature_v3.py`` (V3:
``construct_get_url``/``construct_post_url``/``get_signature_v3``) and
``plivo/utils/__init__.py`` (V2: ``validate_signature``); summarised with test vectors in
``/work/shared/reference/providers.md`` section 3. This module does not import the SDK.

Params are ``(key, value)`` pairs so repeated form keys are kept; sorting the pairs
reproduces the SDK's "sorted keys, then sorted values of a list" order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlparse, urlunparse

__all__ = [
    "json_signing_params",
    "sign_v2",
    "sign_v3",
    "signed_headers",
    "v3_string_to_sign",
    "verify",
]

V3_HEADER = "X-Plivo-Signature-V3"
MA_V3_HEADER = "X-Plivo-Signature-Ma-V3"
V3_NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"
V2_HEADER = "X-Plivo-Signature-V2"
MA_V2_HEADER = "X-Plivo-Signature-Ma-V2"
V2_NONCE_HEADER = "X-Plivo-Signature-V2-Nonce"

Params = Sequence[tuple[str, str]]


def _sdk_text(value: object) -> str:
    """A scalar as the SDK's ``string_format`` then ``str.format`` write it (``True``, ``1.5``)."""
    return value if isinstance(value, str) else str(value)


def _sorted_params_string(value: Mapping[str, object]) -> str:
    """The SDK's ``get_sorted_params_string`` for a nested object: keys sorted, each key then
    its value (an object recursively, a list as its sorted items)."""
    parts = []
    for key in sorted(value):
        item = value[key]
        if isinstance(item, Mapping):
            parts.append(key + _sorted_params_string(item))
        elif isinstance(item, list):
            parts.append("".join(key + text for text in sorted(_sdk_text(x) for x in item)))
        else:
            parts.append(key + _sdk_text(item))
    return "".join(parts)


def json_signing_params(body: Mapping[str, object]) -> list[tuple[str, str]]:
    """A JSON body as V3 params: pairs whose sorted ``key + value`` concatenation is the SDK's
    string for the body (plivo 4.63 ``signature_v3.get_sorted_params_string``), nested objects
    and lists included, so every field of the body is covered by the signature."""
    pairs: list[tuple[str, str]] = []
    for key, item in body.items():
        if isinstance(item, Mapping):
            pairs.append((key, _sorted_params_string(item)))
        elif isinstance(item, list):
            pairs.extend((key, _sdk_text(x)) for x in item)
        else:
            pairs.append((key, _sdk_text(item)))
    return pairs


def _hmac_b64(auth_token: str, message: str) -> str:
    digest = hmac.new(auth_token.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _split_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    """Return ``scheme://netloc/path`` (query, ``;params`` and fragment dropped) and query pairs."""
    parsed = urlparse(url)
    base = urlunparse((parsed.scheme, parsed.netloc, parsed.path, "", "", ""))
    return base, parse_qsl(parsed.query, keep_blank_values=True)


def _query_string(pairs: Params) -> str:
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _get_string(url: str, params: Params) -> str:
    base, query = _split_url(url)
    url_keys = {key for key, _ in query}
    # As in the SDK (dict.update), a key present in the URL query overrides the params.
    merged = [pair for pair in params if pair[0] not in url_keys] + query
    return f"{base}?{_query_string(merged)}" if merged else base


def _post_string(url: str, params: Params) -> str:
    if not params:
        return _get_string(url, ())
    base, query = _split_url(url)
    prefix = f"{base}?{_query_string(query)}." if query else f"{base}?"
    return prefix + "".join(key + value for key, value in sorted(params))


def v3_string_to_sign(method: str, url: str, nonce: str, params: Params) -> str:
    """The exact string HMAC'd for V3 (``ValueError`` for methods other than GET/POST)."""
    verb = method.upper()
    if verb == "GET":
        return f"{_get_string(url, params)}.{nonce}"
    if verb == "POST":
        return f"{_post_string(url, params)}.{nonce}"
    raise ValueError(f"Plivo signs only GET and POST callbacks, not {method!r}")


def sign_v3(auth_token: str, method: str, url: str, nonce: str, params: Params) -> str:
    """``base64(HMAC-SHA256(auth_token, v3_string_to_sign(...)))``."""
    return _hmac_b64(auth_token, v3_string_to_sign(method, url, nonce, params))


def sign_v2(auth_token: str, url: str, nonce: str) -> str:
    """``base64(HMAC-SHA256(auth_token, url_without_query + nonce))``."""
    return _hmac_b64(auth_token, _split_url(url)[0] + nonce)


def _new_nonce() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(20))


def signed_headers(
    auth_token: str, method: str, url: str, params: Params, nonce: str | None = None
) -> dict[str, str]:
    """All six signature headers Plivo sends, signed with one token (random nonce if None)."""
    nonce = _new_nonce() if nonce is None else nonce
    v3 = sign_v3(auth_token, method, url, nonce, params)
    v2 = sign_v2(auth_token, url, nonce)
    return {
        V3_HEADER: v3,
        MA_V3_HEADER: v3,
        V3_NONCE_HEADER: nonce,
        V2_HEADER: v2,
        MA_V2_HEADER: v2,
        V2_NONCE_HEADER: nonce,
    }


def _matches(expected: Sequence[str], header_values: Sequence[str]) -> bool:
    """Constant-time check of every comma-separated header entry against every expectation."""
    entries = [e.strip().encode() for value in header_values for e in value.split(",")]
    found = False
    for candidate in expected:
        for entry in entries:
            found |= hmac.compare_digest(candidate.encode(), entry)
    return found


def verify(
    headers: Mapping[str, str],
    method: str,
    url: str,
    params: Params,
    auth_tokens: Sequence[str],
) -> bool:
    """True when the V3 headers (or, if absent, the V2 headers) match any of ``auth_tokens``."""
    lowered = {key.lower(): value for key, value in headers.items()}
    tokens = [token for token in auth_tokens if token]
    if not tokens:
        return False
    v3_nonce = lowered.get(V3_NONCE_HEADER.lower())
    v3_sigs = [lowered.get(h.lower()) for h in (V3_HEADER, MA_V3_HEADER)]
    if v3_nonce is not None and any(s is not None for s in v3_sigs):
        if method.upper() not in ("GET", "POST"):
            return False
        expected = [sign_v3(t, method, url, v3_nonce, params) for t in tokens]
        return _matches(expected, [s for s in v3_sigs if s is not None])
    v2_nonce = lowered.get(V2_NONCE_HEADER.lower())
    v2_sigs = [lowered.get(h.lower()) for h in (V2_HEADER, MA_V2_HEADER)]
    if v2_nonce is not None and any(s is not None for s in v2_sigs):
        expected = [sign_v2(t, url, v2_nonce) for t in tokens]
        return _matches(expected, [s for s in v2_sigs if s is not None])
    return False
