"""The provider contract harness: cases every provider must pass, on every database.

Each provider describes itself with a `ProviderSpec` (how it signs a webhook, where its fixture
payloads live, which secrets must never leak). A test suite supplies a `ContractTarget`: a
running textbridge over real HTTP with a real database. Every case in `CONTRACT_CASES` then runs
for every provider:

- a webhook with a bad or missing signature is refused (Plivo 403, Vonage 401) and stores
  nothing but a journal entry marked `refused`; where the provider documents unsigned
  deliveries (Vonage), a missing signature is journaled `unverified` instead (202), not applied;
- the same webhook twice stores one message (inbound) or one event (status);
- every fixture is accepted and applied;
- no provider secret appears in any log line, journal row or API answer.

The suite that runs the harness also guards the provider's HTTP client, so that any request to
a host other than the simulator fails the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import httpx

from textbridge.providers.base import WebhookKind


@dataclass(frozen=True, slots=True)
class WebhookFixture:
    """One captured webhook. `payload` holds `{message_uuid}` where the harness puts an id."""

    name: str
    kind: WebhookKind
    method: str
    payload: str
    content_type: str = "application/x-www-form-urlencoded"

    @property
    def is_json(self) -> bool:
        return self.content_type == "application/json"

    def with_id(self, message_uuid: str) -> WebhookFixture:
        return replace(self, payload=self.payload.replace("{message_uuid}", message_uuid))

    @property
    def params(self) -> list[tuple[str, str]]:
        return [] if self.is_json else parse_qsl(self.payload, keep_blank_values=True)

    def tampered(self) -> WebhookFixture:
        """The same webhook with one byte changed in its last non-empty value."""
        if self.is_json:
            end = self.payload.rindex('"')  # the closing quote of the last string value
            flipped = "0" if self.payload[end - 1] != "0" else "1"
            return replace(self, payload=self.payload[: end - 1] + flipped + self.payload[end:])
        params = self.params
        index = max(i for i, (_, value) in enumerate(params) if value)
        key, value = params[index]
        params[index] = (key, value[:-1] + ("0" if value[-1] != "0" else "1"))
        return replace(self, payload=urlencode(params))


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    fixtures_dir: Path
    sign: Callable[[WebhookFixture, str], dict[str, str]]
    """Headers the provider would send for this fixture posted to this public URL."""
    secrets: tuple[str, ...]
    failure_fixture: str = "status_undelivered"
    """A status fixture reporting a failure (its name differs between providers)."""
    refused_status: int = 403
    signs_url: bool = True
    """Whether the signature covers the URL (Plivo's does; Vonage's covers the body only)."""
    keeps_unsigned: bool = False
    """Whether a request with no signature at all is kept `unverified` (Vonage) or refused."""

    def fixtures(self) -> list[WebhookFixture]:
        return [
            _load(path)
            for path in sorted(self.fixtures_dir.glob("*.*"))
            if path.suffix in (".form", ".query", ".json")
        ]

    def fixture(self, name: str) -> WebhookFixture:
        return next(f for f in self.fixtures() if f.name == name)


def _load(path: Path) -> WebhookFixture:
    kind: WebhookKind = "inbound" if path.stem.startswith("inbound") else "status"
    method = "GET" if path.suffix == ".query" else "POST"
    content_type = (
        "application/json" if path.suffix == ".json" else "application/x-www-form-urlencoded"
    )
    return WebhookFixture(path.stem, kind, method, path.read_text().strip(), content_type)


class ContractTarget(Protocol):
    """A running textbridge with a real database, reached over real HTTP."""

    url: str
    http: httpx.Client
    """Anonymous, like a provider."""
    api: httpx.Client
    """Authenticated with an API key."""

    def scalar(self, sql: str, **params: Any) -> Any: ...

    def rows(self, sql: str, **params: Any) -> list[Any]: ...

    def send_and_wait_for_provider_id(self) -> str:
        """Send one message through the provider; return the provider's id for it."""
        ...

    def wait_until_applied(self) -> None:
        """Return once every pending journal entry has been applied."""
        ...

    def output(self) -> str:
        """Everything logged so far."""
        ...


def _post_to(
    target: ContractTarget, fixture: WebhookFixture, headers: Mapping[str, str], path: str
) -> int:
    if fixture.method == "GET":
        response = target.http.get(f"{path}?{fixture.payload}", headers=dict(headers))
    else:
        typed = {**headers, "content-type": fixture.content_type}
        response = target.http.post(path, content=fixture.payload.encode(), headers=typed)
    return response.status_code


def deliver(spec: ProviderSpec, target: ContractTarget, fixture: WebhookFixture) -> int:
    """Post a fixture to its webhook, signed as the provider would sign it."""
    path = f"/webhooks/{spec.name}/{fixture.kind}"
    public = f"{target.url}{path}" + (f"?{fixture.payload}" if fixture.method == "GET" else "")
    return _post_to(target, fixture, spec.sign(fixture, public), path)


