"""The one rule for how far from today a date or time may be: the years 1900..2100.

Dates outside it come from typos, placeholder values (0001-01-01, 9999-12-31) or hostile clients,
never from a voter's life or a campaign. They are refused at the door (API, importers) because
history is append-only: a stored year-1 contact can never be corrected, and converting it to a
local time zone overflows Python's datetime. Pure: no Django, so the polars layouts use it too.
"""

from __future__ import annotations

import datetime as dt

EARLIEST_YEAR = 1900
LATEST_YEAR = 2100
OUT_OF_RANGE = f"outside the years {EARLIEST_YEAR}..{LATEST_YEAR}"


def is_plausible(value: dt.date) -> bool:
    """Whether a date or datetime falls in the years 1900..2100 (a datetime by its UTC year,
    so the rule does not depend on the sender's offset)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError:  # year 1 at a positive offset, year 9999 at a negative one
            return False
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def shown(value: dt.datetime | None, tz: dt.tzinfo | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """`value` as local time in `tz`, or as stored (UTC, marked) when it cannot be converted.

    For pages that show history written before the rule above existed: such rows cannot be
    deleted, so the page must show them rather than fail on every load.
    """
    if value is None:
        return ""
    try:
        return value.astimezone(tz).strftime(fmt)
    except (OverflowError, ValueError):
        # isoformat, not strftime: it pads year 1 to four digits on every platform.
        return value.isoformat(sep=" ", timespec="minutes") + " (out of range, as stored)"
