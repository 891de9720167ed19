"""The fault test, for Plivo and for Vonage: the simulator answers 30% 5xx (500, 502, 503, 504
alike) and some 429 with `Retry-After`. Every message ends delivered or `unknown`, the simulator
takes none twice, and no retry comes before the wait the provider asked for (from the
simulator's own timestamps). And a permanent failure of each provider (a destination it
refuses for good) ends the message failed with the provider's code and a readable reason."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ..support.database import Database
from ..support.textbridge import Textbridge, running_textbridge

MESSAGES = 80
RECIPIENTS = 40  # two messages each: order holds under faults too
FAULTS = {
    "random_sends": {
        "rates": {"500": 0.075, "502": 0.075, "503": 0.075, "504": 0.075, "429": 0.1},
        "retry_after_seconds": 1.0,
        "seed": 20261130,
    },
    "record_sends": True,
}
AMBIGUOUS = {500, 502, 504}
PROVIDERS = ("plivo", "vonage")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_faults_end_delivered_or_unknown_and_nothing_twice(
    database: Database, tmp_path: Path, provider: str
) -> None:
    with running_textbridge(database, tmp_path) as textbridge:
        assert textbridge.simulator.put("/control/faults", json=FAULTS).status_code == 200
        sent = [
            textbridge.send(
                to=f"+1415555{n % RECIPIENTS:04d}", text=f"fault test {n}", provider=provider
            )["id"]
            for n in range(MESSAGES)
        ]
        finals = {
            message_id: textbridge.wait_for_status(message_id, "delivered", "unknown", timeout=60)
            for message_id in sent
        }
        calls = _calls_by_reference(textbridge)
        received = _received_by_reference(textbridge, provider)

    assert {call["provider"] for per in calls.values() for call in per} == {provider}
    statuses = Counter(call["status"] for per in calls.values() for call in per)
    assert all(statuses[kind] for kind in (202, 429, 500, 502, 503, 504)), statuses
    assert max(received.values()) == 1, "the simulator received a message twice"
    for message_id, message in finals.items():
        attempts = calls[message_id]
        _assert_waits_honoured(attempts)
        if message["status"] == "unknown":
            assert attempts[-1]["status"] in AMBIGUOUS
            assert not any(call["status"] == 202 for call in attempts)
        else:
            assert received[message_id] == 1
        assert all(call["status"] not in AMBIGUOUS for call in attempts[:-1]), (
            "an ambiguous answer was followed by a resend"
        )


def _assert_waits_honoured(attempts: list[dict[str, Any]]) -> None:
    for previous, following in pairwise(attempts):
        if previous["retry_after"] is not None:
            waited = following["at"] - previous["at"]
            assert waited >= previous["retry_after"], (previous, following)


def _calls_by_reference(textbridge: Textbridge) -> dict[str, list[dict[str, Any]]]:
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in textbridge.simulator.get("/control/sends").json():
        calls[call["reference"]].append(call)
    for per in calls.values():
        per.sort(key=lambda call: call["at"])
    return calls


def _received_by_reference(textbridge: Textbridge, provider: str) -> Counter[str]:
    """How often the simulator took each message, by our reference (Plivo: the `ref` of the
    callback URL; Vonage: `client_ref`)."""
    params = {"direction": "outbound", "provider": provider}
    messages = textbridge.simulator.get("/control/messages", params=params).json()
    if provider == "vonage":
        return Counter(str(message["client_ref"]) for message in messages)
    return Counter(
        parse_qs(urlsplit(message["callback_url"]).query)["ref"][0] for message in messages
    )


# A destination each provider refuses for good, the status it reports, and what the reason
# must say: Plivo's 50 "Invalid destination number"; Vonage's 1050 "Number barred", which
# Vonage reports as `rejected` (its status callbacks have no `failed`).
PERMANENT = {
    "plivo": ("failed", "50", "failed", "invalid destination"),
    "vonage": ("failed", "1050", "rejected", "barred"),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_permanent_failure_ends_failed_with_the_code_and_a_readable_reason(
    database: Database, tmp_path: Path, provider: str
) -> None:
    outcome, code, ends, reason = PERMANENT[provider]
    number = "+14155550177"
    fate = {"outcome": outcome, "error_code": code, "provider": provider}
    with running_textbridge(database, tmp_path) as textbridge:
        assert textbridge.simulator.put(f"/control/numbers/{number}", json=fate).status_code == 200
        sent = textbridge.send(to=number, text="refused", provider=provider)
        failed = textbridge.wait_for_status(sent["id"], "failed", "rejected", "undelivered")
    assert (failed["status"], failed["error_code"]) == (ends, code)
    assert reason in (failed["error_message"] or "").lower(), failed["error_message"]
