"""Local days in UTC: where a range starts and ends, and the offsets' spans within it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from textbridge.analytics.window import Shift, WindowError, window

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_a_range_across_a_clock_change_has_two_spans() -> None:
    paris = window(date(2026, 3, 28), date(2026, 3, 30), "Europe/Paris", NOW)
    assert paris.start == datetime(2026, 3, 27, 23, tzinfo=UTC)
    assert paris.end == datetime(2026, 3, 30, 22, tzinfo=UTC)
    assert paris.shifts == (
        Shift(datetime(2026, 3, 27, 23, tzinfo=UTC), 3600),
        Shift(datetime(2026, 3, 29, 1, tzinfo=UTC), 7200),
    )
    assert [d.isoformat() for d in paris.days] == ["2026-03-28", "2026-03-29", "2026-03-30"]


def test_a_quarter_hour_zone_and_the_default_range() -> None:
    kathmandu = window(None, None, "Asia/Kathmandu", NOW)
    assert (kathmandu.first_day, kathmandu.last_day) == (date(2026, 11, 1), date(2026, 11, 30))
    assert kathmandu.shifts == (Shift(datetime(2026, 10, 31, 18, 15, tzinfo=UTC), 20700),)


def test_a_kept_window_still_follows_the_clock() -> None:
    today = window(None, None, "Europe/Paris", NOW)
    assert window(None, None, "Europe/Paris", NOW) is today  # kept, not recomputed
    tomorrow = window(None, None, "Europe/Paris", NOW + timedelta(days=1))
    assert (tomorrow.first_day, tomorrow.last_day) == (date(2026, 11, 2), date(2026, 12, 1))
    assert tomorrow.start == today.start + timedelta(days=1)
    again = window(today.first_day, today.last_day, "Europe/Paris", NOW + timedelta(days=1))
    assert again is today


@pytest.mark.parametrize(
    ("first", "last", "zone", "field"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "UTC", "from"),
        (date(2025, 1, 1), date(2026, 1, 2), "UTC", "to"),
        (None, None, "Europe/Nowhere", "tz"),
        (None, date(1, 1, 5), "UTC", "to"),
    ],
)
def test_what_cannot_be_reported_on(
    first: date | None, last: date | None, zone: str, field: str
) -> None:
    with pytest.raises(WindowError) as refused:
        window(first, last, zone, NOW)
    assert refused.value.field == field
