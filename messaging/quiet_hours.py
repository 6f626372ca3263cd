"""SMS quiet hours (issue 14 §2): when a text may be released to a recipient.

A message may go out only while the window is open in *every* time zone the recipient might be in
and under the law of *every* state whose rules might apply; when nothing is known, only the window
that is legal everywhere in the US holds. Pure module: no Django, no database.

- Zones: the ZIP's IANA zone (the `zipcodes` package, whose data ships inside its wheel) plus every
  zone `phonenumbers` gives for the number's area code and exchange (NPA-NXX). A toll-free or
  other non-geographic number, or one whose area code is not in use, adds none. No zone at all:
  the zones of the address state's ZIPs; no state either: every zone of the 50 states, DC, PR
  and VI (`EVERYWHERE_ZONES`).
- States: the address state, the ZIP's state and the area code's state (Connecticut, Florida and
  Oklahoma presume that a number with their area code is called in the state). No state known at
  all: every rule in `STATE_RULES` at once.
- Windows are local wall-clock times, so a window on a DST day is 08:00-21:00 by the clock on the
  wall; they are turned into UTC intervals per local date, which handles DST, Arizona and Hawaii.

Recipients share a few hundred distinct `Profile`s (zone set, state set); the outbox groups by
profile, and each profile's open intervals are computed once per week and then bisected.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import zipcodes
from phonenumbers import PhoneNumberType, geocoder
from phonenumbers import timezone as phone_timezone

# A day's window in local wall-clock minutes, [start, end); None: no message that day.
DayWindow = tuple[int, int] | None
# Monday first, as date.weekday() counts.
Week = tuple[DayWindow, ...]


def _hm(hour: int, minute: int = 0) -> int:
    return hour * 60 + minute


def _week(weekdays: DayWindow, saturday: DayWindow, sunday: DayWindow) -> Week:
    return (weekdays,) * 5 + (saturday, sunday)


def _daily(window: DayWindow) -> Week:
    return _week(window, window, window)


# 47 U.S.C. § 227(c) and 47 C.F.R. § 64.1200(c)(1): no solicitation before 8 a.m. or after 9 p.m.
# at the called party's location. The issue asks for it on every text, whatever the content.
BASE_WEEK: Week = _daily((_hm(8), _hm(21)))


@dataclass(frozen=True)
class StateRule:
    """A state's calling/texting hours; `verified` says whether the text of the law was read."""

    week: Week
    citation: str
    verified: bool


