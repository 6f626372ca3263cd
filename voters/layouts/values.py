"""Cell values: trimming, placeholder nulls, whitespace, unquoting; dates and numbers, and the
reasons a date, birth year or coordinate is rejected (bad date strings are echoed, nothing else).
"""

from __future__ import annotations

import itertools
from datetime import date

import polars as pl

from campaign.lib.timestamps import EARLIEST_YEAR, LATEST_YEAR, OUT_OF_RANGE
from voters.layouts.splitting import Plan

_MIN_BIRTH_YEAR = 1880


def _case_variants(word: str) -> set[str]:
    return {"".join(p) for p in itertools.product(*[(c.lower(), c.upper()) for c in word])}


# Placeholder values read as null, every capitalisation spelled out: a hash lookup is several times
# cheaper than a case-insensitive regex on every cell.
_NULL_VALUES = sorted(
    {"", "*"} | _case_variants("null") | _case_variants("n/a") | _case_variants("none")
)


def clean_expr(name: str, index: int, plan: Plan) -> pl.Expr | None:
    """Trimmed value, placeholders and blanks null, one pair of surrounding quotes removed.

    Only the steps `plan` says the column can need; None when it needs none.
    """
    value = pl.col(name)
    changed = False
    if plan.has("strip", index):
        value, changed = value.str.strip_chars(), True
    unquote = plan.has("unquote", index)
    if unquote:
        quoted = value.str.starts_with('"') & value.str.ends_with('"') & (value.str.len_bytes() > 1)
        inner = value.str.strip_prefix('"').str.strip_suffix('"').str.strip_chars()
        value, changed = pl.when(quoted).then(inner).otherwise(value), True
    if unquote or plan.has("nulls", index):
        value, changed = value.replace(_NULL_VALUES, None), True
    return value.alias(name) if changed else None


def _collapse_expr(name: str) -> pl.Expr:
    return pl.col(name).str.replace_all(r"\s+", " ").alias(name)


def clean_columns(
    fields: pl.DataFrame, names: list[str], canonical: set[str], plan: Plan
) -> pl.DataFrame:
    """Clean the canonical source columns; inner whitespace runs are collapsed too.

    Whether a column needs collapsing is checked per batch, since the regex replace costs
    several times the check and most columns never need it. Other columns are cleaned where
    they are used (`extra.extra_expr`).
    """
    if not fields.height:
        return fields
    index = {n: i for i, n in enumerate(names)}
    todo = [n for n in names if n in canonical]
    exprs = [e for e in (clean_expr(n, index[n], plan) for n in todo) if e is not None]
    if exprs:
        fields = fields.with_columns(exprs)
    collapse = [n for n in todo if plan.has("collapse", index[n])]
    if not collapse:
        return fields
    needs = fields.select(
        pl.col(n).str.contains(r"\s\s|[\t\n\r\f\v]").any().alias(n) for n in collapse
    ).row(0)
    todo = [n for n, need in zip(collapse, needs, strict=True) if need]
    return fields.with_columns(_collapse_expr(n) for n in todo) if todo else fields


# A whole number written as a decimal ("27517.0", "6.00"), as files that went through a
# spreadsheet or a float column carry codes; group 1 is the number.
_WHOLE_DECIMAL = r"^([+-]?\d+)\.0+$"


def whole_number(value: pl.Expr) -> pl.Expr:
    """A code written as a whole decimal read as the integer it is: "27517.0" -> "27517",
    "6.00" -> "6". Anything else, "6.5" included, is left as it is: a code with a real
    fraction is not ours to round, and the field's own check (a zip's five digits, say) decides
    whether it is usable.
    """
    return pl.coalesce(value.str.extract(_WHOLE_DECIMAL, 1), value)


def zip_code(value: pl.Expr) -> pl.Expr:
    """A zip as written, whole decimals read as integers, and 3-4 digits zero-padded to five:
    New England and New Jersey zips begin with 0, which a spreadsheet drops ("2134" is 02134)."""
    whole = whole_number(value)
    return pl.when(whole.str.contains(r"^\d{3,4}$")).then(whole.str.zfill(5)).otherwise(whole)


_DATE_SHAPE = r"^(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})$"


def to_date(value: pl.Expr) -> pl.Expr:
    shaped = value.str.contains(_DATE_SHAPE)
    parsed = pl.coalesce(
        value.str.to_date("%Y-%m-%d", strict=False), value.str.to_date("%m/%d/%Y", strict=False)
    )
    return pl.when(shaped).then(parsed).otherwise(None)


def date_error(value: pl.Expr) -> pl.Expr:
    return (
        pl.when(value.is_null())
        .then(None)
        .when(~value.str.contains(_DATE_SHAPE))
        .then(pl.format("unrecognized date '{}' (expected YYYY-MM-DD or MM/DD/YYYY)", value))
        .when(to_date(value).is_null())
        .then(pl.format("impossible date '{}'", value))
        .when(~to_date(value).dt.year().is_between(EARLIEST_YEAR, LATEST_YEAR))
        .then(pl.format(f"date '{{}}' is {OUT_OF_RANGE}", value))
        .otherwise(None)
    )


def birth_date_error(value: pl.Expr, today: date) -> pl.Expr:
    parsed = to_date(value)
    # The birth-specific reasons first: they say more than date_error's 1900..2100 rule.
    return (
        pl.when(parsed > pl.lit(today))
        .then(pl.lit("birth date is in the future"))
        .when(parsed < pl.lit(date(_MIN_BIRTH_YEAR, 1, 1)))
        .then(pl.lit(f"birth date is before {_MIN_BIRTH_YEAR}"))
        .otherwise(date_error(value))
    )


def year_error(value: pl.Expr, today: date) -> pl.Expr:
    year = value.cast(pl.Int32, strict=False)
    return (
        pl.when(value.is_null())
        .then(None)
        .when(year.is_null() | ~value.str.contains(r"^\d{4}$"))
        .then(pl.lit("birth year is not a 4-digit year"))
        .when((year < _MIN_BIRTH_YEAR) | (year > today.year))
        .then(pl.lit(f"birth year outside {_MIN_BIRTH_YEAR}..{today.year}"))
        .otherwise(None)
    )


def coordinate_error(value: pl.Expr, limit: int) -> pl.Expr:
    number = value.cast(pl.Float64, strict=False)
    return (
        pl.when(value.is_null())
        .then(None)
        .when(number.is_null() | number.is_nan())
        .then(pl.lit("not a number"))
        .when(number.abs() > limit)
        .then(pl.lit(f"outside [-{limit}, {limit}]"))
        .otherwise(None)
    )
