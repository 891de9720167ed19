"""Every response, whatever answered it (a page, the API, a webhook, a middleware's refusal,
static files, the docs, the simulator, an unexpected error), carries the security headers.
Over real HTTP, on both databases; the https cases also straight through ASGI."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from textbridge.secure_responses import (
    CONTENT_SECURITY_POLICY,
    DOCS_PATHS,
    HSTS,
    SecureResponses,
)

from ..support.textbridge import CONTACT, Textbridge

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
SECURITY_HEADERS = (*EXPECTED, "permissions-policy", "strict-transport-security")


def assert_secure(response: httpx.Response, https: bool = False) -> None:
    for name in SECURITY_HEADERS:
        assert len(response.headers.get_list(name)) <= 1, (name, response.headers)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    assert "camera=()" in response.headers["permissions-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers.get("strict-transport-security") == (HSTS if https else None)


def test_every_kind_of_response_carries_the_headers(textbridge: Textbridge) -> None:
    anonymous = httpx.Client(base_url=textbridge.url, timeout=10)
    api = textbridge.api
    answers = {
        "login page": anonymous.get("/login"),
        "redirect": anonymous.get("/"),
        "static file": anonymous.get("/static/inbox.css"),
        "script module": anonymous.get("/static/inbox/main.js"),
        "API 202": api.post("/api/v1/messages", json={"to": CONTACT, "text": "hi"}),
        "API 200": api.get("/api/v1/conversations"),
        "API 401": anonymous.get("/api/v1/conversations"),
        "API 404": api.get("/api/v1/no/such/route"),
        "API 422": api.post("/api/v1/messages", json={"to": 1}),
        "API 413": api.post("/api/v1/messages", content=b"x" * 2_000_000),
        "headers 431": anonymous.get("/healthz", headers={"x-big": "a" * 70_000}),
        "health": anonymous.get("/healthz"),
        "OpenAPI": anonymous.get("/openapi.json"),
        "webhook 403": anonymous.post("/webhooks/plivo/inbound", data={"a": "b"}),
        "webhook 404": anonymous.post("/webhooks/nobody/inbound"),
        "simulator": anonymous.get("/simulator/control/messages"),
    }
    for name, response in answers.items():
        assert response.status_code < 500, (name, response.text)
        assert_secure(response)
    assert answers["login page"].headers["cache-control"] == "no-store"
    # A module imported by a relative URL (no ?v=) is revalidated on every load.
    assert answers["script module"].headers["cache-control"] == "no-cache"
    assert "javascript" in answers["script module"].headers["content-type"]
    assert answers["API 413"].status_code == 413
    assert answers["headers 431"].status_code == 431


PAGE_PREFIXES_LEFT_OUT = ("/api/", "/webhooks/", "/simulator", "/static", "/media/", "/login/once")


def test_every_page_a_signed_in_user_sees_carries_the_headers(textbridge: Textbridge) -> None:
    """Every page of the route table (a GET outside the API, webhooks, simulator and files,
    with no path parameter), as a signed-in admin and as an agent (who is refused some)."""
    app = textbridge.server.app
    assert app is not None
    pages = sorted(
        {
            str(route.path)
            for route in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
            if "GET" in (route.methods or ())
            and "{" not in str(route.path)
            and not str(route.path).startswith(PAGE_PREFIXES_LEFT_OUT)
        }
    )
    assert {"/", "/campaigns", "/dashboard", "/audit", "/sessions", "/login"} <= set(pages)
    for role in ("admin", "agent"):
        with textbridge.sign_in(role, role) as browser:
            for page in pages:
                response = browser.get(page)
                assert response.status_code < 500, (role, page, response.text[:200])
                if page in DOCS_PATHS:  # their own policy (the CDN's scripts): the test below
                    policy = response.headers["content-security-policy"]
                    assert "frame-ancestors 'none'" in policy, page
                    assert response.headers["x-frame-options"] == "DENY", page
                    assert response.headers["referrer-policy"] == "same-origin", page
                else:
                    assert_secure(response)


def test_the_docs_page_allows_its_own_inline_script_only(textbridge: Textbridge) -> None:
    response = httpx.get(f"{textbridge.url}/docs", timeout=10)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    for script in re.findall(r"<script>(.*?)</script>", response.text, re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert response.headers["x-frame-options"] == "DENY"


def test_hsts_behind_a_trusted_proxy_that_says_https(textbridge: Textbridge) -> None:
    """uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (`--forwarded-allow-ips`' default),
    which is where the test client is."""
    forwarded = httpx.get(
        f"{textbridge.url}/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert_secure(forwarded, https=True)
    assert_secure(httpx.get(f"{textbridge.url}/healthz", timeout=10), https=False)


def _plain_app() -> SecureResponses:
    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("hello", headers={"X-Frame-Options": "SAMEORIGIN"})

    return SecureResponses(Starlette(routes=[Route("/", hello)]))


@pytest.mark.parametrize(
    ("base_url", "headers", "https"),
    [
        ("https://textbridge.example", {}, True),
        # Without a proxy that uvicorn trusts, the header is anyone's: no HSTS.
        ("http://textbridge.example", {"X-Forwarded-Proto": "https"}, False),
    ],
)
async def test_hsts_follows_the_scheme_never_the_header_alone(
    base_url: str, headers: dict[str, str], https: bool
) -> None:
    transport = httpx.ASGITransport(app=_plain_app())
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        response = await client.get("/", headers=headers)
    assert (response.headers.get("strict-transport-security") == HSTS) is https
    # A header the response set itself is kept, not doubled.
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