# The strictest hours in the states' telemarketing ("mini-TCPA") laws. Most of these laws name
# commercial sales calls, and several exempt political or non-profit messages; we apply them to
# every text anyway, because being an hour early costs nothing and being an hour late is a
# per-message fine where they do apply. Holidays (AL, LA, MS, PA, RI, UT close on state holidays)
# are not modelled. verified=False: hours taken from compliance tables, the statute's text unread.
STATE_RULES: dict[str, StateRule] = {
    "AL": StateRule(
        _week((_hm(8), _hm(20)), (_hm(8), _hm(20)), None),
        "Ala. Public Service Commission solicitation rules (Ala. Admin. Code ch. 770-X-5)",
        verified=False,
    ),
    "CT": StateRule(
        _daily((_hm(9), _hm(20))),
        "Conn. Gen. Stat. § 42-288a, as amended by P.A. 23-98 (9 a.m.-8 p.m.)",
        verified=False,
    ),
    "FL": StateRule(
        _daily((_hm(8), _hm(20))),
        "Fla. Stat. § 501.616(6)(a) (2021 SB 1120: 'before 8 a.m. or after 8 p.m.')",
        verified=True,
    ),
    "KY": StateRule(
        _daily((_hm(10), _hm(21))),
        "Ky. Rev. Stat. § 367.46955 (no calls between 9 p.m. and 10 a.m.)",
        verified=False,
    ),
    "LA": StateRule(
        _week((_hm(8), _hm(20)), (_hm(8), _hm(20)), None),
        "La. R.S. 45:811; La. PSC General Order R-29617 § V(A)(2) (8 a.m.-8 p.m., none on Sunday)",
        verified=True,
    ),
    "MA": StateRule(
        _daily((_hm(8), _hm(20))),
        "Mass. Gen. Laws ch. 159C § 3; 201 CMR 12.02",
        verified=False,
    ),
    "MD": StateRule(
        _daily((_hm(8), _hm(20))),
        "Md. Code, Com. Law § 14-4502 (Stop the Spam Calls Act of 2023)",
        verified=True,
    ),
    "MI": StateRule(
        _daily((_hm(9), _hm(21))),
        "Mich. Comp. Laws § 445.111b",
        verified=False,
    ),
    "MN": StateRule(
        _daily((_hm(9), _hm(21))),
        "Minn. Stat. § 325E.27",
        verified=False,
    ),
    "MS": StateRule(
        _week((_hm(8), _hm(20)), (_hm(8), _hm(20)), None),
        "Miss. Code Ann. § 77-3-725",
        verified=False,
    ),
    "NM": StateRule(
        _daily((_hm(9), _hm(21))),
        "N.M. Stat. § 57-12-22",
        verified=False,
    ),
    "NV": StateRule(
        _daily((_hm(9), _hm(20))),
        "Nev. Rev. Stat. ch. 228 (telephone solicitation)",
        verified=False,
    ),
    "OK": StateRule(
        _daily((_hm(8), _hm(20))),
        "Okla. Stat. tit. 15, § 775C.4 (Telephone Solicitation Act of 2022)",
        verified=True,
    ),
    "RI": StateRule(
        _week((_hm(9), _hm(18)), (_hm(10), _hm(17)), None),
        "R.I. Gen. Laws § 5-61-3.6 ('hours of operation' defined in § 5-61-2)",
        verified=False,
    ),
    "SD": StateRule(
        _week((_hm(9), _hm(21)), None, None),
        "S.D. Codified Laws § 37-30-28 (automated dialing: weekdays 9 a.m.-9 p.m.)",
        verified=True,
    ),
    "TX": StateRule(
        _week((_hm(9), _hm(21)), (_hm(9), _hm(21)), (_hm(12), _hm(21))),
        "Tex. Bus. & Com. Code § 301.051",
        verified=False,
    ),
    "UT": StateRule(
        _week((_hm(8), _hm(21)), (_hm(8), _hm(21)), None),
        "Utah Code § 13-25a-103",
        verified=False,
    ),
    "WA": StateRule(
        _daily((_hm(8), _hm(20))),
        "RCW 19.158.040(2) ('before 8:00 a.m. or after 8:00 p.m.'); RCW 80.36.390",
        verified=True,
    ),
}

# Every zone in use in the 50 states, DC, Puerto Rico and the US Virgin Islands. The Pacific
# territories (Guam, Saipan, Pago Pago) are left out: with them the "legal everywhere" window
# shrinks to four hours, and a voter there is known by ZIP or area code (671, 670) anyway.
EVERYWHERE_ZONES: tuple[str, ...] = (
    "America/Adak",
    "America/Anchorage",
    "America/Boise",
    "America/Chicago",
    "America/Denver",
    "America/Detroit",
    "America/Indiana/Indianapolis",
    "America/Juneau",
    "America/Los_Angeles",
    "America/New_York",
    "America/Nome",
    "America/Phoenix",
    "America/Puerto_Rico",
    "America/Sitka",
    "America/St_Thomas",
    "Pacific/Honolulu",
)

# The geocoder names a state in full when it names no town.
# fmt: off
_STATE_NAMES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Puerto Rico": "PR", "Guam": "GU", "Northern Mariana Islands": "MP",
}
# fmt: on

