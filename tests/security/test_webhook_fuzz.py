"""hypothesis over malformed, oversized and wrongly encoded webhook bodies, through the running
app over HTTP, on both databases, with the journal applier running.

Each example is one of the providers' captured fixtures (`providers/*/fixtures`), mutated
(fields dropped, replaced or added: NUL, lone surrogates, invalid UTF-8, 200 kB values, numbers
and objects where text was, deep nesting), encoded as a form or JSON or not at all (truncated
JSON, raw bytes), sent under the right, a wrong or no content type, and signed correctly, with
a wrong secret, not at all, or with garbage. Every answer is checked against what the design
promises (docs/DESIGN-NOTES.md, "Webhooks that cannot be forged or replayed" and "Bounded
input"):

- never a 5xx, and an answer of a few hundred bytes;
- a wrong or garbage signature is refused (Plivo 403, Vonage 401) and leaves exactly one journal
  row, `refused`, holding at most 1 KB of the body; no signature is refused too, except that
  Vonage keeps an unsigned callback `unverified` (202, or 400 if it cannot be read);
- a correctly signed body is never refused: it is journaled (200) or, unreadable, journaled
  `invalid` on its own row with its reason (400);
- once the applier has run, nothing is pending, every parked row says why, and no message
  carries the id of a refused or unsigned request.

Derandomized, so CI sends the same requests every time.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from textbridge.providers import testing
from textbridge.providers.base import WebhookRequest
from textbridge.providers.plivo import webhooks as plivo_webhooks
from textbridge.providers.plivo.signature import signed_headers
from textbridge.providers.vonage.signature import sign_webhook
from textbridge.webhooks import journal
from textbridge.webhooks.applier import RetryPolicy

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import Textbridge, running_textbridge
from .support import RowCounter

EXAMPLES = 300
FIXTURES = Path(testing.__file__).parent
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
REFUSED_STATUS = {"plivo": 403, "vonage": 401}
WRONG_SECRET = "not-the-secret-0123456789abcdef0123456789"
MAX_ANSWER_BYTES = 1000

# --- what is sent --------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        "\x00",
        "before\x00after",
        "\ud800",
        "pair \ud83d\ude00 and half \udfff",
        "\ufeff\u202e\u200b",
        "%FF%FE",
        "'; DROP TABLE messages; --",
        "x" * 5000,
        "🙂" * 2000,
        "1" * 300,
        "AMAZON",
    ]
) | st.text(max_size=40)
HUGE_TEXT = st.sampled_from(["y" * 200_000, "\x00" * 50_000])
ODD_JSON_VALUE = st.sampled_from(
    [None, True, 0, -1, 10**40, 1.5e308, float("nan"), [], ["a", 1], {}, {"a": {"b": "c"}}]
)


@st.composite
def mutated_fields(draw: st.DrawFn, fields: dict[str, Any], json_body: bool) -> dict[str, Any]:
    result = dict(fields)
    names = sorted(result)
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["replace", "drop", "add", "huge"]))
        name = draw(st.sampled_from(names)) if names else "x"
        if action == "drop":
            result.pop(name, None)
        elif action == "add":
            result[draw(HOSTILE_TEXT)] = draw(HOSTILE_TEXT)
        elif action == "huge":
            result[name] = draw(HUGE_TEXT)
        elif json_body:
            result[name] = draw(HOSTILE_TEXT | ODD_JSON_VALUE)
        else:
            result[name] = draw(HOSTILE_TEXT)
    return result


def form_encoded(fields: dict[str, Any]) -> bytes:
    """Form encoding that carries a lone surrogate as the bytes it would be (invalid UTF-8)."""

    def part(value: Any) -> str:
        return quote_plus(str(value).encode("utf-8", "surrogatepass"))

    return "&".join(f"{part(name)}={part(value)}" for name, value in fields.items()).encode()


def deep_json(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


class Delivery:
    """One request to send. Not a dataclass: hypothesis would print every field of a failing
    example, a 200 kB body included."""

    def __init__(
        self,
        provider: str,
        kind: str,
        marker: str,
        body: bytes,
        content_type: str | None,
        signature: str,
    ) -> None:
        self.provider = provider
        self.kind = kind
        self.marker = marker  # the message id the fixture carries, to find its row later
        self.body = body
        self.content_type = content_type
        self.signature = signature  # "valid", "wrong secret", "none" or "garbage"

    def __repr__(self) -> str:  # short: hypothesis prints the failing example
        return self.describe()

    def describe(self) -> str:
        return (
            f"{self.provider} {self.kind}, {self.signature} signature, content type "
            f"{self.content_type!r}, body {self.body[:200]!r} ({len(self.body)} bytes)"
        )


_markers = itertools.count(1)


def _fixture(provider: str, name: str) -> testing.WebhookFixture:
    path = next((FIXTURES / provider / "fixtures").glob(f"{name}.*"))
    kind = "inbound" if name.startswith("inbound") else "status"
    content_type = JSON if path.suffix == ".json" else FORM
    return testing.WebhookFixture(name, kind, "POST", path.read_text().strip(), content_type)


FIXTURE_NAMES = {
    "plivo": ["inbound_sms", "inbound_whatsapp_button", "inbound_mms", "status_delivered"],
    "vonage": ["inbound_sms", "inbound_whatsapp_image", "status_delivered", "status_rejected"],
}


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    provider = draw(st.sampled_from(sorted(FIXTURE_NAMES)))
    fixture = _fixture(provider, draw(st.sampled_from(FIXTURE_NAMES[provider])))
    marker = str(uuid.UUID(int=next(_markers)))
    payload = fixture.with_id(marker).payload
    fields: dict[str, Any] = (
        json.loads(payload) if fixture.is_json else dict(parse_qsl(payload, keep_blank_values=True))
    )
    encoding = draw(
        st.sampled_from(["natural", "natural", "form", "json", "truncated", "deep", "bytes"])
    )
    if encoding == "natural":
        encoding = "json" if fixture.is_json else "form"
    fields = draw(mutated_fields(fields, json_body=encoding != "form"))
    body = _encode(draw, encoding, fields)
    natural = JSON if encoding in ("json", "truncated", "deep") else FORM
    content_type = draw(
        st.sampled_from(
            [natural, natural, natural, JSON, FORM, "text/plain", None, f"{JSON}; charset=utf-16"]
        )
    )
    signature = draw(
        st.sampled_from(["valid", "valid", "valid", "wrong secret", "none", "garbage"])
    )
    return Delivery(provider, fixture.kind, marker, body, content_type, signature)


def _encode(draw: st.DrawFn, encoding: str, fields: dict[str, Any]) -> bytes:
    if encoding == "form":
        return form_encoded(fields)
    if encoding == "deep":
        return deep_json(draw(st.sampled_from([100, 5000, 100_000])))
    if encoding == "bytes":
        return draw(st.binary(max_size=300))
    text = json.dumps(fields).encode()
    if encoding == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if draw(st.booleans()):  # invalid UTF-8 where a string starts
        return text.replace(b': "', b': "\xff\xfe', 1)
    return text


# --- how it is signed ----------------------------------------------------------------------


def headers_for(textbridge: Textbridge, delivery: Delivery, url: str) -> dict[str, str]:
    headers = {"content-type": delivery.content_type} if delivery.content_type else {}
    sandbox = textbridge.runtime.sandbox
    assert sandbox is not None
    if delivery.signature == "none":
        return headers
    if delivery.signature == "garbage":
        garbage = {"plivo": {"X-Plivo-Signature-V3": "zz", "X-Plivo-Signature-V3-Nonce": "1"}}
        return {**headers, **garbage.get(delivery.provider, {"Authorization": "Bearer a.b.c"})}
    if delivery.provider == "vonage":
        secret = sandbox.vonage_signature_secret if delivery.signature == "valid" else WRONG_SECRET
        return {**headers, **sign_webhook(secret, delivery.body)}
    token = sandbox.plivo_auth_token if delivery.signature == "valid" else WRONG_SECRET
    return {**headers, **plivo_signature(token, url, delivery, headers)}


def plivo_signature(
    token: str, url: str, delivery: Delivery, headers: dict[str, str]
) -> dict[str, str]:
    """What Plivo sends for these bytes: V3 over the URL and the fields it signs (the form,
    the JSON object, or nothing for another content type). A JSON body that is not an object
    cannot be signed: it is sent under a signature over no fields, which cannot match."""
    params = journal.webhook_params("POST", delivery.content_type or "", delivery.body, "")
    request = WebhookRequest("POST", url, headers, params, delivery.body)
    signed = plivo_webhooks.signed_params(request)
    try:
        return signed_headers(token, "POST", url, signed if signed is not None else ())
    except (TypeError, ValueError):  # the SDK could not sign it either
        return signed_headers(token, "POST", url, ())


def signable(delivery: Delivery, url: str) -> bool:
    """Whether a correct signature exists for this request (Vonage signs any bytes)."""
    if delivery.provider == "vonage":
        return True
    params = journal.webhook_params("POST", delivery.content_type or "", delivery.body, "")
    headers = {"content-type": delivery.content_type} if delivery.content_type else {}
    request = WebhookRequest("POST", url, headers, params, delivery.body)
    try:
        signed = plivo_webhooks.signed_params(request)
        return signed is not None and bool(signed_headers("t", "POST", url, signed))
    except (TypeError, ValueError):
        return False


# --- what must hold ------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_webhook: dict[str, int] = field(default_factory=dict)  # "plivo inbound": examples
    by_signature: dict[str, int] = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)  # markers refused or unsigned
    failures: list[str] = field(default_factory=list)


class WebhookFuzzer:
    def __init__(self, textbridge: Textbridge, counter: RowCounter) -> None:
        self.textbridge = textbridge
        self.counter = counter
        self.http = httpx.Client(timeout=30)
        self.tally = Tally()
        self.last_id = self._last_journal_id()

    def send(self, delivery: Delivery) -> None:
        url = f"{self.textbridge.url}/webhooks/{delivery.provider}/{delivery.kind}"
        headers = headers_for(self.textbridge, delivery, url)
        response = self.http.post(url, content=delivery.body, headers=headers)
        self.tally.sent += 1
        webhook = f"{delivery.provider} {delivery.kind}"
        self.tally.by_webhook[webhook] = self.tally.by_webhook.get(webhook, 0) + 1
        signature = self.tally.by_signature
        signature[delivery.signature] = signature.get(delivery.signature, 0) + 1
        status = response.status_code
        self.tally.by_status[status] = self.tally.by_status.get(status, 0) + 1
        rows = self._new_rows()
        problem = self._judge(delivery, url, response, rows)
        if problem:
            self.tally.failures.append(f"{problem}: {delivery.describe()}: {response.text[:300]}")
        if status != 200:
            self.tally.not_applicable.append(delivery.marker)

    def _judge(
        self, delivery: Delivery, url: str, response: httpx.Response, rows: list[Any]
    ) -> str | None:
        status = response.status_code
        refused = REFUSED_STATUS[delivery.provider]
        states = [row.state for row in rows]
        if status >= 500:
            return f"server error {status}"
        if len(response.content) > MAX_ANSWER_BYTES:
            return f"answer of {len(response.content)} bytes"
        if delivery.signature in ("wrong secret", "garbage") and status != refused:
            return f"a bad signature answered {status}"
        if delivery.signature == "valid" and status == refused and signable(delivery, url):
            return "a correctly signed request was refused"
        if status == refused:
            if states != [journal.REFUSED] or len(rows[0].body) > journal.REFUSED_EXCERPT_BYTES:
                return f"a refusal journaled {[(r.state, len(r.body)) for r in rows]}"
        elif status == 202:
            if states != [journal.UNVERIFIED]:
                return f"an unsigned request kept as {states}"
        elif status == 400:
            if len(states) != 1 or states[0] not in (journal.INVALID, journal.UNVERIFIED):
                return f"an unreadable request journaled {states}"
            if not rows[0].error:
                return "an unreadable request journaled without its reason"
        elif status == 200:
            if len(rows) > 1 or journal.REFUSED in states:
                return f"an accepted request journaled {states}"
        else:
            return f"unexpected status {status}"
        return None

    def _new_rows(self) -> list[Any]:
        rows = self.counter.rows(
            "SELECT id, state, error, body FROM webhook_journal WHERE id > :last ORDER BY id",
            last=self.last_id,
        )
        if rows:
            self.last_id = rows[-1].id
        return rows

    def _last_journal_id(self) -> int:
        rows = self.counter.rows("SELECT coalesce(max(id), 0) AS id FROM webhook_journal")
        return int(rows[0].id)


def _settings() -> Any:
    return settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def test_hostile_webhooks_never_5xx_and_store_only_what_the_design_allows(
    database: Database, tmp_path: Path
) -> None:
    with (
        running_textbridge(database, tmp_path) as textbridge,
        RowCounter(database.url, ("messages",)) as counter,
    ):
        # Park a failing entry at once, so that the end is reached within the test.
        instant = RetryPolicy(timedelta(0), timedelta(0), attempts=1)
        textbridge.runtime.applier.failure_retry = instant
        textbridge.runtime.applier.orphan_retry = instant
        fuzzer = WebhookFuzzer(textbridge, counter)

        @_settings()
        @given(delivery=deliveries())
        def send(delivery: Delivery) -> None:
            fuzzer.send(delivery)

        send()
        _wait_until_settled(counter)
        leftovers = _applied_leftovers(counter, fuzzer.tally.not_applicable)
        parked_without_reason = counter.rows(
            "SELECT id, state FROM webhook_journal "
            "WHERE state IN ('dead', 'invalid', 'orphaned') AND error IS NULL"
        )
    tally = fuzzer.tally
    print(
        f"hypothesis webhooks on {database.backend}: {tally.sent} requests, "
        f"per webhook {dict(sorted(tally.by_webhook.items()))}, "
        f"signatures {dict(sorted(tally.by_signature.items()))}, "
        f"answers {dict(sorted(tally.by_status.items()))}, {len(tally.failures)} failures"
    )
    assert not tally.failures, "\n".join(tally.failures)
    assert not leftovers, f"messages stored from refused or unsigned requests: {leftovers}"
    assert not parked_without_reason, parked_without_reason


def _wait_until_settled(counter: RowCounter) -> None:
    pending = "SELECT count(*) AS n FROM webhook_journal WHERE state = 'pending'"
    wait_until(lambda: counter.rows(pending)[0].n == 0, timeout=60)


def _applied_leftovers(counter: RowCounter, markers: list[str]) -> list[Any]:
    if not markers:
        return []
    found = counter.rows("SELECT provider_message_id FROM messages")
    refused = set(markers)
    return [row.provider_message_id for row in found if row.provider_message_id in refused]
