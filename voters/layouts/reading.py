"""Bytes to lines: opening a file, its header row, decoding, and cutting it into batches of lines.

A batch decodes as UTF-8; a line that is not UTF-8 decodes as cp1252, else Latin-1. Lines split on
"\\n" (a trailing "\\r" dropped); blank lines are skipped and not counted.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from voters.layouts.schema import LN, RAW, LayoutError

_CHUNK_BYTES = 1 << 20
# No voter, history or contact line comes near this; a longer one is a file of another kind, or
# one whose lines end in a carriage return alone (the whole file one line). Python's csv module
# has the same default field limit.
MAX_LINE_BYTES = 131_072
# How much of a file's start is looked at to tell text from binary.
_HEAD_BYTES = 65_536
_MIN_SAMPLE = 512
_BINARY_SHARE = 0.08
# Magic numbers of what people upload instead of a text file.
_NOT_TEXT = {
    b"PK\x03\x04": "a ZIP archive (or an .xlsx workbook): unzip it, or save the sheet as CSV",
    b"\x1f\x8b": "a gzip file: decompress it first",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook: save the sheet as CSV",
    b"%PDF-": "a PDF document",
}
# Bytes text never holds (controls other than tab, LF, VT, FF, CR and the DOS end-of-file mark).
_BINARY_BYTES = np.array(
    [b for b in range(32) if b not in (9, 10, 11, 12, 13, 26)] + [127], dtype=np.uint8
)
_PIECE_LINES = 25_000
NL = 10  # the newline byte


def file_size(path: str | Path) -> int:
    return Path(path).stat().st_size


@dataclass
class LineBatch:
    first_line: int  # physical number of the first line in `data`
    data: bytes  # the lines' raw bytes joined by "\n" (no trailing "\n")
    lines: int  # physical lines in `data`
    bytes_read: int  # cumulative
    _text: str | None = None
    # Physical number of each line in `data`, when they are not consecutive (a re-import leaves
    # out the lines it already holds); None means first_line, first_line + 1, ...
    numbers: np.ndarray | None = None

    def line_numbers(self, count: int | None = None) -> pl.Series:
        """The physical numbers of the first `count` (default: all) lines, as the LN column."""
        if self.numbers is None:
            end = self.first_line + (self.lines if count is None else count)
            return pl.int_range(self.first_line, end, dtype=pl.Int64, eager=True).alias(LN)
        return pl.Series(LN, self.numbers, dtype=pl.Int64)

    def index_of(self, line_number: int) -> int:
        """Position in `data` of a physical line number."""
        if self.numbers is None:
            return line_number - self.first_line
        return int(np.searchsorted(self.numbers, line_number))

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


def open_checked(path: Path, file_name: str) -> BinaryIO:
    handle = open(path, "rb")  # noqa: SIM115 - closed by the generator that owns it
    head = handle.read(_HEAD_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        handle.close()
        raise LayoutError(file_name, 1, "UTF-16 text is not supported for this layout")
    try:
        refuse_binary(head, file_name)
    except LayoutError:
        handle.close()
        raise
    handle.seek(3 if head.startswith(b"\xef\xbb\xbf") else 0)
    return handle


def refuse_binary(head: bytes, file_name: str) -> None:
    """Raise LayoutError when a file's first bytes are not text: an archive, a workbook, or
    control bytes throughout. A stray NUL in a field is not enough (that row is rejected)."""
    for magic, what in _NOT_TEXT.items():
        if head.startswith(magic):
            raise LayoutError(file_name, 1, f"not a text file: {what}")
    if len(head) < _MIN_SAMPLE:
        return  # too little to judge: its lines are parsed, and bad ones rejected
    arr = np.frombuffer(head, dtype=np.uint8)
    binary = np.flatnonzero(np.isin(arr, _BINARY_BYTES))
    # Random or compressed bytes are 11.3 % such bytes (29 of 256); text with a stray one, next
    # to none. 8 % is far from both, on a sample of 512 bytes or more.
    if len(binary) >= _BINARY_SHARE * len(arr):
        line = head[: binary[0]].count(b"\n") + 1
        raise LayoutError(
            file_name, line, f"not a text file: binary data ({len(binary):,} control bytes)"
        )


def too_long(file_name: str, line_number: int) -> LayoutError:
    return LayoutError(
        file_name,
        line_number,
        f"line longer than {MAX_LINE_BYTES:,} bytes: not a file of this kind, or its lines "
        "end in a carriage return alone",
    )


def _newlines(data: bytes | bytearray) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NL)


def line_batches(
    handle: BinaryIO, batch_rows: int, first_line: int, file_name: str = ""
) -> Iterator[list[LineBatch]]:
    """Batches of at most `batch_rows` physical lines, read in large blocks (memory stays flat).

    Each batch comes as consecutive pieces; the last one carries the batch's `bytes_read`.
    Raises LayoutError for a line longer than MAX_LINE_BYTES.
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
            # The line still open must not grow without end (a file with no newline at all).
            if len(buf) - (int(ends[-1]) + 1 if len(ends) else 0) > MAX_LINE_BYTES:
                raise too_long(file_name, line_number + len(ends))
        if not buf:
            return
        if len(ends) >= batch_rows:
            cut = int(ends[batch_rows - 1]) + 1
            lines = batch_rows
        else:  # end of file: the rest, with or without a final newline
            cut = len(buf)
            lines = len(ends) + (0 if buf.endswith(b"\n") else 1)
            ends = ends[:lines]
        _check_line_lengths(ends, cut, lines, line_number, file_name)
        # The batch is parsed in pieces of at most _PIECE_LINES lines: the same rows, with a
        # fraction of the working memory.
        pieces = []
        view = memoryview(buf)
        start = 0
        for first in range(0, lines, _PIECE_LINES):
            count = min(_PIECE_LINES, lines - first)
            end = int(ends[first + count - 1]) if first + count <= len(ends) else cut
            piece_end = end + 1 if end < cut else cut
            pieces.append(LineBatch(line_number + first, bytes(view[start:end]), count, 0))
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