# Numbers that name no place: their area code says nothing about where the phone is.
_PLACELESS_TYPES = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
    PhoneNumberType.PAGER,
}
_NANP_REGIONS = {"US", "PR", "VI", "GU", "MP", "AS"}

_WEEK_SECONDS = 7 * 24 * 3600
# Intervals are built for a margin around each week so that a lease or a search that starts late in
# the week still sees the next day's windows.
_MARGIN = timedelta(days=2)
_NEXT_OPEN_WEEKS = 8
_WEEKS_KEPT = 16


class NeverOpenError(ValueError):
    """A profile whose zones and states leave no open instant (in `_NEXT_OPEN_WEEKS` weeks)."""


@dataclass(frozen=True)
class Profile:
    """What decides a recipient's window: the zones and the rule-bearing states, both sorted."""

    zones: tuple[str, ...]
    states: tuple[str, ...]

    @functools.cached_property
    def week(self) -> Week:
        """The weekly window in force in every zone: the base hours tightened by each state."""
        week = BASE_WEEK
        for state in self.states:
            rule = STATE_RULES[state].week
            week = tuple(_intersect_day(a, b) for a, b in zip(week, rule, strict=True))
        return week

    @functools.cached_property
    def _intervals(self) -> dict[int, tuple[list[float], list[float]]]:
        # Held on the profile rather than in an lru_cache: a check then hashes an int, not the
        # profile's tuples, which is most of its cost.
        return {}


@dataclass(frozen=True)
class Recipient:
    zip5: str | None = None
    phone: str | None = None
    state: str | None = None


def _intersect_day(a: DayWindow, b: DayWindow) -> DayWindow:
    if a is None or b is None:
        return None
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start < end else None


# --- Zone and state sources --------------------------------------------------------------------


@functools.cache
def _zip_table() -> dict[str, tuple[str | None, str]]:
    """ZIP5 -> (IANA zone or None, state), loaded once (1-3 s for the 42,789 ZIPs of 3.0.0)."""
    table = {}
    for row in zipcodes.list_all():
        table[row["zip_code"]] = (_valid_zone(row["timezone"]), row["state"])
    return table


@functools.cache
def _state_zones() -> dict[str, tuple[str, ...]]:
    zones: dict[str, set[str]] = {}
    for zone, state in _zip_table().values():
        if zone is not None:
            zones.setdefault(state, set()).add(zone)
    return {state: tuple(sorted(z)) for state, z in zones.items()}


@functools.cache
def _valid_zone(name: str | None) -> str | None:
    # The data holds a few non-zones ('' for military ZIPs, one town name): those count as unknown.
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def zip_zone(zip5: str | None) -> tuple[str | None, str | None]:
    """(IANA zone, state) of a ZIP; (None, None) when the ZIP is unknown or malformed."""
    if not zip5:
        return None, None
    key = zip5.strip()[:5]
    return _zip_table().get(key, (None, None))


def phone_zones(phone: str | None) -> tuple[tuple[str, ...], str | None]:
    """(zones, state) for a US phone number from its area code and exchange.

    An area code can span several zones (all are returned); a toll-free, non-geographic or
    invalid number returns no zone.
    """
    npa_nxx = _npa_nxx(phone)
    return _exchange_zones(npa_nxx) if npa_nxx else ((), None)


def _npa_nxx(phone: str | None) -> str | None:
    if not phone:
        return None
    # The stored form is E.164 (+1NPANXXXXXX): slice it; parse anything else.
    if len(phone) == 12 and phone.startswith("+1") and phone[2:].isdigit():
        return phone[2:8]
    try:
        parsed = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return None
    digits = str(parsed.national_number)
    return digits[:6] if parsed.country_code == 1 and len(digits) == 10 else None


