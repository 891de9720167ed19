"""`textbridge providers configure`: set the providers up through their APIs, as their guides
have one do in the dashboards.

- Plivo: the application our numbers use sends inbound messages to our `message_url` with
  POST, and each of our numbers is linked to it. The application is the one our numbers are
  already linked to when they agree on one (so whatever else it does, such as voice, stays),
  else the one named `textbridge`, else a new one by that name.
- Vonage: the application `VONAGE_APPLICATION_ID` sends Messages webhooks (v1) to our
  `inbound_url` and `status_url`, and each of our numbers is linked to it. Vonage signs
  Messages webhooks always (there is no switch for them in its Application API).

`plan` reads the accounts and returns the changes, each with what it is now and what it will
be; nothing is changed until `apply`. A second run plans nothing: every change is a target
state, not a step. `problems` are what cannot be fixed here (a number not on the account).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from textbridge.config import Settings
from textbridge.operate import targets
from textbridge.providers.plivo.account import PlivoAccountApi, app_id_of
from textbridge.providers.vonage.account import (
    VonageAccountApi,
    messages_version,
    messages_webhooks,
)


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    before: str | None
    after: str


@dataclass(frozen=True, slots=True)
class Change:
    provider: str
    target: str
    fields: tuple[FieldChange, ...]
    apply: Callable[[], Awaitable[None]] = field(repr=False, compare=False)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def plan(settings: Settings, client: httpx.AsyncClient) -> Plan:
    """What configuring would change, provider by provider (nothing is changed here)."""
    result = Plan()
    plivo = targets.plivo_api(settings, client)
    if plivo is not None:
        await _plan_plivo(settings, plivo, result)
    if settings.vonage_configured:
        await _plan_vonage(settings, targets.vonage_api(settings, client), result)
    if settings.sandbox:
        result.problems.append("sandbox mode: no provider credentials, nothing to configure")
    return result


async def apply(changes: list[Change]) -> None:
    """Make the changes, in order (an application is made before numbers are linked to it)."""
    for change in changes:
        await change.apply()


# Plivo ------------------------------------------------------------------------------------


@dataclass
class _PlivoApp:
    """The application configure works on; `app_id` is None until a planned one is made."""

    app_id: str | None
    name: str
    found: dict[str, Any] | None


async def _plan_plivo(settings: Settings, api: PlivoAccountApi, result: Plan) -> None:
    numbers = targets.plivo_numbers(settings)
    if not numbers:
        result.problems.append("Plivo: no number configured (PLIVO_SMS_FROM_NUMBER, ...)")
        return
    owned: dict[str, dict[str, Any]] = {}
    for number in numbers:
        found = await api.number(number.number)
        if found is None:
            result.problems.append(f"Plivo: {number.shown} is not a number of the account")
        else:
            owned[number.number] = found
    app = await _plivo_app(api, owned)
    wanted_url, method = targets.plivo_message_url(settings), targets.PLIVO_MESSAGE_METHOD
    if app.found is None:
        result.changes.append(_create_plivo_app(api, app, wanted_url, method))
    elif (app.found.get("message_url") or None, app.found.get("message_method")) != (
        wanted_url,
        method,
    ):
        result.changes.append(_update_plivo_app(api, app, wanted_url, method))
    for digits, found in owned.items():
        if app_id_of(found) != app.app_id or app.app_id is None:
            result.changes.append(_link_plivo_number(api, app, digits, app_id_of(found)))


async def _plivo_app(api: PlivoAccountApi, owned: dict[str, dict[str, Any]]) -> _PlivoApp:
    linked = {app_id_of(found) for found in owned.values()}
    if len(linked) == 1 and (app_id := linked.pop()) is not None:
        application = await api.application(app_id)
        if application is not None:
            return _PlivoApp(app_id, str(application.get("app_name")), application)
    named = await api.applications_named(targets.PLIVO_APP_NAME)
    if named:
        return _PlivoApp(str(named[0]["app_id"]), targets.PLIVO_APP_NAME, named[0])
    return _PlivoApp(None, targets.PLIVO_APP_NAME, None)


def _create_plivo_app(api: PlivoAccountApi, app: _PlivoApp, url: str, method: str) -> Change:
    async def create() -> None:
        app.app_id = await api.create_application(app.name, url, method)

    fields = (FieldChange("message_url", None, url), FieldChange("message_method", None, method))
    return Change("plivo", f"new application {app.name}", fields, create)


def _update_plivo_app(api: PlivoAccountApi, app: _PlivoApp, url: str, method: str) -> Change:
    assert app.found is not None
    assert app.app_id is not None
    app_id = app.app_id
    fields = (
        FieldChange("message_url", app.found.get("message_url") or None, url),
        FieldChange("message_method", app.found.get("message_method"), method),
    )
    changed = tuple(change for change in fields if change.before != change.after)

    async def update() -> None:
        await api.update_application(app_id, url, method)

    return Change("plivo", f"application {app_id} ({app.name})", changed, update)


def _link_plivo_number(
    api: PlivoAccountApi, app: _PlivoApp, digits: str, before: str | None
) -> Change:
    async def link() -> None:
        assert app.app_id is not None, "the application is made first"
        await api.link_number(digits, app.app_id)

    after = app.app_id or f"the new application {app.name}"
    return Change("plivo", f"number +{digits}", (FieldChange("app_id", before, after),), link)


# Vonage -----------------------------------------------------------------------------------


async def _plan_vonage(settings: Settings, api: VonageAccountApi | None, result: Plan) -> None:
    application_id = settings.vonage_application_id
    if api is None or not application_id:
        result.problems.append(
            "Vonage: configuring needs VONAGE_API_KEY and VONAGE_API_SECRET (the account's "
            "APIs take nothing else) and VONAGE_APPLICATION_ID (the application to set up)"
        )
        return
    application = await api.application(application_id)
    if application is None:
        result.problems.append(f"Vonage: the account has no application {application_id}")
        return
    change = _vonage_application_change(settings, api, application)
    if change is not None:
        result.changes.append(change)
    owned = await api.numbers()
    for number in targets.vonage_numbers(settings):
        found = owned.get(number.number)
        if found is None:
            result.problems.append(f"Vonage: {number.shown} is not a number of the account")
        elif (found.get("app_id") or None) != application_id:
            result.changes.append(_link_vonage_number(api, found, application_id))


def _vonage_application_change(
    settings: Settings, api: VonageAccountApi, application: dict[str, Any]
) -> Change | None:
    wanted = targets.vonage_webhook_urls(settings)
    configured = messages_webhooks(application)
    fields = [
        FieldChange(f"messages.{kind}_url", configured[kind], url)
        for kind, url in wanted.items()
        if configured[kind] != url
    ]
    version = messages_version(application)
    if version != targets.VONAGE_MESSAGES_VERSION:
        fields.append(FieldChange("messages.version", version, targets.VONAGE_MESSAGES_VERSION))
    if not fields:
        return None
    body = _vonage_application_body(application, wanted)
    application_id = str(application["id"])

    async def update() -> None:
        await api.update_application(application_id, body)

    target = f"application {application_id} ({application.get('name')})"
    return Change("vonage", target, tuple(fields), update)


def _vonage_application_body(application: dict[str, Any], wanted: dict[str, str]) -> dict[str, Any]:
    """The whole application back (a PUT replaces it), with the Messages capability set: its
    other capabilities (voice, ...), privacy and public key stay as they are."""
    body = {
        key: copy.deepcopy(application[key])
        for key in ("name", "capabilities", "privacy", "keys")
        if application.get(key) is not None
    }
    messages = body.setdefault("capabilities", {}).setdefault("messages", {})
    messages["version"] = targets.VONAGE_MESSAGES_VERSION
    messages["webhooks"] = {
        f"{kind}_url": {"address": url, "http_method": "POST"} for kind, url in wanted.items()
    }
    return body


def _link_vonage_number(
    api: VonageAccountApi, found: dict[str, Any], application_id: str
) -> Change:
    msisdn, country = str(found["msisdn"]), str(found.get("country") or "")

    async def link() -> None:
        await api.link_number(msisdn, country, application_id)

    before = found.get("app_id") or None
    fields = (FieldChange("app_id", before, application_id),)
    return Change("vonage", f"number +{msisdn}", fields, link)
