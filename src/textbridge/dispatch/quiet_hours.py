"""Quiet hours: when a message may reach its recipient, in the recipient's own local time.

A `Window` such as 08:00-21:00 is the part of the local day when messages may leave; the rest
of the day is quiet. The recipient's time zone is the contact's own (`contacts.time_zone`, set
through the API) or else estimated from the number with `phonenumbers`.

One number may map to several zones: an area code on a zone border, a mobile range that covers a
whole country (+7 9xx: Kaliningrad to Kamchatka). A moment is allowed only when it is inside the
window in every one of them, so nobody is woken because we guessed the wrong zone. When those
windows never meet (a 13-hour window across +1 800, Guam to Samoa), no moment suits them all: we
then use the zone in the middle of them by UTC offset, which is at most half the spread off.
A number we cannot place at all is taken to be in UTC; the per-contact override fixes both.

Every function takes the moment it reasons about: no clock is read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers import timezone as phone_zones
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
UNKNOWN_ZONE = ZoneInfo("UTC")
# Days of window openings looked at around a moment: the soonest allowed moment is never
# further than a day and a DST shift away when the windows meet at all.
_DAYS_AROUND = range(-1, 3)


class InvalidWindow(ValueError):
    """Not a window of the form HH:MM-HH:MM with two different times."""


class InvalidTimeZone(ValueError):
    """Not an IANA time zone name (Europe/Paris, America/New_York)."""


@dataclass(frozen=True, slots=True)
class Window:
    """The local hours when messages may leave: [start, end). It may span midnight
    (22:00-06:00); 24:00 as the end means midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        found = _WINDOW.match(text.strip())
        if found is None:
            raise InvalidWindow(f"{text!r} is not a window of the form HH:MM-HH:MM (08:00-21:00)")
        start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
        if end_h == 24 and end_m != 0:
            raise InvalidWindow(f"{text!r}: the latest end is 24:00")
        start, end = time(start_h, start_m), time(end_h % 24, end_m)
        if start == end:
            raise InvalidWindow(f"{text!r} is empty; to send at any hour, turn quiet hours off")
        return cls(start, end)

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0) else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}-{end}"

    def contains(self, local: time) -> bool:
        if self.end == time(0):
            return local >= self.start
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


DEFAULT_WINDOW = Window(time(8), time(21))


@lru_cache(maxsize=256)
def window_of(text: str) -> Window:
    """`Window.parse`, remembered: every claimed message names its window as text."""
    return Window.parse(text)


def time_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name, refusing anything else (a path, an abbreviation like EST)."""
    if name not in _known_zone_names():
        raise InvalidTimeZone(f"{name!r} is not an IANA time zone name, e.g. Europe/Paris")
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def _known_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zones_of(address: str, override: str | None = None) -> tuple[ZoneInfo, ...]:
    """The recipient's zone: the contact's override when set, else estimated from the number."""
    if override:
        try:
            return (time_zone(override),)
        except InvalidTimeZone:
            pass  # refused when set through the API; a hand-edited row falls back to the number
    return estimated_zones(address)


def zone_key(address: str) -> str:
    """The number's estimated zones as one text ("Europe/London,Europe/Jersey"), to store
    beside a recipient and group by: a campaign's recipients share a few dozen keys at most.
    A contact's own zone name is a key too."""
    return ",".join(zone.key for zone in estimated_zones(address))


@lru_cache(maxsize=4096)
def zones_of_key(key: str) -> tuple[ZoneInfo, ...]:
    zones = []
    for name in key.split(","):
        try:
            zones.append(time_zone(name))
        except InvalidTimeZone:
            continue
    return tuple(zones) or (UNKNOWN_ZONE,)


