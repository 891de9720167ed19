"""Hostile webhooks, correctly signed, mixed among ordinary ones in random order, through the
running app over HTTP: alphanumeric sender IDs, a short code, a NUL byte, a lone surrogate, a
sender longer than its column. Every ordinary one is applied; every hostile one is applied,
or parked with its reason; the log holds no traceback (and so no locals)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from textbridge.webhooks.applier import RetryPolicy

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from ..support.webhooks import plivo_sms, post_plivo, post_vonage, vonage_sms

PARKED = ("dead", "invalid")


@dataclass(frozen=True)
class Delivery:
    name: str
    marker: str  # the message UUID, which the journal body holds
    hostile: bool
    post: Callable[[Textbridge], int]


def _plivo(name: str, hostile: bool, text: str, **fields: str) -> Delivery:
    params = plivo_sms(text, **fields)
    return Delivery(name, params["MessageUUID"], hostile, lambda tb: post_plivo(tb, params))


def _vonage(name: str, hostile: bool, text: str, **fields: str) -> Delivery:
    payload = vonage_sms(text, **fields)
    return Delivery(name, payload["message_uuid"], hostile, lambda tb: post_vonage(tb, payload))


def _deliveries() -> list[Delivery]:
    hostile = [
        _plivo("plivo alphanumeric AMAZON", True, "Your code is 123456", sender="AMAZON"),
        _plivo("plivo alphanumeric HSBC", True, "Your balance", sender="HSBC"),
        _plivo("plivo short code", True, "Reply STOP to end", sender="72345"),
        _plivo("plivo NUL byte", True, "before\x00after"),
        _plivo("plivo 300-character sender", True, "long sender", sender="1" * 300),
        _vonage("vonage alphanumeric", True, "Your parcel", sender="AMAZON"),
        _vonage("vonage lone surrogate", True, "broken \ud800 pair"),
        _vonage("vonage NUL byte", True, "nul\x00inside"),
        _vonage("vonage 300-character sender", True, "long sender", sender="4" * 300),
    ]
    ordinary = [_plivo(f"plivo ordinary {i}", False, f"plivo ordinary {i}") for i in range(6)]
    ordinary += [_vonage(f"vonage ordinary {i}", False, f"vonage ordinary {i}") for i in range(6)]
    return hostile + ordinary


def test_hostile_webhooks_fail_alone(
    textbridge: Textbridge, capfd: pytest.CaptureFixture[str]
) -> None:
    # Short backoff, so that the hostile entries are parked within the test's patience.
    textbridge.runtime.applier.failure_retry = RetryPolicy(
        timedelta(milliseconds=50), timedelta(milliseconds=200), attempts=3
    )
    deliveries = _deliveries()
    seed = random.randrange(1 << 32)
    random.Random(seed).shuffle(deliveries)
    answers = {delivery.name: delivery.post(textbridge) for delivery in deliveries}

    for delivery in deliveries:
        expected = (200, 400) if delivery.hostile else (200,)
        assert answers[delivery.name] in expected, (seed, delivery.name, answers[delivery.name])
    wait_until(lambda: not _journal(textbridge, "pending"), timeout=90)
    entries = _entries_by_marker(textbridge, [d.marker for d in deliveries])

    for delivery in deliveries:
        entry = entries[delivery.marker]
        if delivery.hostile:
            settled = entry["state"] == "applied" or (entry["state"] in PARKED and entry["error"])
            assert settled, (seed, delivery.name, entry)
        else:
            assert entry["state"] == "applied", (seed, delivery.name, entry)
    assert _ordinary_texts(deliveries) <= _texts_in_conversations(textbridge)

    output = capfd.readouterr()
    log = output.out + output.err
    assert "Traceback" not in log
    assert "locals" not in log


def _journal(textbridge: Textbridge, state: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 500, **({"state": state} if state else {})}
    response = textbridge.api.get("/api/v1/journal", params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def _entries_by_marker(textbridge: Textbridge, markers: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for summary in _journal(textbridge):
        detail = textbridge.api.get(f"/api/v1/journal/{summary['id']}").json()
        for marker in markers:
            if marker in detail["body"]:
                assert marker not in found, f"two journal entries hold {marker}"
                found[marker] = detail
    assert set(found) == set(markers), set(markers) - set(found)
    return found


def _ordinary_texts(deliveries: list[Delivery]) -> set[str]:
    return {d.name for d in deliveries if not d.hostile}


def _texts_in_conversations(textbridge: Textbridge) -> set[str]:
    texts: set[str] = set()
    for conversation in textbridge.api.get("/api/v1/conversations").json():
        messages = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages")
        texts |= {message["text"] for message in messages.json()}
    return texts
