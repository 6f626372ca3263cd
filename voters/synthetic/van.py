"""The VAN export of part of the contact history: the two report files a campaign downloads.

VAN writes reports as tab-separated UTF-16 text with a byte-order mark, CRLF line ends, in files
named `.xls`; dates are M/D/YYYY with no time; people are named by their VANID, which the voter
file carries in its `vanid` column.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from voters.synthetic.contacts import (
    CONTACTED,
    DECEASED,
    DOOR,
    INACCESSIBLE,
    MOVED,
    NOT_HOME,
    OPTED_OUT,
    PHONE,
    REFUSED,
    WRONG_NUMBER,
    Contacts,
)
from voters.synthetic.population import Population

VAN_CONTACT_COLUMNS: tuple[str, ...] = (
    "Voter File VANID", "Contact Name", "Date Canvassed", "Result", "Contact Type",
    "Canvassed By", "Created By", "Date Created", "Input Type Name", "MiniVAN Campaign",
)  # fmt: skip
VAN_RESPONSE_COLUMNS: tuple[str, ...] = (
    "Voter File VANID", "Contact Name", "Date Canvassed", "Survey Response",
    "Survey Question Name", "Survey Question Type", "Canvassed By", "Contact Type",
)  # fmt: skip
SUPPORT_QUESTION_NAME = "Support ID"
SUPPORT_RESPONSES: tuple[str, ...] = (
    "1 - Strong Support", "2 - Lean Support", "3 - Undecided", "4 - Lean Oppose",
    "5 - Strong Oppose",
)  # fmt: skip
CONTACT_TYPES = {DOOR: "Walk", PHONE: "Phone"}
# VAN 'Result' names (all in voters.defaults.VAN_RESULTS) per channel and result, with weights.
_RESULT_NAMES: dict[tuple[int, int], tuple[tuple[str, ...], tuple[float, ...]]] = {
    (DOOR, CONTACTED): (("Canvassed",), (1.0,)),
    (DOOR, NOT_HOME): (("Not Home", "Come Back"), (0.85, 0.15)),
    (DOOR, REFUSED): (("Refused", "Hostile"), (0.9, 0.1)),
    (DOOR, MOVED): (("Moved",), (1.0,)),
    (DOOR, DECEASED): (("Deceased",), (1.0,)),
    (DOOR, INACCESSIBLE): (("Inaccessible", "Language Barrier"), (0.8, 0.2)),
    (DOOR, OPTED_OUT): (("Do Not Contact",), (1.0,)),
    (PHONE, CONTACTED): (("Canvassed",), (1.0,)),
    (PHONE, NOT_HOME): (("No Answer", "Left Message", "Busy"), (0.6, 0.3, 0.1)),
    (PHONE, REFUSED): (("Refused",), (1.0,)),
    (PHONE, WRONG_NUMBER): (("Wrong Number", "Disconnected"), (0.6, 0.4)),
}
_STAFF = pl.Series(["Jordan Avery", "Casey Morgan", "Riley Brooks"])
_VANID_SPACE, _VANID_STEP = 900_000_000, 854_435_761  # coprime: distinct indexes, distinct ids
_VAN_DATE = "%-m/%-d/%Y"


def van_ids(index: np.ndarray, seed: int) -> np.ndarray:
    """Nine-digit VANIDs, unique for distinct voter indexes below 900 million."""
    offset = (seed * 40_503) % _VANID_SPACE
    return 100_000_000 + (index.astype(np.int64) * _VANID_STEP + offset) % _VANID_SPACE


def _van_dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date).dt.strftime(_VAN_DATE)


def _result_names(rng: np.random.Generator, contacts: Contacts) -> pl.Series:
    names = np.full(len(contacts), "", dtype=object)
    for (channel, result), (choices, weights) in _RESULT_NAMES.items():
        rows = np.flatnonzero((contacts.channel == channel) & (contacts.result == result))
        names[rows] = np.array(choices, dtype=object)[
            rng.choice(len(choices), len(rows), p=weights)
        ]
    if (names == "").any():
        raise ValueError("a VAN row has a channel and result with no VAN name")
    return pl.Series(names, dtype=pl.Utf8)


def contact_names(pop: Population, voter: np.ndarray) -> pl.Series:
    """VAN's "Last, First" for the voters at chunk positions `voter`."""
    return pop.last.gather(voter) + ", " + pop.first.gather(voter)


def van_contact_frame(
    rng: np.random.Generator,
    contacts: Contacts,
    *,
    vanids: np.ndarray,
    names: pl.Series,
    canvassers: pl.Series,
) -> pl.DataFrame:
    """The Contact History report rows of `contacts` (door and phone only)."""
    n = len(contacts)
    walk = contacts.channel == DOOR
    minivan = walk & (rng.random(n) < 0.85)
    canvassed_by = canvassers.gather(contacts.canvasser)
    created_by = pl.select(
        pl.when(pl.Series(minivan))
        .then(canvassed_by)
        .otherwise(_STAFF.gather(rng.integers(0, len(_STAFF), n)))
    ).to_series()
    entered = contacts.day + np.where(minivan, 0, rng.integers(1, 4, n))
    input_type = np.where(
        minivan, "MiniVAN",
        np.where(walk, "Bulk Upload", np.where(rng.random(n) < 0.7, "Virtual Phone Bank", "Grid")),
    )  # fmt: skip
    year = pl.Series(contacts.day.astype(np.int32)).cast(pl.Date).dt.year().cast(pl.Utf8)
    return pl.DataFrame(
        {
            "Voter File VANID": pl.Series(vanids, dtype=pl.Int64),
            "Contact Name": names,
            "Date Canvassed": _van_dates(contacts.day),
            "Result": _result_names(rng, contacts),
            "Contact Type": pl.Series(np.where(walk, CONTACT_TYPES[DOOR], CONTACT_TYPES[PHONE])),
            "Canvassed By": canvassed_by,
            "Created By": created_by,
            "Date Created": _van_dates(entered),
            "Input Type Name": pl.Series(input_type),
            "MiniVAN Campaign": pl.select(
                pl.when(pl.Series(minivan)).then(year + " Persuasion Doors").otherwise(pl.lit(""))
            ).to_series(),
        }
    )


def van_response_frame(
    contacts: Contacts, *, vanids: np.ndarray, names: pl.Series, canvassers: pl.Series
) -> pl.DataFrame:
    """The Survey Response report rows: one per support answer in `contacts`."""
    answered = contacts.answer > 0
    mask = pl.Series(answered)
    rows = contacts.take(np.flatnonzero(answered))
    walk = rows.channel == DOOR
    return pl.DataFrame(
        {
            "Voter File VANID": pl.Series(vanids[answered], dtype=pl.Int64),
            "Contact Name": names.filter(mask),
            "Date Canvassed": _van_dates(rows.day),
            "Survey Response": pl.Series(np.array(SUPPORT_RESPONSES)[rows.answer - 1]),
            "Survey Question Name": pl.Series([SUPPORT_QUESTION_NAME] * len(rows), dtype=pl.Utf8),
            "Survey Question Type": pl.Series(["Candidate"] * len(rows), dtype=pl.Utf8),
            "Canvassed By": canvassers.gather(rows.canvasser),
            "Contact Type": pl.Series(
                np.where(walk, CONTACT_TYPES[DOOR], CONTACT_TYPES[PHONE]), dtype=pl.Utf8
            ),
        }
    )