# Unbounded on purpose: there are under 800,000 NPA-NXX pairs, and a voter file uses far fewer.
@functools.cache
def _exchange_zones(npa_nxx: str) -> tuple[tuple[str, ...], str | None]:
    is_placed, state = _area_code(npa_nxx[:3])
    if not is_placed:
        return (), None
    # phonenumbers keys US zones by at most 1+NPA+NXX, so any line number gives the same answer;
    # the geographical lookup skips the per-number validity regexes the area code already passed.
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(npa_nxx + "0000"))
    found = phone_timezone.time_zones_for_geographical_number(number)
    return tuple(sorted(z for z in found if _valid_zone(z))), state


@functools.cache
def _area_code(npa: str) -> tuple[bool, str | None]:
    """(whether the area code names a place, its state)."""
    sample = phonenumbers.PhoneNumber(country_code=1, national_number=int(npa + "2345678"))
    if phonenumbers.region_code_for_number(sample) not in _NANP_REGIONS:
        return False, None
    if phonenumbers.number_type(sample) in _PLACELESS_TYPES:
        return False, None
    return True, _state_of_description(geocoder.description_for_valid_number(sample, "en"))


def _state_of_description(text: str) -> str | None:
    # The geocoder answers "Hartford, CT" or "Connecticut".
    if not text:
        return None
    if len(text) > 4 and text[-4:-2] == ", " and text[-2:].isupper():
        return text[-2:]
    return _STATE_NAMES.get(text)


# --- Profiles ----------------------------------------------------------------------------------


def profile_of(zip5: str | None, phone: str | None, state: str | None) -> Profile:
    """The window profile of a recipient; recipients that share one share the same object."""
    zone_of_zip, state_of_zip = zip_zone(zip5)
    zones_of_phone, state_of_phone = phone_zones(phone)
    state_key = state.strip().upper() or None if state else None
    return _profile(zone_of_zip, state_of_zip, zones_of_phone, state_of_phone, state_key)


@functools.lru_cache(maxsize=65536)
def _profile(
    zone_of_zip: str | None,
    state_of_zip: str | None,
    zones_of_phone: tuple[str, ...],
    state_of_phone: str | None,
    state: str | None,
) -> Profile:
    zones = set(zones_of_phone)
    if zone_of_zip:
        zones.add(zone_of_zip)
    states = {s for s in (state, state_of_zip, state_of_phone) if s}
    if not zones:
        zones = set(_zones_of_states(states)) or set(EVERYWHERE_ZONES)
    # No state known: any state's law may apply, so all of them do.
    ruled = {s for s in states if s in STATE_RULES} if states else set(STATE_RULES)
    return _intern(Profile(zones=tuple(sorted(zones)), states=tuple(sorted(ruled))))


@functools.cache
def _intern(profile: Profile) -> Profile:
    # One object per distinct profile, so its cached intervals are computed once.
    return profile


def _zones_of_states(states: Iterable[str]) -> set[str]:
    by_state = _state_zones()
    return {zone for state in states for zone in by_state.get(state, ())}


def _as_profile(recipient: Recipient | Profile) -> Profile:
    if isinstance(recipient, Profile):
        return recipient
    return profile_of(recipient.zip5, recipient.phone, recipient.state)


# --- Intervals ---------------------------------------------------------------------------------


def _zone_intervals(zone: str, week: Week, lo: datetime, hi: datetime) -> list[tuple[float, float]]:
    """The zone's open intervals, as UTC timestamps, for every local date that touches [lo, hi)."""
    tz = ZoneInfo(zone)
    first = lo.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date() + timedelta(days=1)
    out = []
    day = first
    while day <= last:
        window = week[day.weekday()]
        if window is not None:
            out.append((_wall_to_ts(day, window[0], tz), _wall_to_ts(day, window[1], tz)))
        day += timedelta(days=1)
    return out


