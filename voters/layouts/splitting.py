"""Lines to fields, the line-by-line way, and what the split tells later steps (`Plan`, `Split`).

TSV and pipe files get no quote processing except that one pair of quotes around a whole field is
removed. CSV honours standard quoting on one line; a quoted field that spans lines is not supported:
its first line is rejected ("unterminated or malformed quoted field") and the continuation usually
has the wrong field count. The faster path for most batches is in `fast_path`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import polars as pl

from voters.layouts.reading import LineBatch
from voters.layouts.schema import LN, RAW


@dataclass
class Plan:
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
class Split:
    fields: pl.DataFrame  # one Utf8 column per header name, plus LN (and RAW, slow path)
    rejects: pl.DataFrame  # LN, RAW, reason
    field_quotes: bool = False  # some field may still be wrapped in quotes
    lines_read: int | None = None  # non-blank lines (fast path)
    plan: Plan = field(default_factory=Plan)
    data: bytes | None = None  # fast path: the batch's lines, for rejected rows' raw text


def _line_reject(frame: pl.DataFrame, reason: pl.Expr) -> pl.DataFrame:
    return frame.select(LN, RAW, reason.alias("reason"))


def split_lines(lines: pl.DataFrame, names: list[str], delimiter: str, batch: LineBatch) -> Split:
    if delimiter == ",":
        return _split_csv(lines, names)
    # When every physical line is a good data line, the batch text can go to the reader as is.
    whole_text = batch.text if lines.height == batch.text.count("\n") + 1 else None
    return _split_plain(lines, names, delimiter, whole_text)


def _split_plain(
    lines: pl.DataFrame, names: list[str], delimiter: str, whole_text: str | None
) -> Split:
    """TSV/pipe: split with no quote processing (a literal quote is data)."""
    n = len(names)
    counted = lines.with_columns(
        (pl.col(RAW).str.count_matches(delimiter, literal=True) + 1).alias("__n")
    )
    good = counted.filter(pl.col("__n") == n).drop("__n")
    bad = counted.filter(pl.col("__n") != n)
    rejects = _line_reject(bad, pl.format(f"expected {n} fields, found {{}}", pl.col("__n")))
    text = _unquote_whole_lines(good, delimiter)
    if isinstance(text, str):
        text = pl.col(RAW)
    else:
        whole_text = None
    if bad.height:
        whole_text = None
    # Field-level unquoting is costly: only when some other line has a field starting with '"'.
    field_quotes = good.select(
        pl.col(RAW).str.contains(f'(?:^|{re.escape(delimiter)})[ ]*"').any()
    ).item()
    fields = _fields_from_good(good, text, names, delimiter, whole_text)
    plan = Plan(unquote=None if field_quotes else set())
    return Split(fields, rejects, bool(field_quotes), plan=plan)


def _unquote_whole_lines(good: pl.DataFrame, delimiter: str) -> pl.Expr | str:
    """Lines whose every field is quoted ("a"<TAB>"b", as NC ships) lose the quotes in one pass."""
    raw = pl.col(RAW)
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
        parts = good.select(text.str.split(delimiter))[RAW]
        cols = pl.DataFrame(
            [parts.list.get(i).alias(name) for i, name in enumerate(names)], schema=schema
        )
    return cols.hstack(good.get_columns())


# One CSV field, preceded by the comma we prepend to every line (so no match is empty).
_CSV_FIELD = r',(?:[ \t]*"(?:[^"]|"")*"[ \t]*|[ \t]*(?:[^,"\s][^,]*)?)'


def _split_csv(lines: pl.DataFrame, names: list[str]) -> Split:
    """CSV with standard quoting, one line at a time, vectorized with a field regex."""
    n = len(names)
    parsed = lines.with_columns(
        (pl.lit(",") + pl.col(RAW)).str.extract_all(_CSV_FIELD).alias("__f")
    ).with_columns(
        pl.col("__f").list.len().alias("__n"),
        (
            pl.col("__f").list.eval(pl.element().str.len_bytes()).list.sum()
            == pl.col(RAW).str.len_bytes() + 1
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
    fields = cols.hstack(good.select(RAW, LN).get_columns())
    return Split(fields, _line_reject(bad, reason))


def _csv_unquote(value: pl.Expr) -> pl.Expr:
    trimmed = value.str.strip_chars(" \t")
    quoted = trimmed.str.starts_with('"') & trimmed.str.ends_with('"')
    inner = trimmed.str.slice(1, trimmed.str.len_chars() - 2).str.replace_all(
        '""', '"', literal=True
    )
    return pl.when(quoted & (trimmed.str.len_chars() >= 2)).then(inner).otherwise(value)
