"""The `extra` column: every unmapped source column with a value, as one JSON object per row."""

from __future__ import annotations

import json

import polars as pl

from voters.layouts.reading import unique_keys
from voters.layouts.splitting import Plan
from voters.layouts.values import clean_expr

_JSON_SPECIAL = r'[\\"\x00-\x1f]'
_CONTROL_CHARS = [chr(c) for c in range(32)]


def extra_expr(fields: pl.DataFrame, names: list[str], used: set[str], plan: Plan) -> pl.Expr:
    """Every unmapped source column with a value, as a JSON object keyed by the lower-cased
    header name (in header order); empty and placeholder values are left out.

    Built as a concatenation of '"key":"value"' pieces; only columns that hold a quote, a
    backslash or a control character in this batch get escaped.
    """
    rest = [(i, n) for i, n in enumerate(names) if n not in used]
    if not rest:
        return pl.lit("{}")
    keys = unique_keys([n.lower() for _, n in rest])
    values = {n: clean_expr(n, i, plan) for i, n in rest}
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
