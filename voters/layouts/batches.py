"""The loop shared by voter and history files: open, read the header, cut into batches, split each
piece (fast path first), build its rows, hand out `ParsedBatch`es. Memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from voters.layouts import fast_path
from voters.layouts.counts import FieldCounts
from voters.layouts.digests import LineFilter
from voters.layouts.reading import (
    LineBatch,
    line_batches,
    lines_frame,
    open_checked,
    raw_lines,
    read_header,
)
from voters.layouts.rows import Built
from voters.layouts.schema import LAYOUTS, LN, FieldError, LayoutError, ParsedBatch, RejectedLine
from voters.layouts.splitting import Split, split_lines


@dataclass
class Source:
    names: list[str]
    delimiter: str
    batches: Iterator[list[LineBatch]]


def open_source(
    path: Path, layout: str, file_name: str, batch_rows: int, headerless: tuple[str, ...] | None
) -> Source:
    if layout not in LAYOUTS:
        raise LayoutError(file_name, 1, f"unknown layout '{layout}'; expected one of {LAYOUTS}")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    handle = open_checked(path, file_name)
    if headerless is not None:
        names = [n.lower() for n in headerless]
        batches = line_batches(handle, batch_rows, 1, file_name)
        return Source(names, "\t", _closing(handle, batches))
    delimiter = {"nc": "\t", "oh": ","}.get(layout)
    try:
        header = read_header(handle, file_name, delimiter)
    except BaseException:
        handle.close()
        raise
    batches = line_batches(handle, batch_rows, header.first_data_line, file_name)
    return Source(header.names, header.delimiter, _closing(handle, batches))


def _closing(handle: BinaryIO, batches: Iterator[list[LineBatch]]) -> Iterator[list[LineBatch]]:
    with handle:
        yield from batches


def parse_batches(
    source: Source,
    file_name: str,
    build: Callable[[Split], Built],
    line_filter: LineFilter | None = None,
    empty_rows: pl.DataFrame | None = None,
) -> Iterator[ParsedBatch]:
    """With `line_filter`, rows gain a `line_digest` column, and lines it knows are not parsed
    but listed in the batch's `seen` (their rows then look like `empty_rows`)."""
    for pieces in source.batches:
        if line_filter is None:
            parsed = [_parse_piece(piece, source, file_name, build) for piece in pieces]
        else:
            parsed = [
                _parse_filtered(piece, source, file_name, build, line_filter, empty_rows)
                for piece in pieces
            ]
        frames = [p.rows for p in parsed]
        batch = ParsedBatch(
            file_name=file_name,
            rows=frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=False),
            rejects=[r for p in parsed for r in p.rejects],
            lines_read=sum(p.lines_read for p in parsed),
            bytes_read=pieces[-1].bytes_read,
            invalid_phones=sum(p.invalid_phones for p in parsed),
            field_counts=_added(p.field_counts for p in parsed),
        )
        if line_filter is not None:
            batch.seen = pl.concat([p.seen for p in parsed if p.seen is not None])
        del parsed, frames, pieces  # nothing but the result stays alive while the consumer works
        yield batch
        del batch


def _parse_filtered(
    piece: LineBatch,
    source: Source,
    file_name: str,
    build: Callable[[Split], Built],
    line_filter: LineFilter,
    empty_rows: pl.DataFrame | None,
) -> ParsedBatch:
    todo, seen, digests = line_filter.split(piece)
    if todo is None:
        if empty_rows is None:
            raise ValueError("a line filter needs the empty rows of its layout")
        rows = empty_rows.with_columns(pl.lit(None, dtype=pl.Binary).alias("line_digest"))
        parsed = ParsedBatch(file_name, rows, [], 0, piece.bytes_read)
    else:
        parsed = _parse_piece(todo, source, file_name, build)
        position = parsed.rows["line_number"] - piece.first_line
        parsed.rows = parsed.rows.with_columns(digests.gather(position).alias("line_digest"))
    parsed.seen = seen
    parsed.lines_read += seen.height
    return parsed


def _parse_piece(
    batch: LineBatch, source: Source, file_name: str, build: Callable[[Split], Built]
) -> ParsedBatch:
    # Called through its module, so a test can force the line-by-line path.
    split = fast_path.fast_split(batch, source.names, source.delimiter)
    if split is None:
        lines = lines_frame(batch)
        split = split_lines(lines, source.names, source.delimiter, batch)
        split.lines_read = lines.height
        del lines
    has_nul = b"\x00" in batch.data  # one scan of the bytes; the rare batch pays the rest
    nul_rejects = _reject_nul_fields(split, source.names, batch, file_name) if has_nul else []
    built = build(split)
    rejects = sorted(
        _line_rejects(split, file_name) + nul_rejects + built.rejects, key=lambda r: r.line_number
    )
    missing = [r.line_number for r in rejects if r.raw is None]
    if missing and split.data is not None:
        raw = raw_lines(split.data, batch, missing)
        rejects = [
            r
            if r.raw is not None
            else RejectedLine(file_name, r.line_number, raw[r.line_number], r.errors)
            for r in rejects
        ]
    if has_nul:  # the database stores no NUL in text: the raw line shows it as \x00
        rejects = [
            RejectedLine(r.file_name, r.line_number, _show_nul(r.raw), r.errors) for r in rejects
        ]
    return ParsedBatch(
        file_name=file_name,
        rows=built.rows,
        rejects=rejects,
        lines_read=split.lines_read or 0,
        bytes_read=batch.bytes_read,
        invalid_phones=built.invalid_phones,
        field_counts=built.counts,
    )


def _added(counts: Iterable[FieldCounts | None]) -> FieldCounts:
    total = FieldCounts()
    for one in counts:
        if one is not None:
            total.add(one)
    return total


def _reject_nul_fields(
    split: Split, names: list[str], batch: LineBatch, file_name: str
) -> list[RejectedLine]:
    """Rows with a NUL byte in any field, taken out of `split`: one rejected line each, naming
    every such field. (PostgreSQL stores no NUL in text, and a NUL is never data.)"""
    fields = split.fields
    flags = fields.select(
        pl.col(n).str.contains("\x00", literal=True).fill_null(False).alias(n) for n in names
    )
    bad = flags.select(pl.any_horizontal(pl.all())).to_series()
    if not bad.any():
        return []
    numbers = fields.filter(bad)[LN].to_list()
    raw = raw_lines(batch.data, batch, numbers)
    rejects = [
        RejectedLine(
            file_name,
            number,
            raw[number],
            tuple(
                FieldError(name, "NUL byte (\\x00) in the field")
                for name, flag in zip(names, row, strict=True)
                if flag
            ),
        )
        for number, row in zip(numbers, flags.filter(bad).iter_rows(), strict=True)
    ]
    split.fields = fields.filter(~bad)
    return rejects


def _show_nul(raw: str | None) -> str | None:
    return raw.replace("\x00", "\\x00") if raw else raw


def _line_rejects(split: Split, file_name: str) -> list[RejectedLine]:
    return [
        RejectedLine(file_name, ln, raw, (FieldError("line", reason),))
        for ln, raw, reason in split.rejects.iter_rows()
    ]
