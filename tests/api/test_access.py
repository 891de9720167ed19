"""Access control over HTTP, on both databases: every `/api/v1` route names one scope and
refuses a missing, wrong, revoked or under-scoped key; an agent reaches neither admin routes
nor admin pages; a write authorised by the inbox's cookie needs its CSRF token.

The route tests walk the app's own route table, so a route added later is covered without
being named here (and fails here if it names no scope)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts

from textbridge.api.deps import RequireScope
from textbridge.models.api_key import SCOPES

from ..support.textbridge import API_KEY, CONTACT, Textbridge

ADMIN = {"Authorization": f"Bearer {API_KEY}"}


def _scopes(dependant: Dependant) -> set[str]:
    found = set()
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RequireScope):
            found.add(dependency.call.scope)
        found |= _scopes(dependency)
    return found


def _api_routes(textbridge: Textbridge) -> list[RouteContext]:
    """Every route under /api/v1, as the app resolves included routers."""
    app = textbridge.server.app
    assert app is not None
    routes = [
        r
        for r in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
        if (r.path or "").startswith("/api/v1")
    ]
    assert len(routes) > 30, "the route table was not found"
    return routes


def _cases(route: RouteContext) -> Iterator[tuple[str, str]]:
    for method in sorted(route.methods):
        yield method, _concrete(route)


def _concrete(route: RouteContext) -> str:
    """The route's path with each parameter filled with a value of its type."""
    path = str(route.path)
    for param in route.dependant.path_params:
        kind = param.field_info.annotation
        value = str(uuid.uuid4()) if kind is uuid.UUID else "1" if kind is int else "x"
        path = path.replace("{" + param.name + "}", value).replace(
            "{" + param.name + ":path}", value
        )
    return path


def _status(client: httpx.Client, method: str, path: str, **headers: str) -> int:
    """The answer's status, without reading a body (an event stream never ends)."""
    request = client.build_request(method, path, headers=headers)
    response = client.send(request, stream=True)
    response.close()
    return response.status_code


def _key(textbridge: Textbridge, *scopes: str) -> str:
    created = textbridge.api.post("/api/v1/keys", json={"name": "probe", "scopes": list(scopes)})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def test_every_api_route_names_exactly_one_scope(textbridge: Textbridge) -> None:
    unscoped = {
        f"{sorted(r.methods)} {r.path}": sorted(_scopes(r.dependant))
        for r in _api_routes(textbridge)
        if len(_scopes(r.dependant)) != 1
    }
    assert unscoped == {}, "give each route one of ReadDep, SendDep, AdminDep (api/deps.py)"


def _revoked_key(textbridge: Textbridge) -> str:
    revoked = _key(textbridge, *SCOPES)
    listed = textbridge.api.get("/api/v1/keys").json()
    revoked_id = next(k["id"] for k in listed if revoked.startswith(k["prefix"]))
    assert textbridge.api.delete(f"/api/v1/keys/{revoked_id}").status_code == 204
    return revoked


def test_every_api_route_refuses_what_it_must(textbridge: Textbridge) -> None:
    revoked = _revoked_key(textbridge)
    without = {scope: _key(textbridge, *(s for s in SCOPES if s != scope)) for scope in SCOPES}
    refusals: dict[str, Any] = {}
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        for route in _api_routes(textbridge):
            (scope,) = _scopes(route.dependant)
            for method, path in _cases(route):
                seen = {
                    "missing": _status(client, method, path),
                    "wrong": _status(client, method, path, authorization="Bearer tb_wrong_key"),
                    "revoked": _status(client, method, path, authorization=f"Bearer {revoked}"),
                    "under-scoped": _status(
                        client, method, path, authorization=f"Bearer {without[scope]}"
                    ),
                    "granted": _status(client, method, path, **ADMIN),
                }
                expected = {"missing": 401, "wrong": 401, "revoked": 401, "under-scoped": 403}
                wrong = {k: v for k, v in seen.items() if expected.get(k, v) != v}
                if wrong or seen["granted"] in (401, 403):
                    refusals[f"{method} {route.path}"] = seen
    assert refusals == {}


def test_the_send_routes_own_lane_refuses_the_same_keys(textbridge: Textbridge) -> None:
    """`POST /api/v1/messages` with a bearer key and a JSON body that validates is answered by
    the route's own lane (`api/messages.py`), not FastAPI's dependencies: the walk above sends
    no body, so it is held to the same refusals here, with and without an Idempotency-Key, and
    nothing is stored."""
    keys = {
        "wrong": ("tb_wrong_key_0123456789abcdefghijklmnop", 401),
        "revoked": (_revoked_key(textbridge), 401),
        "under-scoped": (_key(textbridge, "read", "admin"), 403),
    }
    body = {"to": CONTACT, "text": "hello"}
    seen = {}
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        seen["missing"] = client.post("/api/v1/messages", json=body).status_code
        for name, (key, _) in keys.items():
            for idempotency in ({}, {"Idempotency-Key": f"lane-{name}"}):
                headers = {"Authorization": f"Bearer {key}", **idempotency}
                answer = client.post("/api/v1/messages", json=body, headers=headers)
                seen[f"{name} {sorted(idempotency)}"] = answer.status_code
    expected = {"missing": 401}
    for name, (_, status) in keys.items():
        expected |= {f"{name} []": status, f"{name} ['Idempotency-Key']": status}
    assert seen == expected
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == 0


UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def test_every_cookie_write_needs_the_csrf_token(textbridge: Textbridge) -> None:
    """Every unsafe `/api/v1` route, and every form the pages post to, refuses an admin's
    session cookie without the session's CSRF token (the route table, so a route added later
    is held to it too)."""
    writes = [
        (method, path)
        for route in _api_routes(textbridge)
        for method, path in _cases(route)
        if method in UNSAFE
    ]
    assert len(writes) > 20
    app = textbridge.server.app
    assert app is not None
    forms = [
        (method, _concrete(route))
        for route in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
        if not str(route.path).startswith(("/api/", "/webhooks/", "/simulator"))
        for method in sorted(route.methods or ())
        if method in UNSAFE
    ]
    assert {path for _, path in forms} >= {"/login", "/logout"}
    with textbridge.sign_in("root", "admin") as admin:
        admin.headers.pop("x-csrf-token")
        passed = {}
        for method, path in writes:
            answer = admin.request(method, path, json={})
            if answer.status_code != 403 or answer.json()["error"]["code"] != "csrf_failed":
                passed[f"{method} {path}"] = (answer.status_code, answer.text[:100])
        for method, path in forms:
            form = {"username": "root", "password": "not the password"}
            answer = admin.request(method, path, data=form)
            if answer.status_code != 403:
                passed[f"{method} {path}"] = (answer.status_code, answer.text[:100])
        assert passed == {}
        assert admin.get("/api/v1/conversations").status_code == 200  # still signed in


def test_an_agent_reaches_no_admin_route_or_page(textbridge: Textbridge) -> None:
    admin_routes = [r for r in _api_routes(textbridge) if _scopes(r.dependant) == {"admin"}]
    paths = {r.path for r in admin_routes}
    assert {"/api/v1/keys", "/api/v1/audit", "/api/v1/users", "/api/v1/journal"} <= paths
    with textbridge.sign_in("ada", "agent") as agent:
        reached = {
            f"{method} {route.path}": status
            for route in admin_routes
            for method, path in _cases(route)
            if (status := _status(agent, method, path)) != 403
        }
        assert reached == {}
        assert agent.get("/api/v1/conversations").status_code == 200
        page = agent.get("/audit")
        assert page.status_code == 403
        assert "audit-table" not in page.text
        assert 'data-testid="audit-link"' not in agent.get("/").text
    with textbridge.sign_in("root", "admin") as admin:
        assert admin.get("/audit").status_code == 200
        assert 'data-testid="audit-link"' in admin.get("/").text


def test_a_cookie_write_needs_the_csrf_token_and_our_origin(textbridge: Textbridge) -> None:
    with textbridge.sign_in("ada", "agent") as inbox:
        token = inbox.headers.pop("x-csrf-token")
        preview = {"json": {"text": "hi"}}
        assert inbox.post("/api/v1/messages/preview", **preview).status_code == 403
        forged = {"x-csrf-token": "forged"}
        assert inbox.post("/api/v1/messages/preview", headers=forged, **preview).status_code == 403
        elsewhere = {"x-csrf-token": token, "origin": "https://evil.example"}
        refused = inbox.post("/api/v1/messages/preview", headers=elsewhere, **preview)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
        good = {"x-csrf-token": token}
        assert inbox.post("/api/v1/messages/preview", headers=good, **preview).status_code == 200
        assert inbox.get("/api/v1/conversations").status_code == 200  # reads need no token


def test_the_sign_in_form_needs_its_csrf_token(textbridge: Textbridge) -> None:
    password = textbridge.add_user("ada", "agent")
    with httpx.Client(base_url=textbridge.url, timeout=10) as browser:
        browser.get("/login")  # the form's token cookie
        without = browser.post("/login", data={"username": "ada", "password": password})
        assert without.status_code == 403
        assert "security token" in without.text
        forged = {"username": "ada", "password": password, "csrf_token": "forged"}
        assert browser.post("/login", data=forged).status_code == 403
    assert textbridge.database.scalar("SELECT count(*) FROM web_sessions") == 0


@pytest.mark.parametrize("scope", SCOPES)
def test_a_key_made_by_an_admin_has_the_scopes_asked_for(
    textbridge: Textbridge, scope: str
) -> None:
    key = _key(textbridge, scope)
    listed = {k["prefix"]: k for k in textbridge.api.get("/api/v1/keys").json()}
    assert listed[key[:8]]["scopes"] == [scope]
    assert "key" not in listed[key[:8]], "a key is shown once, when created"
    with httpx.Client(base_url=textbridge.url, headers={"Authorization": f"Bearer {key}"}) as c:
        assert (c.get("/api/v1/keys").status_code == 200) == (scope == "admin")
        assert (c.get("/api/v1/conversations").status_code == 200) == (scope == "read")


ANALYTICS = ("messages", "delivery", "failures", "delivery-time", "cost", "inbound", "opt-outs",
             "campaigns")  # fmt: skip


def test_analytics_need_the_read_scope_and_the_dashboard_a_session(textbridge: Textbridge) -> None:
    routes = {
        str(r.path): _scopes(r.dependant)
        for r in _api_routes(textbridge)
        if str(r.path).startswith("/api/v1/analytics/")
    }
    assert routes == {f"/api/v1/analytics/{name}": {"read"} for name in ANALYTICS}
    send_only = _key(textbridge, "send")
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        for name in ANALYTICS:
            path = f"/api/v1/analytics/{name}"
            assert _status(client, "GET", path) == 401
            assert _status(client, "GET", path + "?format=csv") == 401
            assert _status(client, "GET", path, authorization=f"Bearer {send_only}") == 403
        assert client.get("/dashboard").status_code == 303  # to the sign-in page
    with textbridge.sign_in("ada", "agent") as agent:
        for name in ANALYTICS:
            assert agent.get(f"/api/v1/analytics/{name}").status_code == 200
        page = agent.get("/dashboard")
        assert page.status_code == 200
        assert 'data-testid="chart-messages"' in page.text
        assert 'data-testid="dashboard-link"' in agent.get("/").text
