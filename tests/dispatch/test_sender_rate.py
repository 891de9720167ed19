"""A sender's own rate, set through `PATCH /api/v1/senders/{id}` on a running `serve`: the
dispatcher already running holds the sender to it (no restart), over the setting that would
let it go faster; a rate that is not a positive number up to 1000 is a 422 naming the field.

The pace is checked from below only (N messages cannot reach the simulator in less than N - 1
slots), which a loaded machine cannot break: it only makes arrivals later. So this runs with
the other tests (no `alone` marker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..support.database import Database
from ..support.live import scaled, wait_until
from ..support.textbridge import SANDBOX_NUMBER, Textbridge, running_textbridge

LIMIT = 2.0
MESSAGES = 6
MARGIN = 0.04
SLOT = 1 / (LIMIT * (1 - MARGIN))  # 0.52 s
SETTING = 50.0  # what TEXTBRIDGE_RATE_SENDERS gives the sender: the row's rate must win


@pytest.fixture
def governed(database: Database, tmp_path: Path) -> Any:
    with running_textbridge(
        database,
        tmp_path,
        governor=True,  # off by default in sandbox mode
        rate_senders={SANDBOX_NUMBER: SETTING},
        database_pool_size=4,
    ) as textbridge:
        yield textbridge


def test_a_rate_set_through_the_api_holds_the_running_dispatcher(governed: Textbridge) -> None:
    sender = _sms_sender(governed)
    assert sender["messages_per_second"] is None
    warm_up = governed.send(to="+14155550150", text="before the change")["id"]
    governed.wait_for_status(warm_up, "submitted", "delivered")  # the rates were read by now

    patched = governed.api.patch(
        f"/api/v1/senders/{sender['id']}", json={"messages_per_second": LIMIT}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["messages_per_second"] == LIMIT
    assert _sms_sender(governed)["messages_per_second"] == LIMIT
    for number in range(MESSAGES):
        governed.send(to=f"+1415555{number + 160:04d}", text=f"limited {number}")

    arrivals = wait_until(lambda: _arrivals(governed), timeout=scaled(30), interval=0.1)
    span = arrivals[-1] - arrivals[0]
    # At 50/s the six would arrive within about 0.1 s; at 2/s their slots span 5 x 0.52 s =
    # 2.6 s. A loaded machine only delays arrivals, which can shrink the span only when the
    # first one is delayed more than the others: half the slots' span is a bound that such a
    # stall (over a second) does not break and a missed limit (0.1 s) does.
    assert span >= (MESSAGES - 1) * SLOT / 2, arrivals

    cleared = governed.api.patch(
        f"/api/v1/senders/{sender['id']}", json={"messages_per_second": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["messages_per_second"] is None


@pytest.mark.parametrize("rate", [0, -1, 1000.5, 1e9, "fast", "2", True, [2]])
def test_a_rate_that_is_not_a_sane_positive_number_is_refused(
    textbridge: Textbridge, rate: object
) -> None:
    sender = _sms_sender(textbridge)
    refused = textbridge.api.patch(
        f"/api/v1/senders/{sender['id']}", json={"messages_per_second": rate}
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert "messages_per_second" in error["field"]
    assert _sms_sender(textbridge)["messages_per_second"] is None


def _sms_sender(textbridge: Textbridge) -> dict[str, Any]:
    senders = textbridge.api.get("/api/v1/senders").json()
    found: dict[str, Any] = next(
        s for s in senders if (s["provider"], s["channel"]) == ("plivo", "sms")
    )
    assert found["address"] == SANDBOX_NUMBER
    return found


def _arrivals(textbridge: Textbridge) -> list[float] | None:
    """When the simulator took each limited message (its own monotonic clock), once all came."""
    received = textbridge.simulator.get("/control/messages", params={"direction": "outbound"})
    times = sorted(m["received_at"] for m in received.json() if m["text"].startswith("limited"))
    assert len(times) <= MESSAGES, "a message was received twice"
    return times if len(times) == MESSAGES else None