def _wall_to_ts(day: date, minutes: int, tz: ZoneInfo) -> float:
    # fold=0: in a repeated hour the first occurrence, in a skipped hour the pre-transition offset;
    # neither happens between 08:00 and 21:00 in any US zone.
    if minutes >= 24 * 60:
        day, minutes = day + timedelta(days=1), minutes - 24 * 60
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz).timestamp()


def _intersect(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _week_intervals(profile: Profile, week_index: int) -> tuple[list[float], list[float]]:
    """Open intervals (starts, ends) covering the UTC week `week_index` with a margin each side."""
    cache = profile._intervals
    found = cache.get(week_index)
    if found is None:
        if len(cache) >= _WEEKS_KEPT:
            cache.clear()
        found = cache[week_index] = _build_week_intervals(profile, week_index)
    return found


def _build_week_intervals(profile: Profile, week_index: int) -> tuple[list[float], list[float]]:
    lo = datetime.fromtimestamp(week_index * _WEEK_SECONDS, UTC) - _MARGIN
    hi = lo + timedelta(seconds=_WEEK_SECONDS) + 2 * _MARGIN
    merged: list[tuple[float, float]] | None = None
    for zone in profile.zones:
        zone_iv = _zone_intervals(zone, profile.week, lo, hi)
        merged = zone_iv if merged is None else _intersect(merged, zone_iv)
    lo_ts, hi_ts = lo.timestamp(), hi.timestamp()
    kept = [(s, e) for s, e in merged or [] if e > lo_ts and s < hi_ts]
    return [s for s, _ in kept], [e for _, e in kept]


def _locate(profile: Profile, ts: float) -> tuple[list[float], list[float], int]:
    starts, ends = _week_intervals(profile, int(ts // _WEEK_SECONDS))
    return starts, ends, bisect.bisect_right(starts, ts) - 1


def _timestamp(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError("quiet hours need an aware datetime")
    return at.timestamp()


# --- Public checks -----------------------------------------------------------------------------


def is_open(at: datetime, recipient: Recipient | Profile) -> bool:
    """Whether a message may be released to the recipient at the instant `at`."""
    ts = _timestamp(at)
    _, ends, i = _locate(_as_profile(recipient), ts)
    return i >= 0 and ts < ends[i]


def open_until(at: datetime, recipient: Recipient | Profile) -> datetime | None:
    """The instant the open window closes (exclusive), or None when it is closed at `at`."""
    ts = _timestamp(at)
    _, ends, i = _locate(_as_profile(recipient), ts)
    if i < 0 or ts >= ends[i]:
        return None
    return datetime.fromtimestamp(ends[i], UTC)


def open_for(at: datetime, recipient: Recipient | Profile, lease_seconds: float) -> bool:
    """Open at `at` and still open through the whole lease [at, at + lease_seconds)."""
    ts = _timestamp(at)
    _, ends, i = _locate(_as_profile(recipient), ts)
    return i >= 0 and ts < ends[i] and ts + lease_seconds <= ends[i]


def next_open(at: datetime, recipient: Recipient | Profile) -> datetime:
    """The earliest instant >= `at` when the window is open (for releasing held messages)."""
    profile = _as_profile(recipient)
    ts = _timestamp(at)
    week_index = int(ts // _WEEK_SECONDS)
    for offset in range(_NEXT_OPEN_WEEKS):
        starts, ends = _week_intervals(profile, week_index + offset)
        i = bisect.bisect_right(starts, ts) - 1
        if i >= 0 and ts < ends[i]:
            return at.astimezone(UTC)
        if i + 1 < len(starts):
            return datetime.fromtimestamp(starts[i + 1], UTC)
    raise NeverOpenError(f"no open window within {_NEXT_OPEN_WEEKS} weeks for {profile}")


def open_profiles(
    at: datetime, profiles: Iterable[Profile], lease_seconds: float = 0
) -> set[Profile]:
    """The profiles a lease starting at `at` may hand messages to (one check per profile)."""
    return {p for p in set(profiles) if open_for(at, p, lease_seconds)}
