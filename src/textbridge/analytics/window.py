"""The days a report covers, in a time zone, and how a UTC time becomes one of those days.

Days are counted in the caller's zone: `from` and `to` are local dates, both included. The
databases do not share a way to name a zone (PostgreSQL has its own copy of the zone data,
SQLite none), so the conversion is done once, here, with Python's `zoneinfo`: the range is
cut into spans of one UTC offset (a zone with daylight saving has two or three a year), and a
row's local day is its UTC time shifted by its span's offset. Both databases get the same
spans, hence the same days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, available_timezones

MAX_DAYS = 366
DEFAULT_DAYS = 30
WINDOWS_KEPT = 256


class WindowError(ValueError):
    """A range or zone that cannot be reported on; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Shift:
    """From `since` (UTC) until the next shift, local time is UTC plus `seconds`."""

    since: datetime
    seconds: int


@dataclass(frozen=True, slots=True)
class Window:
    first_day: date
    last_day: date
    zone_name: str
    start: datetime
    """The first day's local midnight, in UTC (included)."""
    end: datetime
    """The local midnight after the last day, in UTC (excluded)."""
    shifts: tuple[Shift, ...]

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]


@cache
def zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_of(name: str) -> ZoneInfo:
    if name not in zone_names():
        raise WindowError("tz", "not a time zone name (IANA, e.g. Europe/Paris or UTC)")
    return ZoneInfo(name)


def window(first_day: date | None, last_day: date | None, zone_name: str, now: datetime) -> Window:
    """The days from `first_day` to `last_day` in the zone; by default the `DEFAULT_DAYS`
    days up to today there."""
    zone = zone_of(zone_name)
    for name, day in (("from", first_day), ("to", last_day)):
        if day is not None and not 2 <= day.year <= 9998:
            raise WindowError(name, "a date between the years 2 and 9998")
    last_day = last_day or now.astimezone(zone).date()
    first_day = first_day or last_day - timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise WindowError("from", "`from` is after `to`")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise WindowError("to", f"a report covers at most {MAX_DAYS} days")
    return _window(first_day, last_day, zone_name)


@lru_cache(maxsize=WINDOWS_KEPT)
def _window(first_day: date, last_day: date, zone_name: str) -> Window:
    """Kept: the same days in the same zone always make the same (immutable) window, and
    finding its shifts takes a few hundred offset look-ups (120 samples for 30 days)."""
    zone = ZoneInfo(zone_name)
    start, end = _midnight(first_day, zone), _midnight(last_day + timedelta(days=1), zone)
    return Window(first_day, last_day, zone_name, start, end, _shifts(start, end, zone))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # A zone whose clocks jump over midnight (rare) starts that day at the jump's end.
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _offset(moment: datetime, zone: ZoneInfo) -> int:
    offset = moment.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _shifts(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[Shift, ...]:
    """The spans of one offset between start and end: sampled every 6 hours (no zone changes
    its offset twice within that), each change found to the second by bisection."""
    found = [Shift(start, _offset(start, zone))]
    step = timedelta(hours=6)
    moment = start
    while moment < end:
        following = min(moment + step, end)
        if _offset(following, zone) != found[-1].seconds:
            change = _first_change(moment, following, zone)
            found.append(Shift(change, _offset(change, zone)))
        moment = following
    return tuple(found)


def _first_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first second in (before, after] with `after`'s offset."""
    target = _offset(after, zone)
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _offset(middle, zone) == target:
            high = middle
        else:
            low = middle
    return high