def estimated_zones(address: str) -> tuple[ZoneInfo, ...]:
    """Every zone `phonenumbers` gives for the number; UTC when it knows none (or the address
    is not a phone number, e.g. a WhatsApp user id).

    `phonenumbers` answers from the number's type (geographic or not: 30 to 80 us of pattern
    matching) and its longest prefix in the time-zone data (an area code, often an exchange).
    Numbers under one such prefix are nearly always of one type, so once the first
    `_SAMPLES` numbers of a prefix agreed, its answer is shared (and a country of one zone
    needs no lookup at all): a campaign of 100 000 US
    numbers costs a few thousand lookups. A prefix whose numbers disagree (fixed lines and
    mobiles in one Caribbean area code) is looked up number by number from then on."""
    digits = address[1:]
    if not (address.startswith("+") and digits.isdigit()):
        return (UNKNOWN_ZONE,)
    country = _country_code(digits)
    only = _only_zone_of(country)
    if only is not None:
        return only
    prefix = _data_prefix(digits)
    key = (prefix, len(digits))
    if len(prefix) < len(country) + _AREA_DIGITS or key in _MIXED:
        return _by_number(address)  # a country-wide prefix is too coarse to share
    shared = _BY_PREFIX.get(key)
    if shared is not None and shared[1] >= _SAMPLES:
        return shared[0]
    found = _by_number(address)
    if shared is not None and shared[0] != found:
        _MIXED.add(key)
        del _BY_PREFIX[key]
    else:
        if len(_BY_PREFIX) >= _BY_PREFIX_LIMIT:
            _BY_PREFIX.clear()
        _BY_PREFIX[key] = (found, 1 + (shared[1] if shared else 0))
    return found


_SAMPLES = 8
_BY_PREFIX: dict[tuple[str, int], tuple[tuple[ZoneInfo, ...], int]] = {}
_BY_PREFIX_LIMIT = 100_000
_MIXED: set[tuple[str, int]] = set()
_AREA_DIGITS = 3


def _country_code(digits: str) -> str:
    for length in (1, 2, 3):
        if int(digits[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[:length]
    return digits[:3]


@lru_cache(maxsize=512)
def _only_zone_of(country: str) -> tuple[ZoneInfo] | None:
    """The zone of a country calling code that has one in all of its time-zone data (most
    have): every number there is in it, and no lookup is needed."""
    names = {
        name for key, zones in TIMEZONE_DATA.items() if key.startswith(country) for name in zones
    }
    if len(names) != 1:
        return None
    try:
        return (ZoneInfo(names.pop()),)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65_536)
def _by_number(address: str) -> tuple[ZoneInfo, ...]:
    return _lookup(address)


def _data_prefix(digits: str) -> str:
    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
        if digits[:length] in TIMEZONE_DATA:
            return digits[:length]
    return ""


def _lookup(address: str) -> tuple[ZoneInfo, ...]:
    try:
        number = phonenumbers.parse(address)
    except phonenumbers.NumberParseException:
        return (UNKNOWN_ZONE,)
    zones = []
    for name in phone_zones.time_zones_for_number(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):  # "Etc/Unknown"
            continue
    return tuple(zones) or (UNKNOWN_ZONE,)


def allowed(at: datetime, window: Window, zones: tuple[ZoneInfo, ...]) -> bool:
    """True when `at` is inside the window in every zone."""
    return all(window.contains(at.astimezone(zone).time()) for zone in zones)


def next_allowed(at: datetime, window: Window, zones: tuple[ZoneInfo, ...]) -> datetime:
    """`at` itself when allowed, else the soonest later moment inside the window in every zone."""
    if allowed(at, window, zones):
        return at
    for candidate in sorted(_openings_after(at, window, zones)):
        if allowed(candidate, window, zones):
            return candidate
    if len(zones) > 1:  # the windows never meet: see the module docstring
        return next_allowed(at, window, (_middle_zone(at, zones),))
    return at  # unreachable for a non-empty window; never hold a message for ever


def _openings_after(
    at: datetime, window: Window, zones: tuple[ZoneInfo, ...]
) -> Iterator[datetime]:
    """The moments a window opens in each zone, around `at` and after it. The soonest allowed
    moment is one of them: the intersection opens when the last of its zones opens."""
    for zone in zones:
        today = at.astimezone(zone).date()
        for offset in _DAYS_AROUND:
            for opening in _local_moments(today + timedelta(days=offset), window.start, zone):
                if opening > at:
                    yield opening


def _local_moments(day: date, clock: time, zone: ZoneInfo) -> tuple[datetime, ...]:
    """`clock` on `day` in `zone`, as UTC; both readings of a time that a DST change repeats
    or skips (a skipped 02:30 in spring reads as 01:30 or 03:30, and only the latter is
    inside a window opening at 02:30)."""
    return tuple(
        datetime.combine(day, clock, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        for fold in (0, 1)
    )


def _middle_zone(at: datetime, zones: tuple[ZoneInfo, ...]) -> ZoneInfo:
    by_offset = sorted(zones, key=lambda zone: at.astimezone(zone).utcoffset() or timedelta(0))
    return by_offset[len(by_offset) // 2]
