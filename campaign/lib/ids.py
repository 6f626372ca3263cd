"""Ids from request parameters: a row id or nothing, never an exception a view did not expect."""

from __future__ import annotations

# A bigint holds 19 digits; anything longer is no row of ours (and would be a database error).
_MAX_DIGITS = 18


def as_id(value: str | None) -> int | None:
    """The positive integer an id parameter spells in ASCII digits, else None.

    str.isdigit() alone is true of "¹" and "٣", which int() refuses or reads, and of a hundred
    nines, which no bigint column holds: both reached the database as 500s.
    """
    if not value or len(value) > _MAX_DIGITS or not (value.isascii() and value.isdigit()):
        return None
    return int(value)
