"""Where `rollup.plan` reads each local day from: a block of 24 hours for a day of 24 hours
(with the parts of hours its midnights cut, from the messages), hours for a day with a clock
change. The reports' figures are checked against the messages in test_rollup.py; this is
the shape, so that a change that silently falls back to hours shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from textbridge.analytics import query as reports
from textbridge.analytics import rollup
from textbridge.analytics.window import Shift as window_shift
from textbridge.analytics.window import Window, window

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


def _local_day_number(seconds: int, found: list[window_shift]) -> int:
    """`rollup.local_day_number`, in Python."""
    offset = found[0].seconds
    for shift in found:
        if seconds >= rollup.seconds_of(shift.since):
            offset = shift.seconds
    return (seconds + offset) // rollup.DAY


def back_across_midnight() -> Window:
    """A window whose clocks go back an hour at 00:30 on its second day (no zone does that
    today; some have): the first day's 23:30 to midnight comes again after half an hour of
    the second, so each of the two days is two spans of time."""
    first = datetime(2026, 5, 1, tzinfo=UTC)
    back = datetime(2026, 5, 2, 0, 30, tzinfo=UTC)
    return Window(
        date(2026, 5, 1),
        date(2026, 5, 3),
        "UTC",
        first,
        datetime(2026, 5, 4, 1, tzinfo=UTC),
        (window_shift(first, 0), window_shift(back, -3600)),
    )


WINDOWS = {
    "New York, 25 hours on 11-01": window(
        date(2026, 10, 30), date(2026, 11, 3), "America/New_York", NOW
    ),
    "Kathmandu": window(date(2026, 11, 1), date(2026, 11, 30), "Asia/Kathmandu", NOW),
    "Chatham": window(date(2026, 4, 3), date(2026, 4, 7), "Pacific/Chatham", NOW),
    # Sao Paulo set its clocks back from midnight to 23:00 on 2018-02-18: the 17th is 25
    # hours, in one span.
    "Sao Paulo": window(date(2018, 2, 15), date(2018, 2, 20), "America/Sao_Paulo", NOW),
    "back across midnight": back_across_midnight(),
}


@pytest.mark.parametrize("name", WINDOWS)
def test_day_spans_hold_each_second_on_the_day_the_counts_give_it(name: str) -> None:
    days = WINDOWS[name]
    spans = reports.day_spans(days)
    assert [rollup.day_of(s.day) for s in spans] == [d.isoformat() for d in days.days]
    start, end = rollup.seconds_of(days.start), rollup.seconds_of(days.end)
    # Every quarter hour and the second either side: each second is in the span of its own
    # day, and in no other span that claims to be whole.
    for moment in range(start, end, 900):
        for second in (moment - 1, moment, moment + 1):
            if not start <= second < end:
                continue
            own = _local_day_number(second, list(days.shifts))
            holding = [
                s for s in spans if rollup.seconds_of(s.start) <= second < rollup.seconds_of(s.end)
            ]
            assert own in {s.day for s in holding}, (name, second)
            assert all(s.day == own for s in holding if s.whole), (name, second)
    wholes = {
        "Sao Paulo": [True] * 6,
        "back across midnight": [False, False, True],
    }
    if name in wholes:
        assert [s.whole for s in spans] == wholes[name]
    if name == "Sao Paulo":
        assert spans[2].end - spans[2].start == timedelta(hours=25)
