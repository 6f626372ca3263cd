"""Quoted CSV bytes to unquoted separated bytes, for the fast path: a vectorized scan of the quotes.

`unquote_csv` resolves a batch's double-quote quoting at once and hands back the same fields with
no quoting left, so polars' reader can split them as it does a TSV. It takes only batches whose
every quote sits where `splitting._split_csv` reads it the same way:

- a quoted field starts right after a comma or the line start and its closing quote is followed
  by a comma or the line end; inside, `""` is one quote and commas are data;
- an unquoted field holds no quote at all (the line path reads `O"Brien` as data, but one bare
  quote makes the count odd and the toggling scan below would misread the rest of the line).

Anything else gives None for the whole batch, and the line path takes it: a quote anywhere else,
an odd number of quotes on a line (a quoted field spanning lines), spaces around a quoted field,
a wrong field count, a control byte other than tab and newline, and an unquoted field starting
with a non-ASCII space (the line path's field regex rejects a field starting with `\\s`).
"""

from __future__ import annotations

import re

import numpy as np

NL, TAB, QUOTE, COMMA = 10, 9, 34, 44
US = 0x1F  # the ASCII unit separator: stands in for the commas between fields
NON_ASCII_SPACE = re.compile(  # Unicode White_Space beyond ASCII, as UTF-8
    rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
)
_SPACE_LIMIT = 1_000  # more non-ASCII spaces than this and the batch takes the line path
_SPECIAL_LIMIT = 5_000  # more quoted commas or `""` than this: the scan of every quote instead