def _count(target: ContractTarget, table: str) -> int:
    return int(target.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608 (fixed names)


def _instance(spec: ProviderSpec, name: str) -> WebhookFixture:
    return spec.fixture(name).with_id(str(uuid.uuid4()))


def case_missing_signature_is_refused(spec: ProviderSpec, target: ContractTarget) -> None:
    fixture = _instance(spec, "inbound_sms")
    path = f"/webhooks/{spec.name}/inbound"
    if not spec.keeps_unsigned:
        assert _post_to(target, fixture, {}, path) == spec.refused_status
        _assert_only_refusals(target, 1)
        return
    assert _post_to(target, fixture, {}, path) == 202
    target.wait_until_applied()
    assert _count(target, "messages") == 0
    unverified = "SELECT count(*) FROM webhook_journal WHERE state = 'unverified'"
    assert int(target.scalar(unverified)) == 1 == _count(target, "webhook_journal")


def case_tampered_webhook_is_refused(spec: ProviderSpec, target: ContractTarget) -> None:
    fixture = _instance(spec, "inbound_sms")
    path = f"/webhooks/{spec.name}/inbound"
    headers = spec.sign(fixture, f"{target.url}{path}")
    assert _post_to(target, fixture.tampered(), headers, path) == spec.refused_status
    refusals = 1
    if spec.signs_url:
        assert _post_to(target, fixture, headers, f"{path}?extra=1") == spec.refused_status
        refusals += 1
    _assert_only_refusals(target, refusals)


def _assert_only_refusals(target: ContractTarget, refused: int) -> None:
    target.wait_until_applied()
    assert _count(target, "messages") == 0
    assert _count(target, "contacts") == 0
    journal_states = target.scalar("SELECT count(*) FROM webhook_journal WHERE state = 'refused'")
    assert int(journal_states) == refused == _count(target, "webhook_journal")


def case_inbound_twice_stores_once(spec: ProviderSpec, target: ContractTarget) -> None:
    fixture = _instance(spec, "inbound_sms")
    assert deliver(spec, target, fixture) == 200
    assert deliver(spec, target, fixture) == 200
    target.wait_until_applied()
    assert _count(target, "messages") == 1
    assert _count(target, "webhook_journal") == 1


def case_status_twice_stores_one_event(spec: ProviderSpec, target: ContractTarget) -> None:
    provider_id = target.send_and_wait_for_provider_id()
    target.wait_until_applied()
    events_before = _count(target, "message_events")
    fixture = spec.fixture(spec.failure_fixture).with_id(provider_id)
    assert deliver(spec, target, fixture) == 200
    assert deliver(spec, target, fixture) == 200
    target.wait_until_applied()
    assert _count(target, "message_events") == events_before + 1


def case_every_fixture_is_accepted_and_applied(spec: ProviderSpec, target: ContractTarget) -> None:
    provider_id = target.send_and_wait_for_provider_id()
    for fixture in spec.fixtures():
        message_uuid = provider_id if fixture.kind == "status" else str(uuid.uuid4())
        assert deliver(spec, target, fixture.with_id(message_uuid)) == 200, fixture.name
    target.wait_until_applied()
    # Every fixture was journaled before its 200, so after the wait none is pending; a row
    # pending with no error is the simulator's own late receipt for the send (a retried
    # callback). One pending with an error is a failed apply waiting for its retry.
    unapplied = target.rows(
        "SELECT state, error FROM webhook_journal WHERE state <> 'applied'"
        " AND NOT (state = 'pending' AND error IS NULL)"
    )
    assert unapplied == [], unapplied
    inbound = sum(1 for fixture in spec.fixtures() if fixture.kind == "inbound")
    assert int(target.scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")) == (
        inbound
    )


def case_no_secret_leaks(spec: ProviderSpec, target: ContractTarget) -> None:
    target.send_and_wait_for_provider_id()
    fixture = _instance(spec, "inbound_sms")
    deliver(spec, target, fixture)
    _post_to(target, fixture.tampered(), spec.sign(fixture, target.url), "/webhooks/x/inbound")
    _post_to(target, fixture, {}, f"/webhooks/{spec.name}/inbound")
    target.wait_until_applied()
    stored = " ".join(
        f"{headers} {body}"
        for headers, body in target.rows("SELECT headers, body FROM webhook_journal")
    )
    answers = target.api.get("/api/v1/conversations").text
    for secret in spec.secrets:
        assert secret not in target.output(), "a secret reached the logs"
        assert secret not in stored, "a secret reached the webhook journal"
        assert secret not in answers, "a secret reached an API answer"


CONTRACT_CASES: tuple[Callable[[ProviderSpec, ContractTarget], None], ...] = (
    case_missing_signature_is_refused,
    case_tampered_webhook_is_refused,
    case_inbound_twice_stores_once,
    case_status_twice_stores_one_event,
    case_every_fixture_is_accepted_and_applied,
    case_no_secret_leaks,
)
