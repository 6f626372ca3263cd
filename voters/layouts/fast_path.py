"""Lines to fields, fast: a whole batch through polars' CSV reader, steered by a byte scan.

Tab, pipe and comma-separated batches; a CSV batch has its quoting resolved first
(`quoted_csv`). `fast_split` returns None for any batch it cannot take exactly;
`splitting.split_lines` then does it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from voters.layouts.quoted_csv import NON_ASCII_SPACE, unquote_csv
from voters.layouts.reading import NL, LineBatch
from voters.layouts.schema import LN, RAW
from voters.layouts.splitting import Plan, Split

# The whole batch goes to polars' CSV reader in one call, and a vectorized scan of the bytes says
# which columns can need trimming, placeholder nulls, whitespace collapsing, unquoting or JSON
# escaping, so the per-cell work is done only where it can matter. Any batch it cannot take
# exactly (a bad field count, stray carriage returns, non-UTF-8 bytes in a TSV, a mix of quoted
# and unquoted lines in a TSV, CSV quoting it cannot resolve exactly) goes through the
# line-by-line path instead.

_SCAN_LIMIT = 20_000  # more hits than this and a check answers "every column"


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
    if not ((arr[after] == NL) | (cr == len(arr) - 1)).all():
        return None
    return np.delete(arr, cr).tobytes()


def _unquote_all_lines(data: bytes, sep: int) -> bytes | None:
    """Every line fully quoted ("a"<TAB>"b", as NC ships): all quotes dropped at once, else None.

    Same result per line as `splitting._unquote_whole_lines`: every separator and line end sits
    between a closing and an opening quote, the data starts and ends with one, and no field is a
    lone quote.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    size = len(arr)
    if size < 2 or arr[0] != ord('"') or arr[-1] != ord('"'):
        return None
    bound = (arr == sep) | (arr == NL)
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

    def plan(self, quoted: bool, opening_quotes: set[int] | None) -> Plan:
        """`quoted`: values get unquoted at all; `opening_quotes`: where one may start a field."""
        arr, data = self.arr, self.data
        ctl = arr < 32
        expected = self.lines - 1 + ((self.n - 1) * self.lines if self.sep < 32 else 0)
        unsure = None if quoted else set()
        if int(np.count_nonzero(ctl)) != expected:  # control characters inside fields
            return Plan(unquote=unsure)
        escape = self._escape()
        if not data.isascii() and NON_ASCII_SPACE.search(data):
            return Plan(escape=escape, unquote=unsure)
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
        return Plan(
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
            return np.where(inside, arr[idx], NL), ~inside | edge[idx]

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
            if i < 0 or data[i] == NL or data[i] == sep:
                opening.append(at)
        return bool(opening), self.columns(opening)


def fast_split(batch: LineBatch, names: list[str], delimiter: str) -> Split | None:
    n = len(names)
    data = batch.data
    if n < 2 or len(delimiter) != 1 or not data.strip(b"\n"):
        return None
    if delimiter == ",":
        return _fast_split_csv(batch, names)
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
    cols = _read_fields(data, delimiter, names, lines)
    if cols is None:
        return None
    field_quotes, unquote = scan.opening_quotes()
    plan = scan.plan(field_quotes or whole, unquote)
    del scan
    # The reader returns many chunks per column; every eager select would join them again.
    cols = cols.rechunk().with_columns(batch.line_numbers())
    if not whole and delimiter.isspace():
        cols = _drop_blank_lines(cols, names)
    empty = pl.DataFrame(schema={LN: pl.Int64, RAW: pl.Utf8, "reason": pl.Utf8})
    return Split(cols, empty, field_quotes or whole, cols.height, plan, raw_data)


def _read_fields(data: bytes, separator: str, names: list[str], lines: int) -> pl.DataFrame | None:
    """Unquoted fields as text columns, or None unless polars read exactly one row per line."""
    try:
        cols = pl.read_csv(
            data,
            has_header=False,
            separator=separator,
            quote_char=None,
            schema=dict.fromkeys(names, pl.Utf8),
            encoding="utf8",
        )
    except Exception:  # any reader quirk takes the exact path
        return None
    if cols.height != lines or cols.width != len(names):
        return None
    return cols


def _fast_split_csv(batch: LineBatch, names: list[str]) -> Split | None:
    """A CSV batch: quoting resolved by `unquote_csv`, then read like a TSV.

    The values are those of `splitting._split_csv` (quotes and `""` escapes resolved, nothing
    trimmed), except that an empty field is null, as on the TSV fast path; cleaning makes both
    null.
    """
    n, lines, data = len(names), batch.lines, batch.data
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:  # decoded line by line as on the line path, then as UTF-8
            data = batch.text.encode("utf-8")
    if b"\r" in data:
        data = _without_crlf(data)
        if data is None:
            return None
    unquoted = unquote_csv(data, n, lines)
    if unquoted is None:
        return None
    fields, sep = unquoted
    cols = _read_fields(fields, chr(sep), names, lines)
    if cols is None:
        return None
    plan = _Scan(fields, sep, n, lines).plan(quoted=False, opening_quotes=None)
    del fields
    cols = cols.rechunk().with_columns(batch.line_numbers())
    empty = pl.DataFrame(schema={LN: pl.Int64, RAW: pl.Utf8, "reason": pl.Utf8})
    return Split(cols, empty, False, lines, plan, data)


def _drop_blank_lines(cols: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Lines of nothing but whitespace and separators are skipped, as on the line path."""
    blank = lambda n: pl.col(n).is_null() | (pl.col(n).str.strip_chars() == "")  # noqa: E731
    if not cols.select(blank(names[0]).any()).item():
        return cols
    return cols.filter(~pl.all_horizontal(blank(n) for n in names))
