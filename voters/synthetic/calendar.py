"""Which elections the county has held, and the upcoming one it is preparing for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from voters.synthetic.codes import (
    DEFAULT_AS_OF,
    EPOCH,
)


@dataclass(frozen=True, order=True)
class Election:
    on: date
    kind: str  # generic election_type: general, primary, presidential_primary, municipal, special
    label: str  # NC election_desc, e.g. "11/08/2022 GENERAL"


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _election_day(year: int) -> date:
    """The Tuesday after the first Monday of November."""
    return _nth_weekday(year, 11, 0, 1) + timedelta(days=1)


def _election(on: date, kind: str) -> Election:
    word = {"presidential_primary": "PRIMARY", "municipal": "MUNICIPAL GENERAL"}.get(kind)
    return Election(on=on, kind=kind, label=f"{on:%m/%d/%Y} {word or kind.upper()}")


def election_calendar(as_of: date = DEFAULT_AS_OF) -> tuple[tuple[Election, ...], Election]:
    """Past elections of the last eight years (oldest first) and the next general after `as_of`."""
    past = []
    for year in range(as_of.year - 8, as_of.year + 1):
        if year % 2 == 0:
            if year % 4 == 0:
                past.append(_election(_nth_weekday(year, 3, 1, 1), "presidential_primary"))
            else:
                past.append(_election(_nth_weekday(year, 5, 1, 3), "primary"))
            past.append(_election(_election_day(year), "general"))
        else:
            past.append(_election(_election_day(year), "municipal"))
        if year == as_of.year - 6:
            past.append(_election(_nth_weekday(year, 9, 1, 2), "special"))
    past = sorted(e for e in past if e.on < as_of)[-13:]
    year = as_of.year + (as_of.year % 2)
    if _election_day(year) <= as_of:
        year += 2
    return tuple(past), _election(_election_day(year), "general")


def program_dates(elections: tuple[Election, ...]) -> tuple[int, date]:
    """Index of the most recent past general and the day its experiment was assigned."""
    index = max(i for i, e in enumerate(elections) if e.kind == "general")
    return index, elections[index].on - timedelta(days=24)


def days_since_epoch(d: date) -> int:
    return (d - EPOCH).days
