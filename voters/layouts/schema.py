"""What a parse hands back: the canonical columns, the layouts, batches, rejected lines, errors."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from voters.layouts.counts import FieldCounts

VOTER_COLUMNS: dict[str, pl.DataType] = {
    "voter_id": pl.Utf8(),
    "first_name": pl.Utf8(),
    "middle_name": pl.Utf8(),
    "last_name": pl.Utf8(),
    "suffix": pl.Utf8(),
    "birth_date": pl.Date(),
    "birth_year": pl.Int16(),
    "gender": pl.Utf8(),
    "gender_raw": pl.Utf8(),
    "race": pl.Utf8(),
    "race_raw": pl.Utf8(),
    "ethnicity": pl.Utf8(),
    "ethnicity_raw": pl.Utf8(),
    "party": pl.Utf8(),
    "party_raw": pl.Utf8(),
    "registered_on": pl.Date(),
    "status": pl.Utf8(),
    "status_raw": pl.Utf8(),
    "address": pl.Utf8(),
    "house_number": pl.Utf8(),
    "street": pl.Utf8(),
    "unit": pl.Utf8(),
    "city": pl.Utf8(),
    "state": pl.Utf8(),
    "zip5": pl.Utf8(),
    "address_key": pl.Utf8(),
    "latitude": pl.Float64(),
    "longitude": pl.Float64(),
    "phone": pl.Utf8(),
    "email": pl.Utf8(),
    "county": pl.Utf8(),
    "precinct": pl.Utf8(),
    "congressional_district": pl.Utf8(),
    "state_senate_district": pl.Utf8(),
    "state_house_district": pl.Utf8(),
    "municipality": pl.Utf8(),
    "ward": pl.Utf8(),
    "extra": pl.Utf8(),
}

HISTORY_COLUMNS: dict[str, pl.DataType] = {
    "voter_id": pl.Utf8(),
    "election_on": pl.Date(),
    "election_type": pl.Utf8(),
    "method": pl.Utf8(),
    "method_raw": pl.Utf8(),
    "party": pl.Utf8(),
    "voted": pl.Boolean(),
}

LAYOUTS = ("generic", "nc", "fl", "oh")


# Working columns carried through a parse: the physical line number, and the raw line (line path).
LN = "__line_number"
RAW = "__raw"


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


@dataclass(frozen=True)
class RejectedLine:
    file_name: str
    line_number: int
    raw: str
    errors: tuple[FieldError, ...]


@dataclass
class ParsedBatch:
    file_name: str
    rows: pl.DataFrame
    rejects: list[RejectedLine]
    lines_read: int
    bytes_read: int
    invalid_phones: int = 0
    # Lines left unparsed because an earlier import stored their digest (line_number,
    # line_digest); None when the read does not compare digests.
    seen: pl.DataFrame | None = None
    # Per mapped field, rows with a value and rows where it was usable (parsed rows only).
    field_counts: FieldCounts | None = None


class LayoutError(Exception):
    """A whole-file problem: unreadable header, required column missing, unknown layout."""

    def __init__(self, file_name: str, line_number: int, message: str):
        super().__init__(f"{file_name}, line {line_number}: {message}")
        self.file_name = file_name
        self.line_number = line_number
        self.message = message
