"""The analytics reports over HTTP on both databases, against a seeded set whose figures
are worked out by hand (seed.py): exact counts, rates, percentiles, and days counted in
Europe/Paris across the night its clocks go forward."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from ..support.textbridge import Textbridge
from .seed import PLIVO_SMS, seed

PARIS = {"from": "2026-03-28", "to": "2026-03-30", "tz": "Europe/Paris"}
REPORTS = (
    "messages",
    "delivery",
    "failures",
    "delivery-time",
    "cost",
    "inbound",
    "opt-outs",
    "campaigns",
)


@pytest.fixture
def seeded(textbridge: Textbridge) -> Textbridge:
    seed(textbridge.database)
    return textbridge


def report(textbridge: Textbridge, name: str, **params: str) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/analytics/{name}", params={**PARIS, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_messages_per_day_count_local_days(seeded: Textbridge) -> None:
    found = report(seeded, "messages")
    assert found["time_zone"] == "Europe/Paris"
    assert [tuple(r.values()) for r in found["rows"]] == [
        ("2026-03-28", "outbound", "sms", "plivo", 3),
        ("2026-03-29", "outbound", "sms", "vonage", 1),
        ("2026-03-29", "outbound", "whatsapp", "vonage", 1),
        ("2026-03-30", "inbound", "sms", "plivo", 2),
        ("2026-03-30", "inbound", "whatsapp", "vonage", 1),
        ("2026-03-30", "outbound", "sms", "plivo", 4),
    ]
    assert found["totals"] == {"messages": 12, "inbound": 3, "outbound": 9}


def test_the_same_messages_fall_on_other_days_in_utc(seeded: Textbridge) -> None:
    found = report(seeded, "messages", tz="UTC", to="2026-03-28")
    assert [tuple(r.values()) for r in found["rows"]] == [
        ("2026-03-28", "outbound", "sms", "plivo", 2),
        ("2026-03-28", "outbound", "whatsapp", "vonage", 1),
    ]


def test_delivery_rate(seeded: Textbridge) -> None:
    found = report(seeded, "delivery")
    assert found["rows"] == [
        {"day": "2026-03-28", "outbound": 3, "delivered": 2, "failed": 1, "pending": 0,
         "delivery_rate": 0.6667},
        {"day": "2026-03-29", "outbound": 2, "delivered": 1, "failed": 1, "pending": 0,
         "delivery_rate": 0.5},
        {"day": "2026-03-30", "outbound": 3, "delivered": 1, "failed": 1, "pending": 1,
         "delivery_rate": 0.5},
    ]  # fmt: skip
    assert found["totals"] == {
        "outbound": 8, "delivered": 4, "failed": 3, "pending": 1, "delivery_rate": 0.5714
    }  # fmt: skip


def test_failures_by_reason(seeded: Textbridge) -> None:
    assert report(seeded, "failures")["rows"] == [
        {"provider": "plivo", "error_code": "30", "reason": "Unknown destination", "messages": 2},
        {"provider": "vonage", "error_code": "6", "reason": "Anti-spam rejection", "messages": 1},
    ]


def test_median_and_p95_time_to_delivered(seeded: Textbridge) -> None:
    """From the hourly histogram: the counts exact, each percentile within one bucket's width
    (9 %) of `percentile_cont` over the exact times."""
    found = report(seeded, "delivery-time")
    exact_rows = [
        {"day": "2026-03-28", "delivered": 2, "median_seconds": 15.0, "p95_seconds": 19.5},
        {"day": "2026-03-29", "delivered": 1, "median_seconds": 40.0, "p95_seconds": 40.0},
        {"day": "2026-03-30", "delivered": 1, "median_seconds": 100.0, "p95_seconds": 100.0},
    ]
    assert len(found["rows"]) == len(exact_rows)
    for row, exact in zip(found["rows"], exact_rows, strict=True):
        _assert_close_to(row, exact)
    # [10, 20, 40, 100]: the median halfway from 20 to 40, p95 at 0.85 of the way to 100
    _assert_close_to(found["totals"], {"delivered": 4, "median_seconds": 30.0, "p95_seconds": 91.0})
    # Within its bucket, not on the exact figure: the resolution is what is promised.
    assert found["totals"]["median_seconds"] != 30.0


def _assert_close_to(found: dict[str, Any], exact: dict[str, Any]) -> None:
    for key, value in exact.items():
        if key.endswith("_seconds"):
            assert abs(found[key] - value) <= 0.09 * value, (key, found, exact)
        else:
            assert found[key] == value, (key, found, exact)


def test_no_delivery_means_no_percentile(seeded: Textbridge) -> None:
    found = report(seeded, "delivery-time", **{"from": "2026-01-01", "to": "2026-01-02"})
    assert found["rows"] == []
    assert found["totals"] == {"delivered": 0, "median_seconds": None, "p95_seconds": None}


def test_cost_per_day(seeded: Textbridge) -> None:
    found = report(seeded, "cost")
    assert found["rows"] == [
        {"day": "2026-03-28", "provider": "plivo", "messages": 3, "priced": 2, "cost": "0.010000"},
        {"day": "2026-03-29", "provider": "vonage", "messages": 2, "priced": 1, "cost": "0.010000"},
        {"day": "2026-03-30", "provider": "plivo", "messages": 3, "priced": 1, "cost": "0.005000"},
    ]
    assert found["totals"] == {"cost": {"plivo": "0.015000", "vonage": "0.010000"}}


def test_inbound_volume(seeded: Textbridge) -> None:
    found = report(seeded, "inbound")
    assert found["rows"] == [
        {"day": "2026-03-30", "channel": "sms", "provider": "plivo", "messages": 2, "contacts": 2},
        {"day": "2026-03-30", "channel": "whatsapp", "provider": "vonage", "messages": 1,
         "contacts": 1},
    ]  # fmt: skip
    assert found["totals"] == {"messages": 3, "contacts": 2}


def test_opt_outs_from_the_consent_ledger(seeded: Textbridge) -> None:
    found = report(seeded, "opt-outs")
    assert found["rows"] == [
        {"day": "2026-03-29", "source": "api", "opt_outs": 1, "opt_ins": 0},
        {"day": "2026-03-29", "source": "keyword", "opt_outs": 1, "opt_ins": 0},
        {"day": "2026-03-30", "source": "keyword", "opt_outs": 0, "opt_ins": 1},
    ]
    assert found["totals"] == {"opt_outs": 2, "opt_ins": 1}
    on_whatsapp = report(seeded, "opt-outs", channel="whatsapp")
    assert on_whatsapp["totals"] == {"opt_outs": 0, "opt_ins": 0}
    # The records of that sender and those of every sender
    assert report(seeded, "opt-outs", sender=PLIVO_SMS)["totals"] == {"opt_outs": 2, "opt_ins": 1}


def test_campaign_funnel(seeded: Textbridge) -> None:
    (row,) = report(seeded, "campaigns")["rows"]
    assert {k: v for k, v in row.items() if k != "campaign_id"} == {
        "name": "Spring sale",
        "state": "completed",
        "recipients": 5,
        "sent": 3,
        "delivered": 1,
        "failed": 1,
        "opted_out": 2,
        "replied": 1,
    }
    assert report(seeded, "campaigns", channel="whatsapp")["rows"] == []


def test_filters(seeded: Textbridge) -> None:
    def total(**filters: str) -> int:
        count: int = report(seeded, "messages", **filters)["totals"]["messages"]
        return count

    assert total(channel="whatsapp") == 2
    assert total(provider="vonage") == 3
    assert total(sender=PLIVO_SMS) == 9  # its outbound messages and the inbound ones to it
    assert total(sender=PLIVO_SMS, direction="ignored") == 9
    assert total(provider="vonage", channel="sms") == 1


@pytest.mark.parametrize("name", REPORTS)
def test_csv_has_the_json_rows(seeded: Textbridge, name: str) -> None:
    rows = report(seeded, name)["rows"]
    response = seeded.api.get(f"/api/v1/analytics/{name}", params={**PARIS, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f"textbridge-{name}-2026-03-28-2026-03-30.csv" in response.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert lines == [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]
    assert rows, "the seeded range has rows for every report"
    asked = seeded.api.get(
        f"/api/v1/analytics/{name}", params=PARIS, headers={"accept": "text/csv"}
    )
    assert asked.text == response.text


def test_a_day_with_nothing_has_no_row_and_defaults_cover_30_days(seeded: Textbridge) -> None:
    response = seeded.api.get("/api/v1/analytics/messages")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["time_zone"] == "UTC"
    from datetime import date

    first, last = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
    assert (last - first).days == 29


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"tz": "x" * 65}, "tz"),
        ({"from": "2026-03-31", "to": "2026-03-30"}, "from"),
        ({"from": "2025-01-01", "to": "2026-03-30"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"to": "0001-01-01"}, "to"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
        ({"channel": "fax"}, "channel"),
        ({"provider": "twilio"}, "provider"),
        ({"sender": "+1415\x00"}, "sender"),
        ({"sender": "+" * 141}, "sender"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_input_is_a_clear_422(
    textbridge: Textbridge, params: dict[str, str], field: str
) -> None:
    for name in ("messages", "delivery-time", "opt-outs", "campaigns"):
        response = textbridge.api.get(f"/api/v1/analytics/{name}", params=params)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert field in (error["field"] or ""), error


def test_a_message_sent_through_the_sandbox_counts_with_its_time_to_delivered(
    textbridge: Textbridge,
) -> None:
    sent = textbridge.send(text="counted")
    delivered = textbridge.wait_for_status(sent["id"], "delivered", "read", timeout=20)
    day = delivered["created_at"][:10]
    found = report(textbridge, "delivery-time", **{"from": day, "to": day, "tz": "UTC"})
    assert found["totals"]["delivered"] == 1
    assert 0 <= found["totals"]["median_seconds"] < 20
    delivery = report(textbridge, "delivery", **{"from": day, "to": day, "tz": "UTC"})
    assert delivery["totals"]["delivery_rate"] == 1.0
