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
    head = handle.read(3)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        handle.close()
        raise LayoutError(file_name, 1, "UTF-16 text is not supported for this layout")
    if head != b"\xef\xbb\xbf":
        handle.seek(0)
    return handle


def _newlines(data: bytes | bytearray) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NL)


def line_batches(handle: BinaryIO, batch_rows: int, first_line: int) -> Iterator[list[LineBatch]]:
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
    for raw in handle:
        line_number += 1
        text = _decode_line(raw.rstrip(b"\n")).removesuffix("\r")
        if not text.strip():
            continue
        if delimiter is None:
            delimiter = _detect_delimiter(text)
        cleaned = [_clean_header(c) for c in _header_cells(text, delimiter)]
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