def unquote_csv(data: bytes, n: int, lines: int) -> tuple[bytes, int] | None:
    """`lines` CSV lines of `n` fields (joined by "\\n", no CR) unquoted, and their separator.

    None when the batch is not in the shape described above.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    if not len(arr) or np.count_nonzero(arr < 32) != lines - 1 + data.count(b"\t"):
        return None  # a control byte, or the sentinel itself, in the data
    if not data.isascii() and _space_starts_unquoted_field(data):
        return None
    pieces = _unquote_pieces(data, arr, n, lines)
    if pieces is not None:
        return pieces
    fields = _resolve_quotes(arr, n)
    return None if fields is None else (fields, US)


def _unquote_pieces(data: bytes, arr: np.ndarray, n: int, lines: int) -> tuple[bytes, int] | None:
    """The usual case, cheaply: the batch split at every comma, then the few quoted fields that
    hold a comma joined again and the few `""` escapes resolved one by one. Else None.
    """
    size = len(arr)
    is_bound = (arr == COMMA) | (arr == NL)
    is_quote = arr == QUOTE
    # At each boundary byte: whether a quote follows it, whether one precedes it.
    quote_after = np.zeros(size, dtype=bool)
    np.logical_and(is_bound[:-1], is_quote[1:], out=quote_after[:-1])
    quote_before = np.zeros(size, dtype=bool)
    np.logical_and(is_bound[1:], is_quote[:-1], out=quote_before[1:])
    lone = (quote_after[:-2] & quote_before[2:]).any()  # a piece that is one quote
    if lone or (is_quote[0] and (size == 1 or quote_before[1])) or quote_after[-2:-1].any():
        return None  # (the last test: a one-quote piece at the very end)
    bounds = np.flatnonzero(is_bound)
    # Piece k runs from bounds[k - 1] + 1 to bounds[k] - 1; does it start, end with a quote?
    opens = np.empty(len(bounds) + 1, dtype=bool)
    opens[0] = is_quote[0]
    opens[1:] = quote_after[bounds]
    closes = np.empty(len(bounds) + 1, dtype=bool)
    closes[-1] = is_quote[-1]
    closes[:-1] = quote_before[bounds]
    whole = opens & closes
    # A quoted field holding commas: a piece that only opens, pieces with no quote at either
    # end, and a piece that only closes, all on one line.
    first, final = np.flatnonzero(opens & ~closes), np.flatnonzero(closes & ~opens)
    inner = np.zeros(len(bounds), dtype=bool)  # the boundaries inside a quoted field
    in_field = whole
    if len(first) or len(final):
        if len(first) != len(final) or len(first) > _SPECIAL_LIMIT:
            return None
        if (first >= final).any() or (final[:-1] >= first[1:]).any():
            return None
        ended = np.cumsum(opens | closes)
        if (ended[final - 1] != ended[first]).any():
            return None
        inner = _ranges(len(bounds), first, final)
        if (arr[bounds[inner]] != COMMA).any():
            return None
        in_field = whole | _ranges(len(opens), first, final + 1)
    separators = bounds[~inner] if len(first) else bounds
    if len(separators) != n * lines - 1 or (arr[separators[n - 1 :: n]] != NL).any():
        return None
    escaped = np.count_nonzero(is_quote) - 2 * np.count_nonzero(whole) - len(first) - len(final)
    pairs = np.empty(0, dtype=np.int64)
    if escaped:
        if escaped > 2 * _SPECIAL_LIMIT:
            return None
        # Quotes neither first nor last in their piece (the data's ends are either).
        found = np.flatnonzero(is_quote[1:-1] & ~quote_after[:-2] & ~quote_before[2:]) + 1
        pairs = found[0::2]
        if len(found) % 2 or (found[1::2] - pairs != 1).any():
            return None  # a quote inside a field that is not half of a `""`
        if not in_field[np.searchsorted(bounds, pairs)].all():
            return None  # `""` inside an unquoted field is data as it stands
    commas = bounds[inner]
    if not len(commas) and not len(pairs):
        return data.translate(None, b'"'), COMMA
    table = bytes.maketrans(b",", bytes([US])) if len(commas) else None
    out, at = [], 0
    for pos in sorted([*commas.tolist(), *pairs.tolist()]):
        out.append(data[at:pos].translate(table, b'"'))
        out.append(data[pos : pos + 1])  # the comma, or one quote of the pair
        at = pos + 1 if data[pos] == COMMA else pos + 2
    out.append(data[at:].translate(table, b'"'))
    return b"".join(out), US if len(commas) else COMMA


def _ranges(size: int, begin: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """A mask of `size` that is True on every [begin[i], stop[i]) (disjoint, ascending)."""
    edges = np.zeros(size + 1, dtype=np.int8)
    edges[begin] += 1
    edges[stop] -= 1
    return np.cumsum(edges[:-1], dtype=np.int8).view(bool)


def _resolve_quotes(arr: np.ndarray, n: int) -> bytes | None:
    """Any quoting in the shape above: quotes resolved, fields separated by `US`; else None."""
    is_quote = arr == QUOTE
    # The parity of the quotes so far (the count wraps at 256, the parity survives): with an even
    # number on every line, it is odd from an opening quote up to its closing one, which makes a
    # closing quote directly followed by an opening one the `""` escape.
    odd = np.cumsum(is_quote, dtype=np.uint8) & 1
    newlines = np.flatnonzero(arr == NL)
    if odd[-1] or odd[newlines].any():
        return None
    odd = odd.view(bool)
    boundary = is_quote | (arr == COMMA) | (arr == NL)  # what may touch a structural quote
    opening = is_quote & odd
    closing = is_quote & ~odd
    if (opening[1:] & ~boundary[:-1]).any() or (closing[:-1] & ~boundary[1:]).any():
        return None
    commas = (arr == COMMA) & ~odd  # the commas outside quoted fields
    at = np.flatnonzero(commas)
    if (np.diff(np.searchsorted(at, newlines), prepend=0, append=len(at)) != n - 1).any():
        return None
    out = arr.copy()
    out[at] = US
    # Drop every opening quote and every closing quote but the first of a `""` pair.
    drop = is_quote
    drop[:-1] &= ~(closing[:-1] & is_quote[1:])
    return out[~drop].tobytes()


def _space_starts_unquoted_field(data: bytes) -> bool:
    """Some field may start (after spaces and tabs) with a non-ASCII space."""
    for count, match in enumerate(NON_ASCII_SPACE.finditer(data)):
        if count >= _SPACE_LIMIT:
            return True
        at = match.start() - 1
        while at >= 0 and data[at] in (32, TAB):
            at -= 1
        if at < 0 or data[at] in (NL, COMMA):
            return True
    return False
