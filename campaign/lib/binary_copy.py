"""Rows for PostgreSQL's binary COPY, built column by column with numpy (no object per row).

A binary COPY row is a field count, then each field as a 4-byte length and its bytes, all
big-endian. Fixed-width columns (bigint, double precision, timestamptz) become one packed numpy
record per row; a column of varying width is given as its distinct values, each encoded once,
and a per-row index into them, so a million rows sharing a few hundred thousand units or a
handful of JSON documents cost a few array operations, not a million small byte strings.
The server then parses no numbers or timestamps from text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
TRAILER = b"\xff\xff"
JSONB_VERSION = b"\x01"
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Values:
    """A varying-width column's distinct values, each as its length word and its bytes."""

    blob: np.ndarray  # uint8, the values back to back
    starts: np.ndarray  # per value: where it starts in `blob`
    sizes: np.ndarray  # per value: its size in `blob`, length word included


def encode_values(values: Sequence[bytes]) -> Values:
    """Distinct values (each already in its binary form) laid out for `encode_rows`."""
    words = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    return encode_packed(words, b"".join(values))


def encode_packed(words: np.ndarray, data: bytes) -> Values:
    """Distinct values given back to back in `data`, `words[k]` bytes each."""
    words = np.asarray(words, dtype=np.int64)
    lengths = words.astype(">i4").view(np.uint8)
    sizes = words + 4
    blob = np.empty(int(sizes.sum()), dtype=np.uint8)
    starts = _starts(sizes)
    _copy_segments(blob, starts, lengths, np.arange(len(words)) * 4, np.full(len(words), 4))
    _copy_segments(blob, starts + 4, np.frombuffer(data, dtype=np.uint8), _starts(words), words)
    return Values(blob, starts, sizes)


def jsonb_values(documents: Sequence[object]) -> list[bytes]:
    """JSONB's binary form: a version byte, then the JSON text (which the server parses)."""
    return [JSONB_VERSION + json.dumps(d).encode() for d in documents]


def timestamptz(at: dt.datetime) -> int:
    """Microseconds since PostgreSQL's epoch: timestamptz's binary value."""
    return (at - PG_EPOCH) // dt.timedelta(microseconds=1)


def encode_rows(
    fixed: Sequence[np.ndarray], varying: Sequence[tuple[Values, np.ndarray]]
) -> np.ndarray:
    """The rows' bytes (uint8): the fixed-width columns, then the varying ones, in that order.

    `fixed` holds int64 (bigint, timestamptz) or float64 (double precision) arrays, `varying`
    each column's values and every row's index into them; no NULLs.
    """
    head = _fixed_block(fixed, len(fixed) + len(varying))
    n, width = head.shape
    sizes = [values.sizes[index] for values, index in varying]
    row_sizes = width + np.sum(sizes, axis=0, dtype=np.int64) if sizes else np.full(n, width)
    row_starts = _starts(row_sizes)
    out = np.empty(int(row_sizes.sum()), dtype=np.uint8)
    out[(row_starts[:, None] + np.arange(width)).ravel()] = head.ravel()
    at = row_starts + width
    for (values, index), size in zip(varying, sizes, strict=True):
        _copy_segments(out, at, values.blob, values.starts[index], size)
        at = at + size
    return out


def _fixed_block(fixed: Sequence[np.ndarray], fields: int) -> np.ndarray:
    """rows x width bytes: the field count, then each column's length word and value."""
    layout = [("count", ">i2")]
    for i, column in enumerate(fixed):
        layout += [(f"size{i}", ">i4"), (f"value{i}", ">f8" if column.dtype.kind == "f" else ">i8")]
    block = np.empty(len(fixed[0]), dtype=np.dtype(layout))
    block["count"] = fields
    for i, column in enumerate(fixed):
        block[f"size{i}"] = 8
        block[f"value{i}"] = column
    return block.view(np.uint8).reshape(len(block), block.dtype.itemsize)


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Where each of back-to-back pieces of these sizes starts."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.cumsum(sizes) - sizes


def _copy_segments(
    out: np.ndarray,
    out_starts: np.ndarray,
    src: np.ndarray,
    src_starts: np.ndarray,
    sizes: np.ndarray,
) -> None:
    """out[out_starts[k]:][:sizes[k]] = src[src_starts[k]:][:sizes[k]] for every k at once."""
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if not total:
        return
    position = np.arange(total, dtype=np.int64) - np.repeat(_starts(sizes), sizes)
    out[np.repeat(out_starts, sizes) + position] = src[np.repeat(src_starts, sizes) + position]
