"""Plivo webhook signatures (V3, and V2 when opted in): signing and constant-time verification.

Algorithm source: the official SDK, plivo 4.63 ``plivo/utils/signature_v3.py`` (V3:
``construct_get_url``/``construct_post_url``/``get_signature_v3``) and
``plivo/utils/__init__.py`` (V2: ``validate_signature``); summarised with test vectors in
``/work/shared/reference/providers.md`` section 3. This module does not import the SDK.

Params are ``(key, value)`` pairs so repeated form keys are kept; sorting the pairs
reproduces the SDK's "sorted keys, then sorted values of a list" order. A JSON body is signed
as the SDK signs the object it decodes to (``get_sorted_params_string``: nested objects as
``key`` + their own string, lists by sorted values, numbers and booleans as Python prints them).

V2 signs only the URL (no query) and the nonce, never the body: anyone who saw one V2-signed
callback could send any fields under it. It is accepted only when ``accept_v2`` is given
(``TEXTBRIDGE_PLIVO_ACCEPT_V2``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlparse, urlunparse

__all__ = [
    "nonce_of",
    "sign_v2",
    "sign_v3",
    "signed_headers",
    "v2_only",
    "v3_string_to_sign",
    "verify",
]

V3_HEADER = "X-Plivo-Signature-V3"
MA_V3_HEADER = "X-Plivo-Signature-Ma-V3"
V3_NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"
V2_HEADER = "X-Plivo-Signature-V2"
MA_V2_HEADER = "X-Plivo-Signature-Ma-V2"
V2_NONCE_HEADER = "X-Plivo-Signature-V2-Nonce"

MAX_NONCE_LENGTH = 64
"""Plivo's nonces are 20 digits; a longer one is refused (it is stored to stop replays)."""

Params = Sequence[tuple[str, str]]
SignedParams = Params | Mapping[str, Any]
"""Form or query pairs, or the object a JSON body decodes to."""


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


def _post_string(url: str, params: SignedParams) -> str:
    if not params:
        return _get_string(url, ())
    base, query = _split_url(url)
    prefix = f"{base}?{_query_string(query)}." if query else f"{base}?"
    if isinstance(params, Mapping):
        return prefix + _object_string(params)
    return prefix + "".join(key + value for key, value in sorted(params))


def _object_string(value: Mapping[str, Any]) -> str:
    """The SDK's ``get_sorted_params_string`` (``TypeError`` where the SDK cannot sort a list)."""
    parts = []
    for key in sorted(value):
        item = value[key]
        if isinstance(item, list):
            parts.append("".join(f"{key}{element}" for element in sorted(_sdk_format(item))))
        elif isinstance(item, dict):
            parts.append(key + _object_string(item))
        else:
            parts.append(f"{key}{_sdk_format(item)}")
    return "".join(parts)


def _sdk_format(value: Any) -> Any:
    """The SDK's ``string_format``: numbers and booleans as ``str()``, lists element-wise."""
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, list):
        return [_sdk_format(element) for element in value]
    return value


def v3_string_to_sign(method: str, url: str, nonce: str, params: SignedParams) -> str:
    """The exact string HMAC'd for V3 (``ValueError`` for methods other than GET/POST)."""
    verb = method.upper()
    if verb == "GET":
        if isinstance(params, Mapping):
            raise ValueError("a GET callback carries no JSON body")
        return f"{_get_string(url, params)}.{nonce}"
    if verb == "POST":
        return f"{_post_string(url, params)}.{nonce}"
    raise ValueError(f"Plivo signs only GET and POST callbacks, not {method!r}")


def sign_v3(auth_token: str, method: str, url: str, nonce: str, params: SignedParams) -> str:
    """``base64(HMAC-SHA256(auth_token, v3_string_to_sign(...)))``."""
    return _hmac_b64(auth_token, v3_string_to_sign(method, url, nonce, params))


def sign_v2(auth_token: str, url: str, nonce: str) -> str:
    """``base64(HMAC-SHA256(auth_token, url_without_query + nonce))``."""
    return _hmac_b64(auth_token, _split_url(url)[0] + nonce)


def _new_nonce() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(20))


def signed_headers(
    auth_token: str, method: str, url: str, params: SignedParams, nonce: str | None = None
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


def _v3(lowered: Mapping[str, str]) -> tuple[str, list[str]] | None:
    nonce = lowered.get(V3_NONCE_HEADER.lower())
    signatures = [lowered[h.lower()] for h in (V3_HEADER, MA_V3_HEADER) if h.lower() in lowered]
    return (nonce, signatures) if nonce is not None and signatures else None


def _v2(lowered: Mapping[str, str]) -> tuple[str, list[str]] | None:
    nonce = lowered.get(V2_NONCE_HEADER.lower())
    signatures = [lowered[h.lower()] for h in (V2_HEADER, MA_V2_HEADER) if h.lower() in lowered]
    return (nonce, signatures) if nonce is not None and signatures else None


def v2_only(headers: Mapping[str, str]) -> bool:
    """V2 signature headers and no V3 ones."""
    lowered = {key.lower(): value for key, value in headers.items()}
    return _v3(lowered) is None and _v2(lowered) is not None


def nonce_of(headers: Mapping[str, str], accept_v2: bool = False) -> str | None:
    """The nonce of the signature `verify` checks (V3's; V2's only when V2 is accepted)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    signed = _v3(lowered) or (_v2(lowered) if accept_v2 else None)
    return signed[0] if signed else None


def verify(
    headers: Mapping[str, str],
    method: str,
    url: str,
    params: SignedParams,
    auth_tokens: Sequence[str],
    accept_v2: bool = False,
) -> bool:
    """True when the V3 headers match any of ``auth_tokens``; without V3 headers, the V2
    headers only if ``accept_v2``. Never raises for anything a request can contain."""
    lowered = {key.lower(): value for key, value in headers.items()}
    tokens = [token for token in auth_tokens if token]
    if not tokens:
        return False
    v3 = _v3(lowered)
    if v3 is not None:
        nonce, signatures = v3
        if method.upper() not in ("GET", "POST") or len(nonce) > MAX_NONCE_LENGTH:
            return False
        try:
            expected = [sign_v3(t, method, url, nonce, params) for t in tokens]
        except (TypeError, ValueError):  # a JSON body the SDK could not sign either
            return False
        return _matches(expected, signatures)
    v2 = _v2(lowered) if accept_v2 else None
    if v2 is not None and len(v2[0]) <= MAX_NONCE_LENGTH:
        nonce, signatures = v2
        return _matches([sign_v2(t, url, nonce) for t in tokens], signatures)
    return False
