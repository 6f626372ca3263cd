"""Voter and vote-history files in, canonical polars batches out (no Django here).

`read_voter_batches` / `read_history_batches` stream a file in batches of at most `batch_rows`
physical lines, so memory stays flat however big the file. Each batch is parsed and normalized with
polars expressions (no Python per row): good lines become rows of `VOTER_COLUMNS` /
`HISTORY_COLUMNS` plus `line_number`; bad lines become `RejectedLine`s with reasons.

Reading rules worth knowing:
- Lines split on "\\n" (a trailing "\\r" dropped); blank lines are skipped and not counted.
- A batch decodes as UTF-8; a line that is not UTF-8 decodes as cp1252, else Latin-1.
- TSV and pipe files get no quote processing except that one pair of quotes around a whole field
  is removed. CSV honours standard quoting on one line; a quoted field that spans lines is not
  supported: its first line is rejected ("unterminated or malformed quoted field") and the
  continuation usually has the wrong field count.
- Line-level problems are reported with `FieldError(field="line", ...)`.
- Error reasons never echo names, addresses or phones; bad date strings are echoed.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from voters.addresses import household_keys, split_street_lines
from voters.phones import normalize_phones, placeholder_phones

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

ELECTION_TYPES = (
    "general",
    "primary",
    "presidential_primary",
    "municipal",
    "special",
    "runoff",
    "other",
)
_CHUNK_BYTES = 1 << 20
_PIECE_LINES = 25_000
_NL = 10
_MIN_BIRTH_YEAR = 1880
_LN = "__line_number"
_RAW = "__raw"


# --------------------------------------------------------------------------------------------
# Public types


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


class LayoutError(Exception):
    """A whole-file problem: unreadable header, required column missing, unknown layout."""

    def __init__(self, file_name: str, line_number: int, message: str):
        super().__init__(f"{file_name}, line {line_number}: {message}")
        self.file_name = file_name
        self.line_number = line_number
        self.message = message


def file_size(path: str | Path) -> int:
    return Path(path).stat().st_size


# --------------------------------------------------------------------------------------------
# Code tables (keys are upper-cased, whitespace-collapsed source values)

_GENDER = {
    "F": "female",
    "FEMALE": "female",
    "W": "female",
    "WOMAN": "female",
    "M": "male",
    "MALE": "male",
    "MAN": "male",
    "U": "unknown",
    "UN": "unknown",
    "UNK": "unknown",
    "UNKNOWN": "unknown",
    "X": "other",
    "O": "other",
    "OTHER": "other",
    "NB": "other",
    "NONBINARY": "other",
    "NON-BINARY": "other",
}
_RACE_WORDS = {
    "WHITE": "white",
    "CAUCASIAN": "white",
    "BLACK": "black",
    "AFRICAN AMERICAN": "black",
    "BLACK OR AFRICAN AMERICAN": "black",
    "HISPANIC": "hispanic",
    "LATINO": "hispanic",
    "HISPANIC OR LATINO": "hispanic",
    "ASIAN": "asian",
    "NATIVE": "native",
    "NATIVE AMERICAN": "native",
    "AMERICAN INDIAN": "native",
    "AMERICAN INDIAN OR ALASKA NATIVE": "native",
    "PACIFIC": "pacific",
    "PACIFIC ISLANDER": "pacific",
    "NATIVE HAWAIIAN OR PACIFIC ISLANDER": "pacific",
    "MULTIRACIAL": "multiracial",
    "MULTI-RACIAL": "multiracial",
    "TWO OR MORE RACES": "multiracial",
    "OTHER": "other",
    "UNKNOWN": "unknown",
}
# NC race_code letters; generic files use them too.
_RACE_NC = {
    **_RACE_WORDS,
    "W": "white",
    "B": "black",
    "A": "asian",
    "I": "native",
    "O": "other",
    "M": "multiracial",
    "P": "pacific",
    "U": "unknown",
    "H": "hispanic",
}
_RACE_FL = {
    "1": "native",
    "2": "asian",
    "3": "black",
    "4": "hispanic",
    "5": "white",
    "6": "other",
    "7": "multiracial",
    "9": "unknown",
}
# FL folds ethnicity into race: "Hispanic", "Black (not Hispanic)", "White (not Hispanic)".
_ETHNICITY_FROM_FL_RACE = {"4": "hispanic", "3": "not_hispanic", "5": "not_hispanic"}
_ETHNICITY = {
    "HL": "hispanic",
    "H": "hispanic",
    "Y": "hispanic",
    "HISPANIC": "hispanic",
    "LATINO": "hispanic",
    "HISPANIC OR LATINO": "hispanic",
    "NL": "not_hispanic",
    "N": "not_hispanic",
    "NOT HISPANIC": "not_hispanic",
    "NOT HISPANIC OR LATINO": "not_hispanic",
    "NON-HISPANIC": "not_hispanic",
    "UN": "unknown",
    "U": "unknown",
    "UNKNOWN": "unknown",
}
_PARTY = {
    "DEM": "dem",
    "D": "dem",
    "DEMOCRAT": "dem",
    "DEMOCRATIC": "dem",
    "REP": "rep",
    "R": "rep",
    "REPUBLICAN": "rep",
    "GOP": "rep",
    "UNA": "una",
    "U": "una",
    "NPA": "una",
    "NON": "una",
    "NONE": "una",
    "NO PARTY": "una",
    "NO PARTY AFFILIATION": "una",
    "UNAFFILIATED": "una",
    "UNENROLLED": "una",
    "LIB": "lib",
    "L": "lib",
    "LPF": "lib",
    "LIBERTARIAN": "lib",
    "GRE": "grn",
    "GRN": "grn",
    "G": "grn",
    "GREEN": "grn",
    "CST": "cst",
    "C": "cst",
    "CPF": "cst",
    "CONSTITUTION": "cst",
    "IND": "ind",
    "I": "ind",
    "INDEPENDENT": "ind",
}
# Ohio's letters: E Reform, N Natural Law, S Socialist are real (minor) parties.
_PARTY_OH = {"D": "dem", "R": "rep", "L": "lib", "G": "grn", "C": "cst", "E": "oth", "N": "oth"}
_PARTY_OH["S"] = "oth"
_STATUS = {
    "A": "active",
    "ACT": "active",
    "ACTIVE": "active",
    "I": "inactive",
    "INA": "inactive",
    "INACTIVE": "inactive",
    "R": "removed",
    "REMOVED": "removed",
    "D": "denied",
    "DENIED": "denied",
    "S": "temporary",
    "TEMPORARY": "temporary",
    "PRE": "preregistered",
    "P": "preregistered",
    "PREREGISTERED": "preregistered",
    "PRE-REGISTERED": "preregistered",
    "CONFIRMATION": "confirmation",
    "C": "confirmation",
}
_ELECTION_TYPE = {
    **{t.upper(): t for t in ELECTION_TYPES},
    "GEN": "general",
    "PRI": "primary",
    "PPP": "presidential_primary",
    "PRESIDENTIAL PRIMARY": "presidential_primary",
    "PRESIDENTIAL PREFERENCE PRIMARY": "presidential_primary",
    "PRESIDENTIAL PREFERENCE": "presidential_primary",
    "MUNI": "municipal",
    "LOCAL": "municipal",
    "CITY": "municipal",
    "SPECIAL ELECTION": "special",
    "RUN": "runoff",
    "RUN OFF": "runoff",
    "RUN-OFF": "runoff",
    "SECOND PRIMARY": "runoff",
    "OTH": "other",
}
_METHOD = {
    "POLLS": "polls",
    "POLL": "polls",
    "AT POLLS": "polls",
    "ELECTION DAY": "polls",
    "IN PERSON": "polls",
    "IN-PERSON": "polls",
    "EARLY": "early",
    "EARLY VOTING": "early",
    "EARLY IN PERSON": "early",
    "EARLY VOTE": "early",
    "ONE STOP": "early",
    "ONESTOP": "early",
    "MAIL": "mail",
    "BY MAIL": "mail",
    "VOTE BY MAIL": "mail",
    "VBM": "mail",
    "ABSENTEE": "mail",
    "ABSENTEE BY MAIL": "mail",
    "POSTAL": "mail",
    "PROVISIONAL": "provisional",
    "OTHER": "other",
}
# Florida history codes -> (method, voted).
_FL_HISTORY = {
    "Y": ("polls", True),
    "E": ("early", True),
    "A": ("mail", True),
    "F": ("provisional", True),
    "Z": ("provisional", True),
    "B": ("mail", False),
    "P": ("provisional", False),
    "N": (None, False),
}
_FL_ELECTION_TYPE = {"GEN": "general", "PRI": "primary", "PPP": "presidential_primary"}
_FL_ELECTION_TYPE |= {"RUN": "runoff", "OTH": "other"}
_VOTED = {"Y": True, "YES": True, "TRUE": True, "T": True, "1": True}
_VOTED |= {"N": False, "NO": False, "FALSE": False, "F": False, "0": False}

FL_VOTER_FIELDS = (  # noqa: SIM905 - spelled like the published layout
    "County_Code Voter_ID Name_Last Name_Suffix Name_First Name_Middle "
    "Requested_public_records_exemption Residence_Address_Line_1 Residence_Address_Line_2 "
    "Residence_City Residence_State Residence_Zipcode Mailing_Address_Line_1 "
    "Mailing_Address_Line_2 Mailing_Address_Line_3 Mailing_City Mailing_State "
    "Mailing_Zipcode Mailing_Country Gender Race Birth_Date Registration_Date "
    "Party_Affiliation Precinct Precinct_Group Precinct_Split Precinct_Suffix Voter_Status "
    "Congressional_District House_District Senate_District County_Commission_District "
    "School_Board_District Daytime_Area_Code Daytime_Phone_Number Daytime_Phone_Extension "
    "Email_address"
).split()
FL_HISTORY_FIELDS = ("County_Code", "Voter_ID", "Election_Date", "Election_Type", "History_Code")

# Generic header aliases: canonical source name -> accepted header spellings (normalized).
_GENERIC_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": ("voter_id", "voterid", "id", "state_voter_id", "voter_number", "sos_voterid"),
    "first_name": ("first_name", "firstname", "first", "given_name", "fname"),
    "middle_name": ("middle_name", "middlename", "middle", "mname", "middle_initial"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name", "lname"),
    "suffix": ("suffix", "name_suffix"),
    "birth_date": ("birth_date", "dob", "date_of_birth", "birthdate", "birthday"),
    "birth_year": ("birth_year", "year_of_birth", "birthyear", "yob"),
    "gender": ("gender", "sex"),
    "race": ("race",),
    "ethnicity": ("ethnicity",),
    "party": ("party", "party_affiliation", "party_code"),
    "registered_on": (
        "registration_date",
        "reg_date",
        "registered_on",
        "date_registered",
        "registration",
    ),
    "status": ("status", "voter_status"),
    "address": ("address", "street_address", "residence_address", "address1", "address_line_1"),
    "house_number": ("house_number", "house_num", "street_number", "housenumber"),
    "street": ("street", "street_name"),
    "unit": ("unit", "apt", "apartment", "unit_number", "address2", "address_line_2"),
    "city": ("city",),
    "state": ("state",),
    "zip": ("zip", "zip_code", "zipcode", "postal_code", "zip5"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng", "long"),
    "phone": ("phone", "phone_number", "cell", "cell_phone", "mobile", "telephone", "home_phone"),
    "email": ("email", "email_address", "e_mail"),
    "county": ("county",),
    "precinct": ("precinct",),
    "congressional_district": ("congressional_district", "cd", "cong_dist"),
    "state_senate_district": ("state_senate_district", "senate_district", "sd"),
    "state_house_district": ("state_house_district", "house_district", "hd"),
    "municipality": ("municipality",),
    "ward": ("ward",),
}
_GENERIC_HISTORY_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": _GENERIC_ALIASES["voter_id"],
    "election_date": ("election_date", "election_on", "date", "election"),
    "election_type": ("election_type", "type"),
    "method": ("method", "vote_method", "voting_method"),
    "party": ("party", "ballot_party", "voted_party"),
    "voted": ("voted",),
}
_TEXT_FIELDS = (  # noqa: SIM905 - spelled like the published layout
    "first_name middle_name last_name suffix city county precinct congressional_district "
    "state_senate_district state_house_district municipality ward"
).split()


# --------------------------------------------------------------------------------------------
# Reading lines


@dataclass
class _LineBatch:
    first_line: int  # physical number of the first line in `data`
    data: bytes  # the lines' raw bytes joined by "\n" (no trailing "\n")
    lines: int  # physical lines in `data`
    bytes_read: int  # cumulative
    _text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _decode(self.data)
        return self._text


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decode_line(line) for line in data.split(b"\n"))


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; Latin-1 maps every byte.
        return line.decode("latin-1")


def _open_checked(path: Path, file_name: str) -> BinaryIO:
    handle = open(path, "rb")  # noqa: SIM115 - closed by the generator that owns it
    head = handle.read(3)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        handle.close()
        raise LayoutError(file_name, 1, "UTF-16 text is not supported for this layout")
    if head != b"\xef\xbb\xbf":
        handle.seek(0)
    return handle


def _newlines(data: bytes | bytearray) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _NL)


def _line_batches(handle: BinaryIO, batch_rows: int, first_line: int) -> Iterator[list[_LineBatch]]:
    """Batches of at most `batch_rows` physical lines, read in large blocks (memory stays flat).

    Each batch comes as consecutive pieces; the last one carries the batch's `bytes_read`.
    """
    line_number = first_line
    offset = handle.tell()
    buf = bytearray()
    ends = np.empty(0, dtype=np.int64)  # newline positions in buf
    eof = False
    block = _CHUNK_BYTES
    while True:
        while len(ends) < batch_rows and not eof:
            more = handle.read(block)
            if not more:
                eof = True
                break
            ends = np.concatenate([ends, _newlines(more) + len(buf)])
            buf += more
        if not buf:
            return
        if len(ends) >= batch_rows:
            cut = int(ends[batch_rows - 1]) + 1
            lines = batch_rows
        else:  # end of file: the rest, with or without a final newline
            cut = len(buf)
            lines = len(ends) + (0 if buf.endswith(b"\n") else 1)
            ends = ends[:lines]
        # The batch is parsed in pieces of at most _PIECE_LINES lines: the same rows, with a
        # fraction of the working memory.
        pieces = []
        view = memoryview(buf)
        start = 0
        for first in range(0, lines, _PIECE_LINES):
            count = min(_PIECE_LINES, lines - first)
            end = int(ends[first + count - 1]) if first + count <= len(ends) else cut
            piece_end = end + 1 if end < cut else cut
            pieces.append(_LineBatch(line_number + first, bytes(view[start:end]), count, 0))
            start = piece_end
        view.release()
        del buf[:cut]
        ends = ends[lines:] - cut if len(ends) > lines else ends[:0]
        offset += cut
        pieces[-1].bytes_read = offset
        # Next time read about one batch's worth at once.
        block = max(_CHUNK_BYTES, min(cut + cut // 16, 1 << 28))
        yield pieces
        line_number += lines


def _lines_frame(batch: _LineBatch) -> pl.DataFrame:
    """Non-blank lines with their physical numbers, trailing "\\r" removed."""
    lines = pl.Series(_RAW, batch.text.split("\n"), dtype=pl.Utf8)
    frame = pl.DataFrame({_RAW: lines}).with_columns(
        pl.col(_RAW).str.strip_suffix("\r"),
        pl.int_range(batch.first_line, batch.first_line + len(lines), dtype=pl.Int64).alias(_LN),
    )
    return frame.filter(pl.col(_RAW).str.strip_chars().str.len_bytes() > 0)


# --------------------------------------------------------------------------------------------
# Splitting fields


@dataclass
class _Plan:
    """What a batch's values may need; a column not listed certainly needs nothing.

    `None` means "every column" (the safe answer when a batch was not scanned).
    """

    strip: set[int] | None = None  # leading/trailing whitespace
    nulls: set[int] | None = None  # a placeholder (NULL, N/A, *, ...) or blank after trimming
    collapse: set[int] | None = None  # a whitespace run or a tab/newline/CR/FF/VT
    escape: set[int] | None = None  # a JSON-special character: quote, backslash, control
    unquote: set[int] | None = field(default_factory=set)  # a value wrapped in quotes

    def has(self, kind: str, index: int) -> bool:
        wanted = getattr(self, kind)
        return wanted is None or index in wanted


@dataclass
class _Split:
    fields: pl.DataFrame  # one Utf8 column per header name, plus _LN (and _RAW, slow path)
    rejects: pl.DataFrame  # _LN, _RAW, reason
    field_quotes: bool = False  # some field may still be wrapped in quotes
    lines_read: int | None = None  # non-blank lines (fast path)
    plan: _Plan = field(default_factory=_Plan)
    data: bytes | None = None  # fast path: the batch's lines, for rejected rows' raw text


# Fast path for tab/pipe files: the whole batch goes to polars' CSV reader in one call, and a
# vectorized scan of the bytes says which columns can need trimming, placeholder nulls, whitespace
# collapsing, unquoting or JSON escaping, so the per-cell work is done only where it can matter.
# Any batch it cannot take exactly (a bad field count, stray carriage returns, non-UTF-8 bytes, a
# mix of quoted and unquoted lines) goes through the line-by-line path instead.

_SCAN_LIMIT = 20_000  # more hits than this and a check answers "every column"
_NON_ASCII_SPACE = re.compile(
    rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
)


def _find_all(data: bytes, needle: bytes, limit: int = _SCAN_LIMIT) -> list[int] | None:
    found: list[int] = []
    at = data.find(needle)
    while at >= 0:
        if len(found) >= limit:
            return None
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def _without_crlf(data: bytes) -> bytes | None:
    """CRLF line ends as LF (and a CR ending the batch dropped); None for a CR anywhere else."""
    arr = np.frombuffer(data, dtype=np.uint8)
    cr = np.flatnonzero(arr == ord("\r"))
    after = np.minimum(cr + 1, len(arr) - 1)
    if not ((arr[after] == _NL) | (cr == len(arr) - 1)).all():
        return None
    return np.delete(arr, cr).tobytes()


def _unquote_all_lines(data: bytes, sep: int) -> bytes | None:
    """Every line fully quoted ("a"<TAB>"b", as NC ships): all quotes dropped at once, else None.

    Same result per line as `_unquote_whole_lines`: every separator and line end sits between a
    closing and an opening quote, the data starts and ends with one, and no field is a lone quote.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    size = len(arr)
    if size < 2 or arr[0] != ord('"') or arr[-1] != ord('"'):
        return None
    bound = (arr == sep) | (arr == _NL)
    if bound[:2].any() or bound[-2:].any():  # a first or last field shorter than two quotes
        return None
    if (bound[:-1] & bound[1:]).any() or (bound[:-2] & bound[2:]).any():  # likewise inside
        return None
    quote = arr == ord('"')
    if (bound[1:-1] & ~(quote[:-2] & quote[2:])).any():
        return None
    # Drop the quote on each side of every boundary, and the first and last byte.
    drop = np.zeros(size, dtype=bool)
    drop[[0, -1]] = True
    drop[:-1] |= bound[1:]
    drop[1:] |= bound[:-1]
    keep = ~drop
    return arr[keep].tobytes()


