"""SMS quiet hours against hand-computed UTC windows (pure: no database).

Every expected interval below was worked out by hand from the zone's UTC offset on that local date
(EST -5 / EDT -4, CST -6 / CDT -5, MST -7 / MDT -6, Arizona -7, PST -8 / PDT -7, AKST -9 / AKDT -8,
Hawaii -10); none is computed with zoneinfo, so a DST mistake in the module cannot hide here.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from messaging.quiet_hours import (
    EVERYWHERE_ZONES,
    STATE_RULES,
    NeverOpenError,
    Profile,
    Recipient,
    is_open,
    next_open,
    open_for,
    open_profiles,
    open_until,
    phone_zones,
    profile_of,
    zip_zone,
)

STEP = timedelta(minutes=15)
LEASES = (60, 1800, 2 * 3600)  # seconds


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def w(month: int, day: int, open_hour: int, close_hour: int) -> tuple[datetime, datetime]:
    """A UTC interval from its opening hour; a close at an earlier hour is on the next day."""
    opens = utc(month, day, open_hour)
    closes = opens.replace(hour=close_hour) + timedelta(days=close_hour <= open_hour)
    return opens, closes


RECIPIENTS = {
    "eastern": Recipient("10001", "+12122345678", "NY"),
    "central": Recipient("60601", "+13122345678", "IL"),
    "mountain": Recipient("80202", "+13032345678", "CO"),
    "arizona": Recipient("85001", "+16022345678", "AZ"),
    "pacific": Recipient("90012", "+12132345678", "CA"),
    "alaska": Recipient("99501", "+19072725678", "AK"),
    "hawaii": Recipient("96813", "+18082345678", "HI"),
    # No ZIP, a toll-free number and no state: the window legal everywhere, under every state rule.
    "unknown": Recipient(None, "+18002345678", None),
    # A Manhattan cell at a Los Angeles address: 08:00 Pacific to 21:00 Eastern.
    "conflicting": Recipient("90012", "+12122345678", "CA"),
}

# Spring: Sunday 2026-03-08 00:00 UTC for 48 hours (the clocks go forward that Sunday at 02:00).
SPRING = utc(3, 8, 0)
SPRING_OPEN = {
    "eastern": [w(3, 7, 13, 2), w(3, 8, 12, 1), w(3, 9, 12, 1)],
    "central": [w(3, 7, 14, 3), w(3, 8, 13, 2), w(3, 9, 13, 2)],
    "mountain": [w(3, 7, 15, 4), w(3, 8, 14, 3), w(3, 9, 14, 3)],
    "arizona": [w(3, 7, 15, 4), w(3, 8, 15, 4), w(3, 9, 15, 4)],
    "pacific": [w(3, 7, 16, 5), w(3, 8, 15, 4), w(3, 9, 15, 4)],
    "alaska": [w(3, 7, 17, 6), w(3, 8, 16, 5), w(3, 9, 16, 5)],
    "hawaii": [w(3, 7, 18, 7), w(3, 8, 18, 7), w(3, 9, 18, 7)],
    # Weekdays only (South Dakota), 10:00 (Kentucky) Hawaii time to 18:00 (Rhode Island) Eastern.
    "unknown": [w(3, 9, 20, 22)],
    "conflicting": [w(3, 7, 16, 2), w(3, 8, 15, 1), w(3, 9, 15, 1)],
}

# Autumn: Sunday 2026-11-01 00:00 UTC for 48 hours (the clocks go back that Sunday at 02:00).
AUTUMN = utc(11, 1, 0)
AUTUMN_OPEN = {
    "eastern": [w(10, 31, 12, 1), w(11, 1, 13, 2), w(11, 2, 13, 2)],
    "central": [w(10, 31, 13, 2), w(11, 1, 14, 3), w(11, 2, 14, 3)],
    "mountain": [w(10, 31, 14, 3), w(11, 1, 15, 4), w(11, 2, 15, 4)],
    "arizona": [w(10, 31, 15, 4), w(11, 1, 15, 4), w(11, 2, 15, 4)],
    "pacific": [w(10, 31, 15, 4), w(11, 1, 16, 5), w(11, 2, 16, 5)],
    "alaska": [w(10, 31, 16, 5), w(11, 1, 17, 6), w(11, 2, 17, 6)],
    "hawaii": [w(10, 31, 18, 7), w(11, 1, 18, 7), w(11, 2, 18, 7)],
    # Puerto Rico (UTC-4 all year) now closes first: 18:00 AST is 22:00 UTC.
    "unknown": [w(11, 2, 20, 22)],
    "conflicting": [w(10, 31, 15, 1), w(11, 1, 16, 2), w(11, 2, 16, 2)],
}

SWEEPS = [(SPRING, SPRING_OPEN), (AUTUMN, AUTUMN_OPEN)]


def expected_open(intervals: list[tuple[datetime, datetime]], at: datetime) -> bool:
    return any(start <= at < end for start, end in intervals)


def expected_open_for(intervals: list[tuple[datetime, datetime]], at: datetime, lease: int) -> bool:
    return any(start <= at and at + timedelta(seconds=lease) <= end for start, end in intervals)


def sweep(start: datetime) -> list[datetime]:
    return [start + i * STEP for i in range(48 * 4)]


@pytest.mark.parametrize(("start", "table"), SWEEPS, ids=["spring", "autumn"])
@pytest.mark.parametrize("name", list(RECIPIENTS))
def test_is_open_matches_hand_computed_window_every_15_minutes(start, table, name):
    recipient = RECIPIENTS[name]
    mismatches = [
        at for at in sweep(start) if is_open(at, recipient) != expected_open(table[name], at)
    ]
    assert mismatches == []


@pytest.mark.parametrize(("start", "table"), SWEEPS, ids=["spring", "autumn"])
def test_no_lease_is_handed_out_that_outlasts_the_window(start, table):
    out_of_window = 0
    wrong = 0
    handed_out = 0
    for name, recipient in RECIPIENTS.items():
        for at in sweep(start):
            for lease in LEASES:
                granted = open_for(at, recipient, lease)
                handed_out += granted
                # The lease [at, at + lease) walked minute by minute against the hand-made windows.
                minutes = range(lease // 60 + (lease % 60 > 0))
                ends_outside = any(
                    not expected_open(table[name], at + timedelta(minutes=m)) for m in minutes
                ) or not expected_open(table[name], at + timedelta(seconds=lease - 1))
                out_of_window += granted and ends_outside
                wrong += granted != expected_open_for(table[name], at, lease)
    assert out_of_window == 0
    assert wrong == 0
    assert handed_out > 0


def test_spring_forward_day_opens_at_eight_by_the_wall_clock():
    # 08:00 EDT on 2026-03-08 is 12:00 UTC; a zone table stuck on EST would open at 13:00.
    eastern = RECIPIENTS["eastern"]
    assert not is_open(utc(3, 8, 11, 59), eastern)
    assert is_open(utc(3, 8, 12), eastern)
    assert next_open(utc(3, 8, 3), eastern) == utc(3, 8, 12)
    # 08:00 PDT is 15:00 UTC; Arizona stays on MST, 08:00 there is 15:00 UTC as well.
    assert next_open(utc(3, 8, 6), RECIPIENTS["pacific"]) == utc(3, 8, 15)
    assert next_open(utc(3, 8, 6), RECIPIENTS["arizona"]) == utc(3, 8, 15)


def test_fall_back_day_closes_at_nine_by_the_wall_clock():
    # Saturday 2026-10-31 21:00 EDT is 01:00 UTC; Sunday 21:00 EST is 02:00 UTC.
    eastern = RECIPIENTS["eastern"]
    assert open_until(utc(10, 31, 20), eastern) == utc(11, 1, 1)
    assert open_until(utc(11, 1, 20), eastern) == utc(11, 2, 2)


def test_florida_ends_at_eight():
    miami = Recipient("33101", "+13052345678", "FL")
    # Monday 2026-03-09, EDT: 20:00 local is 00:00 UTC the next day.
    assert is_open(utc(3, 9, 23, 59), miami)
    assert not is_open(utc(3, 10, 0), miami)
    assert open_until(utc(3, 9, 15), miami) == utc(3, 10, 0)
    assert not open_for(utc(3, 9, 23, 45), miami, 1800)


def test_connecticut_opens_at_nine_and_ends_at_eight():
    hartford = Recipient("06101", "+18602345678", "CT")
    assert not is_open(utc(3, 9, 12, 59), hartford)
    assert is_open(utc(3, 9, 13), hartford)
    assert next_open(utc(3, 9, 11), hartford) == utc(3, 9, 13)
    assert open_until(utc(3, 9, 13), hartford) == utc(3, 10, 0)


def test_texas_opens_at_noon_on_sunday():
    houston = Recipient("77002", "+17132345678", "TX")
    # Sunday 2026-03-08, CDT (UTC-5): noon is 17:00 UTC.
    assert next_open(utc(3, 8, 13), houston) == utc(3, 8, 17)


def test_rhode_island_is_closed_on_sunday():
    providence = Recipient("02903", "+14012345678", "RI")
    # Sunday 2026-03-08: nothing until Monday 09:00 EDT (13:00 UTC).
    assert next_open(utc(3, 8, 14), providence) == utc(3, 9, 13)


def test_area_code_state_applies_its_law_at_a_new_york_address():
    # Florida presumes a call to a Florida area code is a call into Florida.
    profile = profile_of("10001", "+13052345678", "NY")
    assert profile == Profile(zones=("America/New_York",), states=("FL",))
    assert not is_open(utc(3, 10, 0, 30), profile)


def test_address_and_zip_states_both_apply():
    # A Hartford ZIP on a voter whose address says NY: Connecticut's 09:00 opening holds.
    assert profile_of("06101", None, "NY").states == ("CT",)


def test_next_open_is_the_earliest_open_instant_at_or_after():
    rng = random.Random(14)
    names = list(RECIPIENTS)
    for _ in range(60):
        recipient = RECIPIENTS[rng.choice(names)]
        at = utc(3, 1, 0) + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
        found = next_open(at, recipient)
        assert found >= at
        assert is_open(found, recipient)
        if found > at:
            # Window boundaries fall on whole minutes: every minute before `found` is closed.
            steps = int((found - at).total_seconds() // 60)
            assert not any(is_open(at + timedelta(minutes=m), recipient) for m in range(steps))
            assert not is_open(found - timedelta(microseconds=1), recipient)


def test_next_open_of_an_open_instant_is_that_instant():
    at = utc(3, 9, 14, 7) + timedelta(seconds=13)
    assert next_open(at, RECIPIENTS["eastern"]) == at


def test_unknown_recipient_waits_for_the_weekday_window():
    assert next_open(utc(3, 7, 12), RECIPIENTS["unknown"]) == utc(3, 9, 20)
    assert open_until(utc(3, 9, 20), RECIPIENTS["unknown"]) == utc(3, 9, 22)


def test_unknown_profile_has_every_zone_and_every_state_rule():
    profile = profile_of(None, None, None)
    assert profile.zones == tuple(sorted(EVERYWHERE_ZONES))
    assert profile.states == tuple(sorted(STATE_RULES))


def test_known_state_without_zone_uses_the_zones_of_its_zips():
    assert profile_of(None, None, "TX").zones == ("America/Chicago", "America/Denver")


def test_profile_that_never_opens_raises():
    # Guam and New York never share an hour of Rhode Island's weekday 09:00-18:00.
    profile = Profile(zones=("America/New_York", "Pacific/Guam"), states=("RI",))
    with pytest.raises(NeverOpenError):
        next_open(utc(3, 9, 0), profile)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        is_open(datetime(2026, 3, 9, 15), RECIPIENTS["eastern"])


def test_open_profiles_keeps_those_open_for_the_lease():
    profiles = {name: profile_of(r.zip5, r.phone, r.state) for name, r in RECIPIENTS.items()}
    # Monday 2026-03-09 00:30 UTC: 20:30 EDT, 19:30 CDT, ... 14:30 HST.
    opened = open_profiles(utc(3, 9, 0, 30), profiles.values(), lease_seconds=1800)
    names = sorted(name for name, p in profiles.items() if p in opened)
    assert names == [
        "alaska", "arizona", "central", "conflicting", "eastern", "hawaii", "mountain", "pacific"
    ]  # fmt: skip
    # An hour-long lease no longer fits before 21:00 EDT, in New York or for the Manhattan number.
    opened = open_profiles(utc(3, 9, 0, 30), profiles.values(), lease_seconds=3600)
    assert profiles["eastern"] not in opened
    assert profiles["conflicting"] not in opened
    assert profiles["central"] in opened


def test_recipients_share_profiles():
    assert profile_of("10001", "+12122345678", "NY") is profile_of("10001", "+12122349999", "NY")
    assert profile_of("10001", "(212) 234-5678", "ny") == profile_of("10001-1234", None, "NY")


@pytest.mark.parametrize(
    ("zip5", "zone", "state"),
    [
        ("85001", "America/Phoenix", "AZ"),  # Arizona keeps MST all year
        ("86515", "America/Denver", "AZ"),  # Window Rock: the Navajo Nation keeps DST
        ("86039", "America/Phoenix", "AZ"),  # Kykotsmovi: the Hopi Reservation does not
        ("96813", "Pacific/Honolulu", "HI"),
        ("99501", "America/Anchorage", "AK"),
        ("32501", "America/Chicago", "FL"),  # Pensacola: the panhandle is Central
        ("46320", "America/Chicago", "IN"),  # Hammond: north-west Indiana is Central
        ("47901", "America/Indiana/Indianapolis", "IN"),
        ("37402", "America/New_York", "TN"),  # Chattanooga: east Tennessee is Eastern
        ("37201", "America/Chicago", "TN"),
        ("58601", "America/Denver", "ND"),  # Dickinson: south-west North Dakota is Mountain
        ("97914", "America/Boise", "OR"),  # Ontario, OR: Malheur County is Mountain
        ("83814", "America/Los_Angeles", "ID"),  # Coeur d'Alene: the panhandle is Pacific
        ("79901", "America/Denver", "TX"),  # El Paso
        ("00000", None, None),
        ("", None, None),
    ],
)
def test_zip_zone(zip5, zone, state):
    assert zip_zone(zip5) == (zone, state)


@pytest.mark.parametrize(
    ("phone", "zones", "state"),
    [
        ("+12122345678", ("America/New_York",), "NY"),
        ("+18082345678", ("Pacific/Honolulu",), "HI"),
        ("+18602345678", ("America/New_York",), "CT"),
        # The Navajo exchanges of 928 span the Navajo Nation (DST) and the rest of Arizona.
        ("+19282835678", ("America/Denver", "America/Phoenix"), "AZ"),
        ("+19072005678", ("America/Adak", "America/Anchorage"), "AK"),  # Aleutian Adak too
        ("+18002345678", (), None),  # toll-free: no place
        ("+15552345678", (), None),  # not a valid area code
        ("+442071234567", (), None),  # not North American
        ("not a phone", (), None),
        (None, (), None),
    ],
)
def test_phone_zones(phone, zones, state):
    assert phone_zones(phone) == (zones, state)


def test_navajo_exchange_at_a_phoenix_zip_keeps_the_stricter_window():
    # Tuba City's ZIP says Phoenix (MST all year); its 928-283 exchange also says Denver, as the
    # Navajo Nation keeps DST. On 2026-07-01 21:00 MDT (03:00 UTC) comes before 21:00 MST.
    tuba_city = Recipient("86045", "+19282835678", "AZ")
    assert profile_of("86045", "+19282835678", "AZ").zones == ("America/Denver", "America/Phoenix")
    assert is_open(datetime(2026, 7, 2, 2, 59, tzinfo=UTC), tuba_city)
    assert not is_open(datetime(2026, 7, 2, 3, 0, tzinfo=UTC), tuba_city)
    # And it opens at 08:00 MST (15:00 UTC), an hour after 08:00 MDT.
    assert next_open(datetime(2026, 7, 2, 3, 0, tzinfo=UTC), tuba_city) == datetime(
        2026, 7, 2, 15, 0, tzinfo=UTC
    )
