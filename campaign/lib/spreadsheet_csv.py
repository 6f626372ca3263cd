"""The one CSV writer of the product: every file a person may open in a spreadsheet goes
through it, so every cell is escaped the same way.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (CSV injection); voter files, arm names and reasons carry text from
outside. Such a cell is written with a leading `'`, which spreadsheets show as text. A cell that
is just a number (`-0.03125`, an E.164 phone `+19195550101`) is left alone: a spreadsheet reads it
as a number, never a formula, and files read by programs keep their numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: object) -> object:
    """The value as it may go into a CSV cell: text that a spreadsheet would run is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return value if _PLAIN_NUMBER.match(value) else "'" + value
    return value


class SpreadsheetSafeWriter:
    """`csv.writer` with every cell passed through `safe_cell`."""

    def __init__(self, out: _Writable, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)

    def writedicts(self, fieldnames: Sequence[str], rows: Iterable[dict]) -> None:
        """A header, then each dict's values in `fieldnames` order (csv.DictWriter's job)."""
        self.writerow(fieldnames)
        self.writerows([row.get(name, "") for name in fieldnames] for row in rows)


def writer(out: _Writable, **fmtparams: Any) -> SpreadsheetSafeWriter:
    return SpreadsheetSafeWriter(out, **fmtparams)