class _Scan:
    """Vectorized checks over a batch whose every line has `n` fields separated by `sep`."""

    def __init__(self, data: bytes, sep: int, n: int, lines: int):
        self.data = data
        self.arr = np.frombuffer(data, dtype=np.uint8)
        self.sep = sep
        self.n = n
        self.lines = lines

    def field_count_ok(self) -> bool:
        return int(np.count_nonzero(self.arr == self.sep)) == (self.n - 1) * self.lines

    def columns(self, positions: Iterable[int]) -> set[int] | None:
        """Column index of each byte position; None when there are too many to look at."""
        data, sep = self.data, bytes([self.sep])
        found: set[int] = set()
        for count, at in enumerate(positions):
            if count >= _SCAN_LIMIT:
                return None
            found.add(data.count(sep, data.rfind(b"\n", 0, at) + 1, at))
        return found

    def plan(self, quoted: bool, opening_quotes: set[int] | None) -> _Plan:
        """`quoted`: values get unquoted at all; `opening_quotes`: where one may start a field."""
        arr, data = self.arr, self.data
        ctl = arr < 32
        expected = self.lines - 1 + ((self.n - 1) * self.lines if self.sep < 32 else 0)
        unsure = None if quoted else set()
        if int(np.count_nonzero(ctl)) != expected:  # control characters inside fields
            return _Plan(unquote=unsure)
        escape = self._escape()
        if not data.isascii() and _NON_ASCII_SPACE.search(data):
            return _Plan(escape=escape, unquote=unsure)
        opening_quotes = opening_quotes if quoted else set()
        edge = ctl if self.sep < 32 else (ctl | (arr == self.sep))  # field boundaries
        space = arr == 32
        touching = np.flatnonzero((edge[:-1] & space[1:]) | (space[:-1] & edge[1:]))
        ends = [0] if len(arr) and space[0] else []
        ends += [len(arr) - 1] if len(arr) and space[-1] else []
        strip = self.columns([*ends, *touching.tolist(), *(touching + 1).tolist()])
        collapse = self.columns(np.flatnonzero(space[:-1] & space[1:]).tolist())
        nulls = self._placeholders(edge)
        if nulls is not None and strip is not None:
            nulls |= strip
        elif strip is None:
            nulls = None
        return _Plan(
            strip=strip, nulls=nulls, collapse=collapse, escape=escape, unquote=opening_quotes
        )

    def _escape(self) -> set[int] | None:
        quotes = _find_all(self.data, b'"')
        slashes = _find_all(self.data, b"\\")
        if quotes is None or slashes is None:
            return None
        return self.columns(quotes + slashes)

    def _placeholders(self, edge: np.ndarray) -> set[int] | None:
        """Columns where some field is exactly NULL, NONE, N/A (any case) or '*'."""
        arr, size = self.arr, len(self.arr)
        if not size:
            return set()
        rest = arr[1:]
        candidate = edge[:-1] & (((rest | 0x20) == ord("n")) | (rest == ord("*")))
        starts = np.flatnonzero(candidate) + 1
        if arr[0] | 0x20 == ord("n") or arr[0] == ord("*"):
            starts = np.concatenate([np.zeros(1, np.int64), starts])
        if not len(starts):
            return set()

        def at(where: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            """(byte, is a boundary) k bytes into each candidate field."""
            idx = where + k
            inside = idx < size
            idx = np.minimum(idx, size - 1)
            return np.where(inside, arr[idx], _NL), ~inside | edge[idx]

        # Narrow down on the second byte first: most candidates are words like "NC" or "N".
        a0, _ = at(starts, 0)
        a1, b1 = at(starts, 1)
        star = (a0 == ord("*")) & b1
        l1 = a1 | 0x20
        starts = starts[star | (l1 == ord("u")) | (l1 == ord("o")) | (a1 == ord("/"))]
        (a0, _), (a1, b1), (a2, _), (a3, b3), (_, b4) = (at(starts, k) for k in range(5))
        l0, l1, l2, l3 = a0 | 0x20, a1 | 0x20, a2 | 0x20, a3 | 0x20
        star = (a0 == ord("*")) & b1
        null = (l1 == ord("u")) & (l2 == ord("l")) & (l3 == ord("l")) & b4
        none = (l1 == ord("o")) & (l2 == ord("n")) & (l3 == ord("e")) & b4
        na = (a1 == ord("/")) & (l2 == ord("a")) & b3
        hits = starts[star | ((l0 == ord("n")) & (null | none | na))]
        return self.columns(hits.tolist())

    def opening_quotes(self) -> tuple[bool, set[int] | None]:
        """(some field starts with spaces and a quote, columns where one may start so)."""
        found = _find_all(self.data, b'"')
        if found is None:
            return True, None
        data, sep = self.data, self.sep
        opening = []
        for at in found:
            i = at - 1
            while i >= 0 and data[i] == 32:
                i -= 1
            if i < 0 or data[i] == _NL or data[i] == sep:
                opening.append(at)
        return bool(opening), self.columns(opening)


def _fast_split(batch: _LineBatch, names: list[str], delimiter: str) -> _Split | None:
    n = len(names)
    data = batch.data
    if n < 2 or len(delimiter) != 1 or not data.strip(b"\n"):
        return None
    if b"\r" in data:
        data = _without_crlf(data)
        if data is None:
            return None
    sep = delimiter.encode()
    lines = batch.lines
    scan = _Scan(data, sep[0], n, lines)
    if not scan.field_count_ok():
        return None
    raw_data = data
    whole = False
    if b'"' in data and (data.startswith(b'"') or b'\n"' in data):
        data = _unquote_all_lines(data, sep[0])
        if data is None:
            return None
        whole = True
        scan = _Scan(data, sep[0], n, lines)
    try:
        cols = pl.read_csv(
            data,
            has_header=False,
            separator=delimiter,
            quote_char=None,
            schema=dict.fromkeys(names, pl.Utf8),
            encoding="utf8",
        )
    except Exception:  # any reader quirk takes the exact path
        return None
    if cols.height != lines or cols.width != n:
        return None
    field_quotes, unquote = scan.opening_quotes()
    plan = scan.plan(field_quotes or whole, unquote)
    del scan
    # The reader returns many chunks per column; every eager select would join them again.
    cols = cols.rechunk().with_columns(
        pl.int_range(batch.first_line, batch.first_line + lines, dtype=pl.Int64).alias(_LN)
    )
    if not whole and delimiter.isspace():
        cols = _drop_blank_lines(cols, names)
    empty = pl.DataFrame(schema={_LN: pl.Int64, _RAW: pl.Utf8, "reason": pl.Utf8})
    return _Split(cols, empty, field_quotes or whole, cols.height, plan, raw_data)


def _drop_blank_lines(cols: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Lines of nothing but whitespace and separators are skipped, as on the line path."""
    blank = lambda n: pl.col(n).is_null() | (pl.col(n).str.strip_chars() == "")  # noqa: E731
    if not cols.select(blank(names[0]).any()).item():
        return cols
    return cols.filter(~pl.all_horizontal(blank(n) for n in names))


def _raw_lines(data: bytes, first_line: int, wanted: Iterable[int]) -> dict[int, str]:
    lines = data.split(b"\n")
    return {ln: _decode_line(lines[ln - first_line]) for ln in wanted}


def _line_reject(frame: pl.DataFrame, reason: pl.Expr) -> pl.DataFrame:
    return frame.select(_LN, _RAW, reason.alias("reason"))


def _split(lines: pl.DataFrame, names: list[str], delimiter: str, batch: _LineBatch) -> _Split:
    if delimiter == ",":
        return _split_csv(lines, names)
    # When every physical line is a good data line, the batch text can go to the reader as is.
    whole_text = batch.text if lines.height == batch.text.count("\n") + 1 else None
    return _split_plain(lines, names, delimiter, whole_text)


def _split_plain(
    lines: pl.DataFrame, names: list[str], delimiter: str, whole_text: str | None
) -> _Split:
    """TSV/pipe: split with no quote processing (a literal quote is data)."""
    n = len(names)
    counted = lines.with_columns(
        (pl.col(_RAW).str.count_matches(delimiter, literal=True) + 1).alias("__n")
    )
    good = counted.filter(pl.col("__n") == n).drop("__n")
    bad = counted.filter(pl.col("__n") != n)
    rejects = _line_reject(bad, pl.format(f"expected {n} fields, found {{}}", pl.col("__n")))
    text = _unquote_whole_lines(good, delimiter)
    if isinstance(text, str):
        text = pl.col(_RAW)
    else:
        whole_text = None
    if bad.height:
        whole_text = None
    # Field-level unquoting is costly: only when some other line has a field starting with '"'.
    field_quotes = good.select(
        pl.col(_RAW).str.contains(f'(?:^|{re.escape(delimiter)})[ ]*"').any()
    ).item()
    fields = _fields_from_good(good, text, names, delimiter, whole_text)
    plan = _Plan(unquote=None if field_quotes else set())
    return _Split(fields, rejects, bool(field_quotes), plan=plan)


def _unquote_whole_lines(good: pl.DataFrame, delimiter: str) -> pl.Expr | str:
    """Lines whose every field is quoted ("a"<TAB>"b", as NC ships) lose the quotes in one pass."""
    raw = pl.col(_RAW)
    sep = f'"{delimiter}"'
    whole = (
        raw.str.starts_with('"')
        & raw.str.ends_with('"')
        & (raw.str.len_bytes() > 1)
        & (
            raw.str.count_matches(sep, literal=True)
            == raw.str.count_matches(delimiter, literal=True)
        )
    )
    inner = raw.str.slice(1, raw.str.len_chars() - 2).str.replace_all(sep, delimiter, literal=True)
    # Cheap test first: most files have no line starting with a quote.
    if not good.select(raw.str.starts_with('"').any()).item():
        return "unchanged"
    if not good.select(whole.any()).item():
        return "unchanged"
    return pl.when(whole).then(inner).otherwise(raw)


def _fields_from_good(
    good: pl.DataFrame, text: pl.Expr, names: list[str], delimiter: str, whole_text: str | None
) -> pl.DataFrame:
    """polars' CSV reader is the fastest splitter; fall back to str.split if it disagrees."""
    schema = dict.fromkeys(names, pl.Utf8)
    cols = None
    if good.height:
        if whole_text is None:
            whole_text = good.select(text.str.join("\n")).item()
        data = whole_text.encode("utf-8") + b"\n"
        try:
            cols = pl.read_csv(
                io.BytesIO(data),
                has_header=False,
                separator=delimiter,
                quote_char=None,
                schema=schema,
            )
        except Exception:  # any reader quirk takes the exact path below
            cols = None
    if cols is None or cols.height != good.height:
        parts = good.select(text.str.split(delimiter))[_RAW]
        cols = pl.DataFrame(
            [parts.list.get(i).alias(name) for i, name in enumerate(names)], schema=schema
        )
    return cols.hstack(good.get_columns())


# One CSV field, preceded by the comma we prepend to every line (so no match is empty).
_CSV_FIELD = r',(?:[ \t]*"(?:[^"]|"")*"[ \t]*|[ \t]*(?:[^,"\s][^,]*)?)'


def _split_csv(lines: pl.DataFrame, names: list[str]) -> _Split:
    """CSV with standard quoting, one line at a time, vectorized with a field regex."""
    n = len(names)
    parsed = lines.with_columns(
        (pl.lit(",") + pl.col(_RAW)).str.extract_all(_CSV_FIELD).alias("__f")
    ).with_columns(
        pl.col("__f").list.len().alias("__n"),
        (
            pl.col("__f").list.eval(pl.element().str.len_bytes()).list.sum()
            == pl.col(_RAW).str.len_bytes() + 1
        ).alias("__ok"),
    )
    good = parsed.filter(pl.col("__ok") & (pl.col("__n") == n))
    bad = parsed.filter(~(pl.col("__ok") & (pl.col("__n") == n)))
    reason = (
        pl.when(~pl.col("__ok"))
        .then(pl.lit("unterminated or malformed quoted field"))
        .otherwise(pl.format(f"expected {n} fields, found {{}}", pl.col("__n")))
    )
    values = pl.col("__f").list.eval(_csv_unquote(pl.element().str.slice(1)))
    cols = good.select(values.list.get(i).alias(name) for i, name in enumerate(names))
    fields = cols.hstack(good.select(_RAW, _LN).get_columns())
    return _Split(fields, _line_reject(bad, reason))


def _csv_unquote(value: pl.Expr) -> pl.Expr:
    trimmed = value.str.strip_chars(" \t")
    quoted = trimmed.str.starts_with('"') & trimmed.str.ends_with('"')
    inner = trimmed.str.slice(1, trimmed.str.len_chars() - 2).str.replace_all(
        '""', '"', literal=True
    )
    return pl.when(quoted & (trimmed.str.len_chars() >= 2)).then(inner).otherwise(value)


# --------------------------------------------------------------------------------------------
# Cleaning values


def _case_variants(word: str) -> set[str]:
    return {"".join(p) for p in itertools.product(*[(c.lower(), c.upper()) for c in word])}


# Placeholder values read as null, every capitalisation spelled out: a hash lookup is several times
# cheaper than a case-insensitive regex on every cell.
_NULL_VALUES = sorted(
    {"", "*"} | _case_variants("null") | _case_variants("n/a") | _case_variants("none")
)


def _clean_expr(name: str, index: int, plan: _Plan) -> pl.Expr | None:
    """Trimmed value, placeholders and blanks null, one pair of surrounding quotes removed.

    Only the steps `plan` says the column can need; None when it needs none.
    """
    value = pl.col(name)
    changed = False
    if plan.has("strip", index):
        value, changed = value.str.strip_chars(), True
    unquote = plan.has("unquote", index)
    if unquote:
        quoted = value.str.starts_with('"') & value.str.ends_with('"') & (value.str.len_bytes() > 1)
        inner = value.str.strip_prefix('"').str.strip_suffix('"').str.strip_chars()
        value, changed = pl.when(quoted).then(inner).otherwise(value), True
    if unquote or plan.has("nulls", index):
        value, changed = value.replace(_NULL_VALUES, None), True
    return value.alias(name) if changed else None


def _collapse_expr(name: str) -> pl.Expr:
    return pl.col(name).str.replace_all(r"\s+", " ").alias(name)


def _clean_columns(
    fields: pl.DataFrame, names: list[str], canonical: set[str], plan: _Plan
) -> pl.DataFrame:
    """Clean the canonical source columns; inner whitespace runs are collapsed too.

    Whether a column needs collapsing is checked per batch, since the regex replace costs
    several times the check and most columns never need it. Other columns are cleaned where
    they are used (`_extra_expr`).
    """
    if not fields.height:
        return fields
    index = {n: i for i, n in enumerate(names)}
    todo = [n for n in names if n in canonical]
    exprs = [e for e in (_clean_expr(n, index[n], plan) for n in todo) if e is not None]
    if exprs:
        fields = fields.with_columns(exprs)
    collapse = [n for n in todo if plan.has("collapse", index[n])]
    if not collapse:
        return fields
    needs = fields.select(
        pl.col(n).str.contains(r"\s\s|[\t\n\r\f\v]").any().alias(n) for n in collapse
    ).row(0)
    todo = [n for n, need in zip(collapse, needs, strict=True) if need]
    return fields.with_columns(_collapse_expr(n) for n in todo) if todo else fields


def _code(
    raw: pl.Expr, mapping: dict[str, str | None], default: str | None, *, upper: bool = True
) -> pl.Expr:
    key = raw.str.to_uppercase() if upper else raw
    if upper:
        # Our own codes ("not_hispanic", "multiracial") read back as themselves, so a file this
        # product exported imports unchanged.
        own = {code.upper(): code for code in mapping.values() if code is not None}
        mapping = {**own, **mapping}
    return key.replace_strict(mapping, default=default, return_dtype=pl.Utf8)


# --------------------------------------------------------------------------------------------
# Dates and numbers, with their errors

_DATE_SHAPE = r"^(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})$"


def _date(value: pl.Expr) -> pl.Expr:
    shaped = value.str.contains(_DATE_SHAPE)
    parsed = pl.coalesce(
        value.str.to_date("%Y-%m-%d", strict=False), value.str.to_date("%m/%d/%Y", strict=False)
    )
    return pl.when(shaped).then(parsed).otherwise(None)


def _date_error(value: pl.Expr) -> pl.Expr:
    return (
        pl.when(value.is_null())
        .then(None)
        .when(~value.str.contains(_DATE_SHAPE))
        .then(pl.format("unrecognized date '{}' (expected YYYY-MM-DD or MM/DD/YYYY)", value))
        .when(_date(value).is_null())
        .then(pl.format("impossible date '{}'", value))
        .otherwise(None)
    )


def _birth_date_error(value: pl.Expr, today: date) -> pl.Expr:
    parsed = _date(value)
    return (
        pl.when(_date_error(value).is_not_null())
        .then(_date_error(value))
        .when(parsed > pl.lit(today))
        .then(pl.lit("birth date is in the future"))
        .when(parsed < pl.lit(date(_MIN_BIRTH_YEAR, 1, 1)))
        .then(pl.lit(f"birth date is before {_MIN_BIRTH_YEAR}"))
        .otherwise(None)
    )


def _year_error(value: pl.Expr, today: date) -> pl.Expr:
    year = value.cast(pl.Int32, strict=False)
    return (
        pl.when(value.is_null())
        .then(None)
        .when(year.is_null() | ~value.str.contains(r"^\d{4}$"))
        .then(pl.lit("birth year is not a 4-digit year"))
        .when((year < _MIN_BIRTH_YEAR) | (year > today.year))
        .then(pl.lit(f"birth year outside {_MIN_BIRTH_YEAR}..{today.year}"))
        .otherwise(None)
    )


def _coordinate_error(value: pl.Expr, limit: int) -> pl.Expr:
    number = value.cast(pl.Float64, strict=False)
    return (
        pl.when(value.is_null())
        .then(None)
        .when(number.is_null() | number.is_nan())
        .then(pl.lit("not a number"))
        .when(number.abs() > limit)
        .then(pl.lit(f"outside [-{limit}, {limit}]"))
        .otherwise(None)
    )


# --------------------------------------------------------------------------------------------
# Voter layouts: which source column feeds which canonical field


@dataclass
class _VoterSpec:
    columns: dict[str, str]  # canonical (or "zip", "phone") -> source column
    address_from: list[str] = field(default_factory=list)  # joined with " " into `address`
    phone_from: list[str] = field(default_factory=list)  # digits concatenated (FL area + number)
    race_codes: dict[str, str] = field(default_factory=lambda: _RACE_NC)
    party_codes: dict[str, str] = field(default_factory=lambda: _PARTY)
    party_blank: str | None = None  # OH: no primary ballot on record means unaffiliated
    ethnicity_from_race: dict[str, str] | None = None
    not_extra: set[str] = field(default_factory=set)


_NC_COLUMNS = {
    "voter_id": "ncid",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "name_suffix_lbl",
    "birth_year": "birth_year",
    "gender": "gender_code",
    "race": "race_code",
    "ethnicity": "ethnic_code",
    "party": "party_cd",
    "registered_on": "registr_dt",
    "status": "status_cd",
    "city": "res_city_desc",
    "state": "state_cd",
    "zip": "zip_code",
    "phone": "full_phone_number",
    "county": "county_desc",
    "precinct": "precinct_abbrv",
    "congressional_district": "cong_dist_abbrv",
    "state_senate_district": "nc_senate_abbrv",
    "state_house_district": "nc_house_abbrv",
    "municipality": "municipality_desc",
    "ward": "ward_abbrv",
}
# Older NC vintages spell three columns differently.
_NC_OLD_NAMES = {"middle_name": "midl_name", "suffix": "name_sufx_cd"}

_OH_COLUMNS = {
    "voter_id": "sos_voterid",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "suffix",
    "birth_date": "date_of_birth",
    "registered_on": "registration_date",
    "status": "voter_status",
    "party": "party_affiliation",
    "city": "residential_city",
    "state": "residential_state",
    "zip": "residential_zip",
    "county": "county_number",
    "precinct": "precinct_name",
    "congressional_district": "congressional_district",
    "state_senate_district": "state_senate_district",
    "state_house_district": "state_representative_district",
    "municipality": "city",
    "ward": "ward",
}
_OH_ELECTION = re.compile(r"^(general|primary|special)-(\d{2}/\d{2}/\d{4})$")

_FL_COLUMNS = {
    "voter_id": "voter_id",
    "first_name": "name_first",
    "middle_name": "name_middle",
    "last_name": "name_last",
    "suffix": "name_suffix",
    "birth_date": "birth_date",
    "gender": "gender",
    "race": "race",
    "party": "party_affiliation",
    "registered_on": "registration_date",
    "status": "voter_status",
    "city": "residence_city",
    "state": "residence_state",
    "zip": "residence_zipcode",
    "email": "email_address",
    "county": "county_code",
    "precinct": "precinct",
    "congressional_district": "congressional_district",
    "state_senate_district": "senate_district",
    "state_house_district": "house_district",
}


def _present(columns: dict[str, str], names: list[str]) -> dict[str, str]:
    return {k: v for k, v in columns.items() if v in names}


def _nc_spec(names: list[str]) -> _VoterSpec:
    columns = dict(_NC_COLUMNS)
    for canonical, old in _NC_OLD_NAMES.items():
        if columns[canonical] not in names and old in names:
            columns[canonical] = old
    return _VoterSpec(_present(columns, names), address_from=["res_street_address"])


def _fl_spec(names: list[str]) -> _VoterSpec:
    return _VoterSpec(
        dict(_FL_COLUMNS),
        address_from=["residence_address_line_1", "residence_address_line_2"],
        phone_from=["daytime_area_code", "daytime_phone_number"],
        race_codes=_RACE_FL,
        ethnicity_from_race=_ETHNICITY_FROM_FL_RACE,
    )


def _oh_spec(names: list[str]) -> _VoterSpec:
    address = [c for c in ("residential_address1", "residential_secondary_addr") if c in names]
    return _VoterSpec(
        _present(_OH_COLUMNS, names),
        address_from=address,
        party_codes=_PARTY_OH,
        party_blank="una",
        not_extra={n for n in names if _OH_ELECTION.match(n)},
    )


def _generic_spec(names: list[str]) -> _VoterSpec:
    columns = _match_aliases(names, _GENERIC_ALIASES)
    # A separate unit column ("address2") belongs on the street line when there is one.
    address = (
        [columns[k] for k in ("address", "unit") if k in columns] if "address" in columns else []
    )
    return _VoterSpec(columns, address_from=address)


def _normalize_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _match_aliases(names: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """First header column whose normalized name is an alias of each canonical field."""
    normalized = {}
    for name in names:
        normalized.setdefault(_normalize_header(name), name)
    found: dict[str, str] = {}
    used: set[str] = set()
    for canonical, spellings in aliases.items():
        for spelling in spellings:
            source = normalized.get(spelling)
            if source is not None and source not in used:
                found[canonical] = source
                used.add(source)
                break
    return found


# --------------------------------------------------------------------------------------------
# Building voter rows


@dataclass
class _Built:
    rows: pl.DataFrame
    rejects: list[RejectedLine]
    invalid_phones: int = 0


def _col_or_null(columns: dict[str, str], key: str) -> pl.Expr:
    source = columns.get(key)
    return pl.col(source) if source else pl.lit(None, dtype=pl.Utf8)


def _joined(names: list[str]) -> pl.Expr:
    if not names:
        return pl.lit(None, dtype=pl.Utf8)
    joined = pl.concat_str([pl.col(n) for n in names], separator=" ", ignore_nulls=True)
    return pl.when(joined.str.len_bytes() > 0).then(joined).otherwise(None)


def _address_exprs(spec: _VoterSpec) -> list[pl.Expr]:
    cols = spec.columns
    none = pl.lit(None, dtype=pl.Utf8)
    if spec.address_from:
        line = _joined(spec.address_from).str.to_uppercase()
        # Split after the select, once per distinct line (see _parse_street_lines).
        house, street, unit = none, none, none
    else:
        # Generic files may give the parts instead of a line.
        parts = [cols[k] for k in ("house_number", "street", "unit") if k in cols]
        line = _joined(parts).str.to_uppercase()
        house, street, unit = none, none, none
    parsed = {"house_number": house, "street": street, "unit": unit}
    for key in parsed:
        if key in cols:  # an explicit column beats what we parse from the line
            parsed[key] = pl.col(cols[key]).str.to_uppercase()
    zip_digits = _col_or_null(cols, "zip").str.extract(r"^(\d{5})(?:-?\d{4})?$", 1)
    zip5 = pl.when(zip_digits.is_in(["00000", "99999"])).then(None).otherwise(zip_digits)
    return [
        line.alias("address"),
        *[expr.alias(key) for key, expr in parsed.items()],
        zip5.alias("zip5"),
    ]


def _voter_exprs(spec: _VoterSpec, default_state: str | None) -> list[pl.Expr]:
    cols = spec.columns
    c = lambda key: _col_or_null(cols, key)  # noqa: E731
    birth_date = _date(c("birth_date"))
    birth_year = pl.coalesce(c("birth_year").cast(pl.Int32, strict=False), birth_date.dt.year())
    party = _code(c("party"), spec.party_codes, "oth")
    if spec.party_blank and "party" in cols:
        party = pl.when(c("party").is_null()).then(pl.lit(spec.party_blank)).otherwise(party)
    ethnicity = _code(c("ethnicity"), _ETHNICITY, "unknown")
    if spec.ethnicity_from_race is not None:
        ethnicity = _code(c("race"), spec.ethnicity_from_race, None)
    state = c("state").str.to_uppercase()
    if default_state:
        state = pl.coalesce(state, pl.lit(default_state.upper()))
    email = c("email").str.to_lowercase()
    exprs = [
        c("voter_id").alias("voter_id"),
        *[c(k).alias(k) for k in ("first_name", "middle_name")],
        birth_date.alias("birth_date"),
        birth_year.cast(pl.Int16, strict=False).alias("birth_year"),
        _code(c("gender"), _GENDER, "other").alias("gender"),
        c("gender").alias("gender_raw"),
        _code(c("race"), spec.race_codes, "other").alias("race"),
        c("race").alias("race_raw"),
        ethnicity.alias("ethnicity"),
        c("ethnicity").alias("ethnicity_raw"),
        party.alias("party"),
        c("party").alias("party_raw"),
        _date(c("registered_on")).alias("registered_on"),
        _code(c("status"), _STATUS, "other").alias("status"),
        c("status").alias("status_raw"),
        *_address_exprs(spec),
        c("city").str.to_uppercase().alias("city"),
        state.alias("state"),
        c("latitude").cast(pl.Float64, strict=False).alias("latitude"),
        c("longitude").cast(pl.Float64, strict=False).alias("longitude"),
        pl.when(email.str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")).then(email).alias("email"),
    ]
    done = {"first_name", "middle_name", "city"}
    return exprs + [c(k).alias(k) for k in _TEXT_FIELDS if k not in done]


def _voter_errors(spec: _VoterSpec, today: date) -> list[tuple[str, pl.Expr]]:
    cols = spec.columns
    c = lambda key: _col_or_null(cols, key)  # noqa: E731
    missing_id = pl.when(c("voter_id").is_null()).then(pl.lit("required"))
    return [
        ("voter_id", missing_id),
        ("birth_date", _birth_date_error(c("birth_date"), today)),
        ("birth_year", _year_error(c("birth_year"), today)),
        ("registered_on", _date_error(c("registered_on"))),
        ("latitude", _coordinate_error(c("latitude"), 90)),
        ("longitude", _coordinate_error(c("longitude"), 180)),
    ]


def _phone_source(spec: _VoterSpec) -> pl.Expr:
    if spec.phone_from:
        digits = [pl.col(n).str.replace_all(r"[^0-9]", "") for n in spec.phone_from]
        joined = pl.concat_str(digits, ignore_nulls=True)
        return pl.when(joined.str.len_bytes() > 0).then(joined).otherwise(None)
    return _col_or_null(spec.columns, "phone")


_JSON_SPECIAL = r'[\\"\x00-\x1f]'
_CONTROL_CHARS = [chr(c) for c in range(32)]


def _extra_expr(fields: pl.DataFrame, names: list[str], used: set[str], plan: _Plan) -> pl.Expr:
    """Every unmapped source column with a value, as a JSON object keyed by the lower-cased
    header name (in header order); empty and placeholder values are left out.

    Built as a concatenation of '"key":"value"' pieces; only columns that hold a quote, a
    backslash or a control character in this batch get escaped.
    """
    rest = [(i, n) for i, n in enumerate(names) if n not in used]
    if not rest:
        return pl.lit("{}")
    keys = _unique_keys([n.lower() for _, n in rest])
    values = {n: _clean_expr(n, i, plan) for i, n in rest}
    values = {n: pl.col(n) if v is None else v for n, v in values.items()}
    maybe = [n for i, n in rest if plan.has("escape", i)]
    if maybe and fields.height:
        checks = fields.select(
            *[
                values[n].str.contains(_JSON_SPECIAL).any().alias(f"s{k}")
                for k, n in enumerate(maybe)
            ],
            *[
                values[n].str.contains(r"[\x00-\x1f]").any().alias(f"c{k}")
                for k, n in enumerate(maybe)
            ],
        ).row(0)
        for k, n in enumerate(maybe):
            if checks[k]:
                values[n] = _json_escape(values[n], control=checks[len(maybe) + k])
    # A column with no value in this batch is left out; a run of columns with a value on every
    # row is one concatenation; a column with some nulls is one piece, null where it is null.
    nulls = dict(zip(fields.columns, fields.null_count().row(0), strict=True))
    pieces: list[pl.Expr] = []
    run: list[pl.Expr] = []
    for (_, n), key in zip(rest, keys, strict=True):
        if nulls[n] == fields.height:
            continue
        prefix = json.dumps(key) + ':"'
        if nulls[n] == 0 and values[n].meta.is_column():
            run += [pl.lit(('","' if run else '"') + prefix[1:]), values[n]]
            continue
        if run:
            pieces.append(pl.concat_str([*run, pl.lit('"')]))
            run = []
        pieces.append(pl.concat_str([pl.lit(prefix), values[n], pl.lit('"')]))
    if run:
        pieces.append(pl.concat_str([*run, pl.lit('"')]))
    if not pieces:
        return pl.lit("{}")
    body = pl.concat_str(pieces, separator=",", ignore_nulls=True)
    return pl.concat_str([pl.lit("{"), body, pl.lit("}")])


def _json_escape(value: pl.Expr, *, control: bool) -> pl.Expr:
    value = value.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        '"', '\\"', literal=True
    )
    if control:
        for char in _CONTROL_CHARS:
            value = value.str.replace_all(char, json.dumps(char)[1:-1], literal=True)
    return value


def _unique_keys(keys: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return out


def _build_voters(
    fields: pl.DataFrame,
    names: list[str],
    spec: _VoterSpec,
    file_name: str,
    default_state: str | None,
    plan: _Plan,
) -> _Built:
    today = date.today()
    errors = _voter_errors(spec, today)
    used = set(spec.columns.values()) | set(spec.address_from) | set(spec.phone_from)
    used |= spec.not_extra
    selected = fields.select(
        *_voter_exprs(spec, default_state),
        _phone_source(spec).alias("__phone"),
        _extra_expr(fields, names, used, plan).alias("extra"),
        *[e.alias(f"__err{i}") for i, (_, e) in enumerate(errors)],
        *_carried(fields),
    )
    del fields
    good, rejects = _separate(selected, [f for f, _ in errors], file_name)
    phones = normalize_phones(good["__phone"])
    given = good["__phone"].is_not_null() & ~placeholder_phones(good["__phone"])
    invalid = int((given & phones.is_null()).sum())
    good = good.with_columns(phones.alias("phone"))
    if spec.address_from:
        good = _parse_street_lines(good, spec)
    # house_number, street and unit are upper case already (see _address_exprs).
    key = household_keys(good["house_number"], good["street"], good["unit"], good["zip5"])
    good = good.with_columns(key)
    return _Built(_final(good, VOTER_COLUMNS), rejects, invalid)


def _parse_street_lines(good: pl.DataFrame, spec: _VoterSpec) -> pl.DataFrame:
    """house_number, street and unit from the address line, where no column gives them."""
    todo = [k for k in ("house_number", "street", "unit") if k not in spec.columns]
    if not todo:
        return good
    parts = split_street_lines(good["address"])
    return good.with_columns(parts[k] for k in todo)


def _separate(
    selected: pl.DataFrame, error_fields: list[str], file_name: str
) -> tuple[pl.DataFrame, list[RejectedLine]]:
    """Rows with no error, and a RejectedLine (all its errors) for each row with any."""
    err_cols = [f"__err{i}" for i in range(len(error_fields))]
    if not err_cols:
        return selected, []
    has_error = pl.any_horizontal(pl.col(c).is_not_null() for c in err_cols)
    flags = selected.select(has_error)
    if not flags.to_series().any():
        return selected, []
    flagged = selected.with_columns(flags.to_series().alias("__bad"))
    bad = flagged.filter(pl.col("__bad"))
    raw = pl.col(_RAW) if _RAW in bad.columns else pl.lit(None, dtype=pl.Utf8)
    rejects = []
    for row in bad.select(_LN, raw, *err_cols).iter_rows():
        errs = tuple(
            FieldError(name, reason)
            for name, reason in zip(error_fields, row[2:], strict=True)
            if reason is not None
        )
        rejects.append(RejectedLine(file_name, row[0], row[1], errs))
    return flagged.filter(~pl.col("__bad")), rejects


def _carried(frame: pl.DataFrame) -> list[str]:
    """The line number, and the raw line when the batch came the line-by-line way."""
    return [_LN, _RAW] if _RAW in frame.columns else [_LN]


def _final(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(
        *[pl.col(name).cast(dtype) for name, dtype in schema.items()],
        pl.col(_LN).cast(pl.Int64).alias("line_number"),
    )


def _line_rejects(split: _Split, file_name: str) -> list[RejectedLine]:
    return [
        RejectedLine(file_name, ln, raw, (FieldError("line", reason),))
        for ln, raw, reason in split.rejects.iter_rows()
    ]


# --------------------------------------------------------------------------------------------
# History layouts


def _history_errors(
    voter_id: pl.Expr, election_on: pl.Expr, etype_raw: pl.Expr, etype: pl.Expr
) -> list[tuple[str, pl.Expr]]:
    allowed = ", ".join(ELECTION_TYPES)
    return [
        ("voter_id", pl.when(voter_id.is_null()).then(pl.lit("required"))),
        (
            "election_on",
            pl.when(election_on.is_null())
            .then(pl.lit("required"))
            .otherwise(_date_error(election_on)),
        ),
        (
            "election_type",
            pl.when(etype_raw.is_null())
            .then(pl.lit("required"))
            .when(etype.is_null())
            .then(pl.lit(f"unknown election type; expected one of {allowed}")),
        ),
    ]


def _nc_election_type(desc: pl.Expr) -> pl.Expr:
    d = desc.str.to_uppercase()
    return (
        pl.when(d.is_null())
        .then(None)
        .when(d.str.contains("PRESIDENTIAL PREFERENCE"))
        .then(pl.lit("presidential_primary"))
        .when(d.str.contains("RUNOFF|RUN-OFF|SECOND PRIMARY"))
        .then(pl.lit("runoff"))
        .when(d.str.contains("MUNICIPAL"))
        .then(pl.lit("municipal"))
        .when(d.str.contains("SPECIAL"))
        .then(pl.lit("special"))
        .when(d.str.contains("PRIMARY"))
        .then(pl.lit("primary"))
        .when(d.str.contains("GENERAL"))
        .then(pl.lit("general"))
        .otherwise(pl.lit("other"))
    )


def _nc_method(raw: pl.Expr) -> pl.Expr:
    m = raw.str.to_uppercase()
    return (
        pl.when(m.is_null())
        .then(None)
        .when(m.str.contains("PROVISIONAL"))
        .then(pl.lit("provisional"))
        .when(m.str.contains("ONESTOP|ONE STOP|EARLY|ABSENTEE CURBSIDE"))
        .then(pl.lit("early"))
        .when(m.str.contains("MAIL|ABSENTEE"))
        .then(pl.lit("mail"))
        .when(m.str.contains("IN-PERSON|IN PERSON|ELECTION DAY|CURBSIDE"))
        .then(pl.lit("polls"))
        .otherwise(pl.lit("other"))
    )


def _history_frame(
    fields: pl.DataFrame,
    file_name: str,
    exprs: dict[str, pl.Expr],
    etype_raw: pl.Expr,
    extra_errors: Sequence[tuple[str, pl.Expr]] = (),
) -> _Built:
    errors = _history_errors(
        exprs["voter_id"], exprs["__date_raw"], etype_raw, exprs["election_type"]
    )
    errors += list(extra_errors)
    selected = fields.select(
        *[e.alias(k) for k, e in exprs.items()],
        *[e.alias(f"__err{i}") for i, (_, e) in enumerate(errors)],
        *_carried(fields),
    )
    good, rejects = _separate(selected, [f for f, _ in errors], file_name)
    good = good.with_columns(_date(pl.col("__date_raw")).alias("election_on"))
    return _Built(_final(good, HISTORY_COLUMNS), rejects)


def _nc_history(fields: pl.DataFrame, names: list[str], file_name: str) -> _Built:
    etype_raw = pl.col("election_desc")
    exprs = {
        "voter_id": pl.col("ncid"),
        "__date_raw": pl.col("election_lbl"),
        "election_type": _nc_election_type(etype_raw),
        "method": _nc_method(_col_or_null(_present_map(names, "voting_method"), "m")),
        "method_raw": _col_or_null(_present_map(names, "voting_method"), "m"),
        "party": _col_or_null(_present_map(names, "voted_party_cd"), "m").str.to_uppercase(),
        "voted": pl.lit(True),
    }
    return _history_frame(fields, file_name, exprs, etype_raw)


def _present_map(names: list[str], column: str) -> dict[str, str]:
    return {"m": column} if column in names else {}


def _fl_history(fields: pl.DataFrame, file_name: str) -> _Built:
    code = pl.col("history_code").str.to_uppercase()
    methods = {k: m for k, (m, _) in _FL_HISTORY.items()}
    voted = {k: v for k, (_, v) in _FL_HISTORY.items()}
    etype_raw = pl.col("election_type")
    exprs = {
        "voter_id": pl.col("voter_id"),
        "__date_raw": pl.col("election_date"),
        "election_type": _code(etype_raw, _FL_ELECTION_TYPE, None),
        "method": code.replace_strict(methods, default=None, return_dtype=pl.Utf8),
        "method_raw": pl.col("history_code"),
        "party": pl.lit(None, dtype=pl.Utf8),
        "voted": code.replace_strict(voted, default=None, return_dtype=pl.Boolean),
    }
    codes = ", ".join(sorted(_FL_HISTORY))
    bad_code = pl.when(~code.is_in(list(_FL_HISTORY)) | code.is_null()).then(
        pl.lit(f"unknown history code; expected one of {codes}")
    )
    return _history_frame(fields, file_name, exprs, etype_raw, [("history_code", bad_code)])


def _generic_history(fields: pl.DataFrame, columns: dict[str, str], file_name: str) -> _Built:
    c = lambda key: _col_or_null(columns, key)  # noqa: E731
    etype_raw = c("election_type")
    etype_key = etype_raw.str.to_uppercase().str.replace_all("_", " ")
    method_key = c("method").str.to_uppercase().str.replace_all("_", " ")
    voted_key = c("voted").str.to_uppercase()
    exprs = {
        "voter_id": c("voter_id"),
        "__date_raw": c("election_date"),
        "election_type": etype_key.replace_strict(
            _ELECTION_TYPE, default=None, return_dtype=pl.Utf8
        ),
        "method": method_key.replace_strict(_METHOD, default="other", return_dtype=pl.Utf8),
        "method_raw": c("method"),
        "party": c("party").str.to_uppercase(),
        "voted": voted_key.replace_strict(_VOTED, default=None, return_dtype=pl.Boolean).fill_null(
            True
        ),
    }
    bad_voted = pl.when(voted_key.is_not_null() & ~voted_key.is_in(list(_VOTED))).then(
        pl.lit("expected yes/no, true/false, y/n or 1/0")
    )
    return _history_frame(fields, file_name, exprs, etype_raw, [("voted", bad_voted)])


def _oh_history(fields: pl.DataFrame, names: list[str], file_name: str) -> _Built:
    """One history row per non-blank election cell; the row keeps the voter's line number."""
    elections = [n for n in names if _OH_ELECTION.match(n)]
    missing_id = pl.when(pl.col("sos_voterid").is_null()).then(pl.lit("required"))
    selected = fields.select(
        pl.col("sos_voterid").alias("voter_id"),
        *elections,
        missing_id.alias("__err0"),
        *_carried(fields),
    )
    good, rejects = _separate(selected, ["voter_id"], file_name)
    long = good.unpivot(index=["voter_id", _LN], on=elections, variable_name="__e", value_name="v")
    long = long.filter(pl.col("v").is_not_null()).sort(_LN, maintain_order=True)
    parts = pl.col("__e").str.extract_groups(_OH_ELECTION.pattern)
    value = pl.col("v").str.to_uppercase()
    rows = long.with_columns(
        _date(parts.struct.field("2")).alias("election_on"),
        parts.struct.field("1").alias("election_type"),
        pl.lit(None, dtype=pl.Utf8).alias("method"),
        pl.lit(None, dtype=pl.Utf8).alias("method_raw"),
        pl.when(value == "X").then(None).otherwise(value).alias("party"),
        pl.lit(True).alias("voted"),
    )
    return _Built(_final(rows, HISTORY_COLUMNS), rejects)


# --------------------------------------------------------------------------------------------
# Headers and the reading loop


@dataclass
class _Header:
    names: list[str]  # lower-cased, trimmed, de-duplicated column names
    delimiter: str
    first_data_line: int
    bytes_read: int


def _read_header(handle: BinaryIO, file_name: str, delimiter: str | None) -> _Header:
    line_number = 0
    for raw in handle:
        line_number += 1
        text = _decode_line(raw.rstrip(b"\n")).removesuffix("\r")
        if not text.strip():
            continue
        if delimiter is None:
            delimiter = _detect_delimiter(text)
        cells = _header_cells(text, delimiter)
        names = _unique_keys([_clean_header(c) for c in cells])
        return _Header(names, delimiter, line_number + 1, handle.tell())
    raise LayoutError(file_name, 1, "the file is empty (no header row)")


def _detect_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in ("\t", ",", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header_cells(text: str, delimiter: str) -> list[str]:
    if delimiter != ",":
        return text.split(delimiter)
    return next(csv.reader([text]), [text])


def _clean_header(cell: str) -> str:
    return cell.strip().strip('"').strip().lower()


def _require(names: list[str], columns: Iterable[str], file_name: str) -> None:
    for column in columns:
        if column not in names:
            raise LayoutError(file_name, 1, f"required column '{column}' is missing")


@dataclass
class _Source:
    names: list[str]
    delimiter: str
    batches: Iterator[list[_LineBatch]]


def _open_source(
    path: Path, layout: str, file_name: str, batch_rows: int, headerless: tuple[str, ...] | None
) -> _Source:
    if layout not in LAYOUTS:
        raise LayoutError(file_name, 1, f"unknown layout '{layout}'; expected one of {LAYOUTS}")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    handle = _open_checked(path, file_name)
    if headerless is not None:
        names = [n.lower() for n in headerless]
        return _Source(names, "\t", _closing(handle, _line_batches(handle, batch_rows, 1)))
    delimiter = {"nc": "\t", "oh": ","}.get(layout)
    try:
        header = _read_header(handle, file_name, delimiter)
    except BaseException:
        handle.close()
        raise
    batches = _line_batches(handle, batch_rows, header.first_data_line)
    return _Source(header.names, header.delimiter, _closing(handle, batches))


def _closing(handle: BinaryIO, batches: Iterator[list[_LineBatch]]) -> Iterator[list[_LineBatch]]:
    with handle:
        yield from batches


def _parse_batches(
    source: _Source, file_name: str, build: Callable[[_Split], _Built]
) -> Iterator[ParsedBatch]:
    for pieces in source.batches:
        parsed = [_parse_piece(piece, source, file_name, build) for piece in pieces]
        frames = [p.rows for p in parsed]
        batch = ParsedBatch(
            file_name=file_name,
            rows=frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=False),
            rejects=[r for p in parsed for r in p.rejects],
            lines_read=sum(p.lines_read for p in parsed),
            bytes_read=pieces[-1].bytes_read,
            invalid_phones=sum(p.invalid_phones for p in parsed),
        )
        del parsed, frames, pieces  # nothing but the result stays alive while the consumer works
        yield batch
        del batch


def _parse_piece(
    batch: _LineBatch, source: _Source, file_name: str, build: Callable[[_Split], _Built]
) -> ParsedBatch:
    split = None
    if source.delimiter != ",":
        split = _fast_split(batch, source.names, source.delimiter)
    if split is None:
        lines = _lines_frame(batch)
        split = _split(lines, source.names, source.delimiter, batch)
        split.lines_read = lines.height
        del lines
    built = build(split)
    rejects = sorted(_line_rejects(split, file_name) + built.rejects, key=lambda r: r.line_number)
    missing = [r.line_number for r in rejects if r.raw is None]
    if missing and split.data is not None:
        raw = _raw_lines(split.data, batch.first_line, missing)
        rejects = [
            r
            if r.raw is not None
            else RejectedLine(file_name, r.line_number, raw[r.line_number], r.errors)
            for r in rejects
        ]
    return ParsedBatch(
        file_name=file_name,
        rows=built.rows,
        rejects=rejects,
        lines_read=split.lines_read or 0,
        bytes_read=batch.bytes_read,
        invalid_phones=built.invalid_phones,
    )


def read_voter_batches(
    path: str | Path,
    *,
    layout: str,
    batch_rows: int = 100_000,
    default_state: str | None = None,
    display_name: str | None = None,
) -> Iterator[ParsedBatch]:
    """Parse a voter file of `layout` into batches of canonical rows and rejected lines.

    Raises LayoutError (before the first batch) for an unknown layout, an unreadable header or a
    missing required column.
    """
    path = Path(path)
    file_name = display_name or path.name
    headerless = tuple(FL_VOTER_FIELDS) if layout == "fl" else None
    source = _open_source(path, layout, file_name, batch_rows, headerless)
    spec = _voter_spec(layout, source.names, file_name)
    canonical = set(spec.columns.values()) | set(spec.address_from) | set(spec.phone_from)

    def build(split: _Split) -> _Built:
        cleaned = _clean_columns(split.fields, source.names, canonical, split.plan)
        split.fields = cleaned  # the raw fields are no longer needed
        return _build_voters(cleaned, source.names, spec, file_name, default_state, split.plan)

    return _parse_batches(source, file_name, build)


def _voter_spec(layout: str, names: list[str], file_name: str) -> _VoterSpec:
    if layout == "nc":
        _require(names, ["ncid"], file_name)
        return _nc_spec(names)
    if layout == "fl":
        return _fl_spec(names)
    if layout == "oh":
        _require(names, ["sos_voterid"], file_name)
        return _oh_spec(names)
    spec = _generic_spec(names)
    if "voter_id" not in spec.columns:
        raise LayoutError(file_name, 1, "required column 'voter_id' is missing")
    return spec


def read_history_batches(
    path: str | Path,
    *,
    layout: str,
    batch_rows: int = 100_000,
    display_name: str | None = None,
) -> Iterator[ParsedBatch]:
    """Parse a vote-history file of `layout`; for `oh` that is the voter file's election columns."""
    path = Path(path)
    file_name = display_name or path.name
    headerless = FL_HISTORY_FIELDS if layout == "fl" else None
    source = _open_source(path, layout, file_name, batch_rows, headerless)
    names = source.names
    build = _history_builder(layout, names, file_name)

    def run(split: _Split) -> _Built:
        cleaned = _clean_columns(split.fields, names, set(names), split.plan)
        split.fields = cleaned
        return build(cleaned)

    return _parse_batches(source, file_name, run)


def _history_builder(
    layout: str, names: list[str], file_name: str
) -> Callable[[pl.DataFrame], _Built]:
    if layout == "nc":
        _require(names, ["ncid", "election_lbl", "election_desc"], file_name)
        return lambda f: _nc_history(f, names, file_name)
    if layout == "fl":
        return lambda f: _fl_history(f, file_name)
    if layout == "oh":
        _require(names, ["sos_voterid"], file_name)
        if not any(_OH_ELECTION.match(n) for n in names):
            raise LayoutError(file_name, 1, "no election columns (TYPE-MM/DD/YYYY) found")
        return lambda f: _oh_history(f, names, file_name)
    columns = _match_aliases(names, _GENERIC_HISTORY_ALIASES)
    for required in ("voter_id", "election_date", "election_type"):
        if required not in columns:
            raise LayoutError(file_name, 1, f"required column '{required}' is missing")
    return lambda f: _generic_history(f, columns, file_name)
