"""Where `rollup.plan` reads each local day from: a block of 24 hours for a day of 24 hours
(with the parts of hours its midnights cut, from the messages), hours for a day with a clock
change. The reports' figures are checked against the messages in test_rollup.py; this is
the shape, so that a change that silently falls back to hours shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from textbridge.analytics import rollup
from textbridge.analytics.window import window

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _hour(moment: datetime) -> int:
    return rollup.seconds_of(moment) // rollup.HOUR


def _days(found: rollup.Plan, hours: list[int]) -> list[str]:
    """The local day `block_day_number` gives each hour, computed in Python."""
    days = []
    for hour in hours:
        constant = found.runs[0].constant
        for run in found.runs:
            if hour >= run.first_start:
                constant = run.constant
        days.append(rollup.day_of((hour * rollup.HOUR + constant) // rollup.DAY))
    return days


def test_whole_hour_days_are_blocks_and_a_clock_change_day_is_hours() -> None:
    # New York leaves daylight saving time on 2026-11-01 (a day of 25 hours).
    days = window(date(2026, 10, 30), date(2026, 11, 3), "America/New_York", NOW)
    found = rollup.plan(days)

    assert found.blocks == (
        _hour(datetime(2026, 10, 30, 4, tzinfo=UTC)),
        _hour(datetime(2026, 10, 31, 4, tzinfo=UTC)),
        _hour(datetime(2026, 11, 2, 5, tzinfo=UTC)),
        _hour(datetime(2026, 11, 3, 5, tzinfo=UTC)),
    )
    first, end = _hour(datetime(2026, 11, 1, 4, tzinfo=UTC)), found.blocks[2]
    assert found.hours == ((first, end),)
    assert end - first == 25
    assert found.live == found.back == ()
    assert _days(found, list(found.blocks)) == [
        "2026-10-30",
        "2026-10-31",
        "2026-11-02",
        "2026-11-03",
    ]
    # The last hour a block holds is still its day.
    assert _days(found, [start + 23 for start in found.blocks]) == _days(found, found.blocks)
    assert found.block_hours == (
        (found.blocks[0], found.blocks[1] + 24),
        (found.blocks[2], found.blocks[3] + 24),
    )


def test_a_quarter_hour_zone_reads_blocks_and_a_quarter_hour_around_each_midnight() -> None:
    # Kathmandu is UTC+5:45: each local midnight is 18:15 UTC.
    days = window(date(2026, 11, 1), date(2026, 11, 30), "Asia/Kathmandu", NOW)
    found = rollup.plan(days)

    assert len(found.blocks) == 30
    assert found.hours == ()
    assert found.blocks[0] == _hour(datetime(2026, 10, 31, 18, tzinfo=UTC))
    midnights = [datetime(2026, 10, 31, 18, 15, tzinfo=UTC) + n * 24 * HOUR for n in range(31)]
    quarters = tuple((m - timedelta(minutes=15), m) for m in midnights)
    # Out of each block: the quarter before its midnight; into it: the one before the next.
    assert found.back == quarters[:30]
    assert found.live == quarters[1:]
    assert found.read == quarters
    assert _days(found, list(found.blocks))[0] == "2026-11-01"
    assert _days(found, list(found.blocks))[-1] == "2026-11-30"


def test_the_reference_reads_only_the_messages() -> None:
    days = window(date(2026, 11, 1), date(2026, 11, 30), "UTC", NOW)
    assert rollup.plan(days).live == ()
    assert rollup.direct(days) == rollup.Plan((), (), (), ((days.start, days.end),))
