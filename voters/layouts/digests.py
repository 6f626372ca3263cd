"""Digests of raw lines, so that a re-import skips, unparsed, the lines an earlier import wrote.

A line's digest is the md5 of its bytes, salted with everything else that decides what the line
imports as: the layout, the header row, the campaign's default state and `DIGEST_VERSION`. The
voter id is inside the line, so a digest that an earlier import stored on a voter means that voter,
with exactly the values it holds: the line need not be parsed, normalized, staged or written.

Parsing a line costs about fifty times more than hashing it, and a monthly state file changes in a
few percent of its lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from voters.layouts.reading import LineBatch

# Bump whenever parsing or normalization changes what a line imports as: every stored digest then
# stops matching and the next import of each voter parses (and, if need be, rewrites) the line.
# 2: integer codes written as decimals ("6.0") read as integers.
DIGEST_VERSION = "2"
DIGEST_BYTES = 16


def digest_salt(
    *, layout: str, names: list[str], delimiter: str, default_state: str | None
) -> bytes:
    text = "\x1f".join([DIGEST_VERSION, layout, delimiter, default_state or "", *names])
    return hashlib.md5(text.encode(), usedforsecurity=False).digest()


def line_digests(lines: list[bytes], salt: bytes) -> list[bytes]:
    """The 16-byte digest of each raw line (its bytes as in the file, "\\r" included)."""
    base = hashlib.md5(salt, usedforsecurity=False)

    def one(line: bytes, copy=base.copy) -> bytes:
        digest = copy()
        digest.update(line)
        return digest.digest()

    return list(map(one, lines))


class KnownDigests:
    """Digests stored by earlier imports, sorted for vectorized look-ups (16 bytes a voter)."""

    def __init__(self, digests: bytes | bytearray | np.ndarray = b""):
        words = np.frombuffer(digests, dtype=">u8").reshape(-1, 2)
        order = np.lexsort((words[:, 1], words[:, 0]))
        self._hi = words[order, 0].astype(np.uint64)
        self._lo = words[order, 1].astype(np.uint64)

    def __len__(self) -> int:
        return len(self._hi)

    def contains(self, digests: list[bytes]) -> np.ndarray:
        """A boolean per digest: was it stored?"""
        found = np.zeros(len(digests), dtype=bool)
        if not len(self) or not digests:
            return found
        words = np.frombuffer(b"".join(digests), dtype=">u8").reshape(-1, 2)
        hi, lo = words[:, 0].astype(np.uint64), words[:, 1].astype(np.uint64)
        first = np.searchsorted(self._hi, hi)
        # Digests that share their first 8 bytes sit side by side: step through them (almost
        # always zero or one step), so the look-up compares all 16 bytes.
        pending = np.arange(len(hi))
        step = 0
        while pending.size:
            at = first[pending] + step
            inside = at < len(self._hi)
            pending, at = pending[inside], at[inside]
            same = self._hi[at] == hi[pending]
            pending, at = pending[same], at[same]
            hit = self._lo[at] == lo[pending]
            found[pending[hit]] = True
            pending = pending[~hit]
            step += 1
        return found


SEEN_SCHEMA = {"line_number": pl.Int64, "line_digest": pl.Binary}


@dataclass
class LineFilter:
    """Splits a batch of lines into those to parse and those an earlier import already holds."""

    salt: bytes
    known: KnownDigests

    def split(self, piece: LineBatch) -> tuple[LineBatch | None, pl.DataFrame, pl.Series]:
        """(the lines to parse, None when there are none; the known lines as `SEEN_SCHEMA`;
        the digest of every line of `piece`, by position)."""
        lines = piece.data.split(b"\n")
        if len(lines) != piece.lines:  # never expected: parse everything rather than guess
            raise ValueError(f"batch of {piece.lines} lines splits into {len(lines)}")
        digests = line_digests(lines, self.salt)
        by_position = pl.Series("line_digest", digests, dtype=pl.Binary)
        known = self.known.contains(digests)
        if not known.any():
            return piece, pl.DataFrame(schema=SEEN_SCHEMA), by_position
        numbers = np.arange(piece.first_line, piece.first_line + piece.lines, dtype=np.int64)
        seen = pl.DataFrame(
            {"line_number": numbers[known], "line_digest": by_position.filter(known)},
            schema=SEEN_SCHEMA,
        )
        keep = ~known
        if not keep.any():
            return None, seen, by_position
        todo = LineBatch(
            first_line=int(numbers[keep][0]),
            data=b"\n".join(line for line, wanted in zip(lines, keep, strict=True) if wanted),
            lines=int(keep.sum()),
            bytes_read=piece.bytes_read,
            numbers=numbers[keep],
        )
        return todo, seen, by_position
