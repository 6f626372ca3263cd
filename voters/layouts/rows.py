"""Selected expressions to canonical rows: good rows kept, each row with errors a `RejectedLine`."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from voters.layouts.counts import FieldCounts
from voters.layouts.schema import LN, RAW, FieldError, RejectedLine


@dataclass
class Built:
    rows: pl.DataFrame
    rejects: list[RejectedLine]
    invalid_phones: int = 0
    counts: FieldCounts | None = None


def col_or_null(columns: dict[str, str], key: str) -> pl.Expr:
    source = columns.get(key)
    return pl.col(source) if source else pl.lit(None, dtype=pl.Utf8)


def separate(
    selected: pl.DataFrame, error_fields: list[str], file_name: str
) -> tuple[pl.DataFrame, list[RejectedLine]]:
    """Rows with no error, and a RejectedLine (all its errors) for each row with any."""
    err_cols = [f"__err{i}" for i in range(len(error_fields))]
    if not err_cols:
        return selected, []
    has_error = pl.any_horizontal(pl.col(c).is_not_null() for c in err_cols)
    flags = selected.select(has_error)
    if not flags.to_series().any():
        return selected, []
    flagged = selected.with_columns(flags.to_series().alias("__bad"))
    bad = flagged.filter(pl.col("__bad"))
    raw = pl.col(RAW) if RAW in bad.columns else pl.lit(None, dtype=pl.Utf8)
    rejects = []
    for row in bad.select(LN, raw, *err_cols).iter_rows():
        errs = tuple(
            FieldError(name, reason)
            for name, reason in zip(error_fields, row[2:], strict=True)
            if reason is not None
        )
        rejects.append(RejectedLine(file_name, row[0], row[1], errs))
    return flagged.filter(~pl.col("__bad")), rejects


def rejected_mask(selected: pl.DataFrame, error_count: int) -> pl.Series | None:
    """Which rows of `selected` `separate` rejects; None when it rejects none."""
    if not error_count:
        return None
    columns = [f"__err{i}" for i in range(error_count)]
    mask = selected.select(pl.any_horizontal(pl.col(c).is_not_null() for c in columns))
    mask = mask.to_series()
    return mask if mask.any() else None


def carried(frame: pl.DataFrame) -> list[str]:
    """The line number, and the raw line when the batch came the line-by-line way."""
    return [LN, RAW] if RAW in frame.columns else [LN]


def final_rows(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(
        *[pl.col(name).cast(dtype) for name, dtype in schema.items()],
        pl.col(LN).cast(pl.Int64).alias("line_number"),
    )