def _check_line_lengths(
    ends: np.ndarray, cut: int, lines: int, first_line: int, file_name: str
) -> None:
    """Raise LayoutError for the first of a batch's `lines` lines longer than MAX_LINE_BYTES."""
    bounds = np.concatenate([[-1], ends[:lines]])
    if len(bounds) <= lines:  # the file's last line, with no newline
        bounds = np.append(bounds, cut)
    over = np.flatnonzero(np.diff(bounds) - 1 > MAX_LINE_BYTES)
    if len(over):
        raise too_long(file_name, first_line + int(over[0]))


def lines_frame(batch: LineBatch) -> pl.DataFrame:
    """Non-blank lines with their physical numbers, trailing "\\r" removed."""
    lines = pl.Series(RAW, batch.text.split("\n"), dtype=pl.Utf8)
    frame = pl.DataFrame({RAW: lines, LN: batch.line_numbers(len(lines))}).with_columns(
        pl.col(RAW).str.strip_suffix("\r")
    )
    return frame.filter(pl.col(RAW).str.strip_chars().str.len_bytes() > 0)


def raw_lines(data: bytes, batch: LineBatch, wanted: Iterable[int]) -> dict[int, str]:
    lines = data.split(b"\n")
    return {ln: _decode_line(lines[batch.index_of(ln)]) for ln in wanted}


def unique_keys(keys: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return out


@dataclass
class Header:
    names: list[str]  # lower-cased, trimmed, de-duplicated column names
    delimiter: str
    first_data_line: int
    bytes_read: int


def read_header(handle: BinaryIO, file_name: str, delimiter: str | None) -> Header:
    line_number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        line_number += 1
        if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            raise too_long(file_name, line_number)
        if b"\x00" in raw:
            raise LayoutError(file_name, line_number, "NUL byte in the header row")
        text = _decode_line(raw.rstrip(b"\n")).removesuffix("\r")
        if not text.strip():
            continue
        if delimiter is None:
            delimiter = _detect_delimiter(text)
        try:
            cells = _header_cells(text, delimiter)
        except csv.Error as exc:
            raise LayoutError(file_name, line_number, f"unreadable header row ({exc})") from None
        cleaned = [_clean_header(c) for c in cells]
        _refuse_duplicates(cleaned, file_name, line_number)
        # Blank names (a trailing delimiter, say) may repeat; they are told apart by position.
        names = unique_keys(cleaned)
        return Header(names, delimiter, line_number + 1, handle.tell())
    raise LayoutError(file_name, 1, "the file is empty (no header row)")


def _refuse_duplicates(names: list[str], file_name: str, line_number: int) -> None:
    """Two columns of one name: which one holds the value is a guess, so neither is taken."""
    first: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            continue
        if name in first:
            raise LayoutError(
                file_name,
                line_number,
                f"duplicate column '{name}' in the header (columns {first[name]} and {position});"
                " rename or remove one of them",
            )
        first[name] = position


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
