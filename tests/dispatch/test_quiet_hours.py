"""Quiet hours and send_at as pure functions: every moment is given, no clock is read."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import timezone as phone_zones

from textbridge.dispatch import schedule
from textbridge.dispatch.quiet_hours import (
    DEFAULT_WINDOW,
    InvalidTimeZone,
    InvalidWindow,
    Window,
    allowed,
    estimated_zones,
    next_allowed,
    time_zone,
    zone_key,
    zones_of,
    zones_of_key,
)
from textbridge.messaging import status

NEW_YORK = "+12125550199"
LONDON_MOBILE = "+447911123456"
INDIA = "+919812345678"
AUSTRALIA_MOBILE = "+61412345678"
RUSSIA_MOBILE = "+79161234567"
NANP_TOLL_FREE = "+18005550199"  # every zone of +1: Guam to Samoa, Canada and the Caribbean


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def names(address: str) -> set[str]:
    return {zone.key for zone in estimated_zones(address)}


# ------------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("08:00-21:00", time(8), time(21)),
        (" 22:30-06:15 ", time(22, 30), time(6, 15)),
        ("09:00-24:00", time(9), time(0)),
    ],
)
def test_windows_parse(text: str, start: time, end: time) -> None:
    window = Window.parse(text)
    assert (window.start, window.end) == (start, end)
    assert Window.parse(str(window)) == window


@pytest.mark.parametrize("text", ["8-21", "08:00-08:00", "25:00-26:00", "08:00-24:30", "", "x"])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(InvalidWindow):
        Window.parse(text)


def test_a_window_over_midnight_contains_both_ends() -> None:
    night = Window.parse("22:00-06:00")
    assert [night.contains(time(hour)) for hour in (23, 5, 6, 12)] == [True, True, False, False]
    evening = Window.parse("18:00-24:00")
    assert [evening.contains(time(hour)) for hour in (23, 0, 18)] == [True, False, True]


# --------------------------------------------------------------------- time zone estimate


def test_zones_estimated_from_the_number() -> None:
    assert names(NEW_YORK) == {"America/New_York"}
    assert names("+14155550199") == {"America/Los_Angeles"}
    assert names("+16135550199") == {"America/Toronto"}  # Canada, Ottawa
    assert names("+15875550199") == {"America/Edmonton"}  # Canada, Alberta
    assert "Europe/London" in names(LONDON_MOBILE)  # with Jersey, Guernsey, Isle of Man
    assert names(INDIA) == {"Asia/Calcutta"}


def test_a_number_of_several_zones_keeps_them_all() -> None:
    assert {"Australia/Perth", "Australia/Sydney", "Australia/Lord_Howe"} <= names(AUSTRALIA_MOBILE)
    assert {"Europe/Moscow", "Asia/Kamchatka"} <= names(RUSSIA_MOBILE)
    assert {"America/St_Johns", "America/Vancouver", "Pacific/Honolulu"} <= names(NANP_TOLL_FREE)


def test_what_cannot_be_placed_is_utc() -> None:
    assert names("US.13491208655302741918") == {"UTC"}  # a WhatsApp business-scoped user id
    assert names("+999123") == {"UTC"}


def test_the_contacts_own_zone_wins() -> None:
    assert [zone.key for zone in zones_of(NEW_YORK, "Europe/Paris")] == ["Europe/Paris"]
    assert names(NEW_YORK) == {zone.key for zone in zones_of(NEW_YORK, None)}
    # A zone stored by hand that does not exist falls back to the estimate.
    assert [zone.key for zone in zones_of(NEW_YORK, "Mars/Olympus")] == ["America/New_York"]


@pytest.mark.parametrize("name", ["EST5", "../etc/passwd", "Europe/Nowhere", ""])
def test_only_iana_names_are_time_zones(name: str) -> None:
    with pytest.raises(InvalidTimeZone):
        time_zone(name)


# ------------------------------------------------------------------------ next allowed time


@pytest.mark.parametrize(
    ("address", "at", "expected"),
    [
        # New York, 22:00 EST: 08:00 EST next morning.
        (NEW_YORK, utc(2026, 12, 2, 3, 0), utc(2026, 12, 2, 13, 0)),
        # New York, 05:00 EST: 08:00 EST the same morning.
        (NEW_YORK, utc(2026, 12, 2, 10, 0), utc(2026, 12, 2, 13, 0)),
        # London in summer (BST, UTC+1): 21:30 local, so 08:00 BST = 07:00 UTC.
        (LONDON_MOBILE, utc(2026, 7, 1, 20, 30), utc(2026, 7, 2, 7, 0)),
        # India (UTC+5:30, no DST): 21:30 IST, so 08:00 IST = 02:30 UTC.
        (INDIA, utc(2026, 12, 1, 16, 0), utc(2026, 12, 2, 2, 30)),
    ],
)
def test_outside_the_window_waits_for_its_next_opening(
    address: str, at: datetime, expected: datetime
) -> None:
    zones = estimated_zones(address)
    assert not allowed(at, DEFAULT_WINDOW, zones)
    assert next_allowed(at, DEFAULT_WINDOW, zones) == expected


def test_inside_the_window_is_now() -> None:
    at = utc(2026, 12, 2, 15, 0)  # 10:00 in New York
    assert next_allowed(at, DEFAULT_WINDOW, estimated_zones(NEW_YORK)) == at


def test_several_zones_wait_for_the_window_of_all_of_them() -> None:
    zones = estimated_zones(AUSTRALIA_MOBILE)
    # December: Cocos Islands (UTC+6:30) open last at 01:30 UTC; Lord Howe and Sydney
    # (UTC+11 in summer) close first at 10:00 UTC.
    assert next_allowed(utc(2026, 12, 2, 0, 0), DEFAULT_WINDOW, zones) == utc(2026, 12, 2, 1, 30)
    assert next_allowed(utc(2026, 12, 2, 10, 0), DEFAULT_WINDOW, zones) == utc(2026, 12, 3, 1, 30)
    assert allowed(utc(2026, 12, 2, 9, 59), DEFAULT_WINDOW, zones)
    for zone in zones:
        local = utc(2026, 12, 2, 1, 30).astimezone(zone).time()
        assert DEFAULT_WINDOW.contains(local), zone


def test_russia_mobile_leaves_only_when_all_eleven_zones_are_awake() -> None:
    zones = estimated_zones(RUSSIA_MOBILE)
    leaves = next_allowed(utc(2026, 12, 2, 12, 0), DEFAULT_WINDOW, zones)
    assert all(DEFAULT_WINDOW.contains(leaves.astimezone(zone).time()) for zone in zones)
    assert leaves == utc(2026, 12, 3, 6, 0)  # 08:00 in Bucharest, 18:00 in Kamchatka


def test_windows_that_never_meet_use_the_middle_zone() -> None:
    zones = estimated_zones(NANP_TOLL_FREE)  # 21 hours from Samoa to Guam: 13-hour windows
    at = utc(2026, 12, 2, 12, 0)  # miss each other
    leaves = next_allowed(at, DEFAULT_WINDOW, zones)
    assert at <= leaves < at + timedelta(days=1)
    awake = [zone for zone in zones if DEFAULT_WINDOW.contains(leaves.astimezone(zone).time())]
    assert len(awake) > len(zones) // 2


# ------------------------------------------------------------------------------------ DST


@pytest.mark.parametrize(
    ("address", "at", "expected"),
    [
        # US spring forward (8 March 2026): Saturday 23:00 EST, Sunday 08:00 is EDT (UTC-4).
        (NEW_YORK, utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 12, 0)),
        # US fall back (1 November 2026): Saturday 23:00 EDT, Sunday 08:00 is EST (UTC-5).
        (NEW_YORK, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 13, 0)),
        # UK spring forward (29 March 2026): Saturday 22:00 GMT, Sunday 08:00 is BST.
        (LONDON_MOBILE, utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 7, 0)),
        # UK fall back (25 October 2026): 21:00 BST is 20:00 UTC; Sunday 08:00 is GMT.
        (LONDON_MOBILE, utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 8, 0)),
    ],
)
def test_dst_changes_move_the_opening_in_utc(
    address: str, at: datetime, expected: datetime
) -> None:
    assert next_allowed(at, DEFAULT_WINDOW, estimated_zones(address)) == expected


def test_a_window_end_on_a_dst_night_is_local() -> None:
    new_york = (ZoneInfo("America/New_York"),)
    late = Window.parse("06:00-01:30")
    # 1 November 2026: 01:00-02:00 happens twice; both 01:15s are inside, 01:45 EST is not.
    assert allowed(utc(2026, 11, 1, 5, 15), late, new_york)  # 01:15 EDT
    assert allowed(utc(2026, 11, 1, 6, 15), late, new_york)  # 01:15 EST
    assert next_allowed(utc(2026, 11, 1, 6, 45), late, new_york) == utc(2026, 11, 1, 11, 0)


# ------------------------------------------------------------------------ first status


NOW = utc(2026, 12, 2, 15, 0)  # 10:00 in New York, 20:30 in India


def test_no_send_at_and_no_window_leaves_now() -> None:
    assert schedule.departure(NOW, NEW_YORK) == schedule.Departure(status.ACCEPTED, NOW)


def test_a_send_at_ahead_is_scheduled() -> None:
    at = NOW + timedelta(hours=2)
    leaving = schedule.departure(NOW, NEW_YORK, send_at=at, window=DEFAULT_WINDOW)
    assert leaving == schedule.Departure(status.SCHEDULED, at)


def test_a_send_at_in_quiet_hours_is_held_to_the_opening() -> None:
    at = utc(2026, 12, 3, 3, 0)  # 22:00 in New York
    leaving = schedule.departure(NOW, NEW_YORK, send_at=at, window=DEFAULT_WINDOW)
    assert leaving == schedule.Departure(status.HELD, utc(2026, 12, 3, 13, 0))


def test_quiet_now_is_held() -> None:
    leaving = schedule.departure(NOW + timedelta(hours=1), INDIA, window=DEFAULT_WINDOW)
    assert leaving == schedule.Departure(status.HELD, utc(2026, 12, 3, 2, 30))


def test_the_contacts_zone_decides_at_accept() -> None:
    # 10:00 in New York is midnight in Tokyo: held until 08:00 JST.
    leaving = schedule.departure(NOW, NEW_YORK, window=DEFAULT_WINDOW, time_zone="Asia/Tokyo")
    assert leaving == schedule.Departure(status.HELD, utc(2026, 12, 2, 23, 0))


def test_without_quiet_hours_any_hour_goes() -> None:
    at = NOW + timedelta(hours=1)  # 21:30 in India
    assert schedule.departure(at, INDIA).status == status.ACCEPTED


def test_a_send_at_just_past_leaves_now() -> None:
    leaving = schedule.departure(NOW, NEW_YORK, send_at=NOW - timedelta(minutes=1))
    assert leaving == schedule.Departure(status.ACCEPTED, NOW)


# -------------------------------------------------------------------------- send_at checks


@pytest.mark.parametrize(
    ("send_at", "says"),
    [
        (datetime(2026, 12, 2, 16, 0), "UTC offset"),  # naive
        (NOW - timedelta(minutes=6), "in the past"),
        (NOW + timedelta(days=367), "days ahead"),
    ],
)
def test_send_at_that_cannot_be_meant_is_refused(send_at: datetime, says: str) -> None:
    with pytest.raises(schedule.InvalidSendAt, match=says):
        schedule.check_send_at(send_at, NOW)


@pytest.mark.parametrize(
    "send_at",
    [
        NOW - timedelta(minutes=4),
        NOW + timedelta(days=365),
        datetime(2026, 12, 2, 17, 0, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_send_at_within_bounds_is_taken(send_at: datetime) -> None:
    schedule.check_send_at(send_at, NOW)


@pytest.mark.parametrize("address", [NEW_YORK, LONDON_MOBILE, AUSTRALIA_MOBILE, NANP_TOLL_FREE])
def test_a_zone_key_stands_for_the_number(address: str) -> None:
    key = zone_key(address)
    assert zones_of_key(key) == estimated_zones(address)
    at = utc(2026, 12, 3, 3, 0)
    assert schedule.departure_in(NOW, key, send_at=at, window=DEFAULT_WINDOW) == (
        schedule.departure(NOW, address, send_at=at, window=DEFAULT_WINDOW)
    )


def test_a_contacts_zone_is_a_key_too() -> None:
    assert schedule.departure_in(NOW, "Asia/Tokyo", window=DEFAULT_WINDOW) == (
        schedule.departure(NOW, NEW_YORK, window=DEFAULT_WINDOW, time_zone="Asia/Tokyo")
    )
    assert zones_of_key("Nowhere/Unknown") == (ZoneInfo("UTC"),)


def test_shared_answers_match_phonenumbers_number_by_number() -> None:
    """The per-prefix sharing in `estimated_zones` gives what phonenumbers gives for each
    number (random valid numbers of one- and many-zone countries, seeded)."""
    chooser = random.Random(7)
    shapes = [("1", 10), ("61", 9), ("7", 10), ("44", 10), ("91", 10), ("49", 11), ("52", 10)]
    numbers = [
        f"+{code}{chooser.randrange(10**length):0{length}d}"
        for code, length in shapes
        for _ in range(600)
    ]
    valid = [n for n in numbers if phonenumbers.is_valid_number(phonenumbers.parse(n))]
    assert len(valid) > 1000
    for number in valid:
        expected = {
            name
            for name in phone_zones.time_zones_for_number(phonenumbers.parse(number))
            if name != phone_zones.UNKNOWN_TIMEZONE
        } or {"UTC"}
        assert names(number) == expected, number
