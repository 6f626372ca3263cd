"""Vote-history files to canonical history rows (`HISTORY_COLUMNS`), for each layout.

OH has no history file: its voter file carries one column per election (TYPE-MM/DD/YYYY).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import polars as pl

from voters.layouts.batches import open_source, parse_batches
from voters.layouts.codes import (
    ELECTION_TYPE_CODES,
    ELECTION_TYPES,
    FL_ELECTION_TYPE_CODES,
    FL_HISTORY_CODES,
    METHOD,
    VOTED,
    to_code,
)
from voters.layouts.counts import count_fields
from voters.layouts.rows import Built, carried, col_or_null, final_rows, rejected_mask, separate
from voters.layouts.schema import HISTORY_COLUMNS, LN, LayoutError, ParsedBatch
from voters.layouts.specs import (
    FL_HISTORY_FIELDS,
    GENERIC_HISTORY_ALIASES,
    OH_ELECTION,
    match_aliases,
    require,
)
from voters.layouts.splitting import Split
from voters.layouts.values import clean_columns, date_error, to_date, whole_number


def _history_errors(
    voter_id: pl.Expr, election_on: pl.Expr, etype_raw: pl.Expr, etype: pl.Expr
) -> list[tuple[str, pl.Expr]]:
    allowed = ", ".join(ELECTION_TYPES)
    return [
        ("voter_id", pl.when(voter_id.is_null()).then(pl.lit("required"))),
        (
            "election_on",
            pl.when(election_on.is_null())
            .then(pl.lit("required"))
            .otherwise(date_error(election_on)),
        ),
        (
            "election_type",
            pl.when(etype_raw.is_null())
            .then(pl.lit("required"))
            .when(etype.is_null())
            .then(pl.lit(f"unknown election type; expected one of {allowed}")),
        ),
    ]


def _nc_election_type(desc: pl.Expr) -> pl.Expr:
    d = desc.str.to_uppercase()
    return (
        pl.when(d.is_null())
        .then(None)
        .when(d.str.contains("PRESIDENTIAL PREFERENCE"))
        .then(pl.lit("presidential_primary"))
        .when(d.str.contains("RUNOFF|RUN-OFF|SECOND PRIMARY"))
        .then(pl.lit("runoff"))
        .when(d.str.contains("MUNICIPAL"))
        .then(pl.lit("municipal"))
        .when(d.str.contains("SPECIAL"))
        .then(pl.lit("special"))
        .when(d.str.contains("PRIMARY"))
        .then(pl.lit("primary"))
        .when(d.str.contains("GENERAL"))
        .then(pl.lit("general"))
        .otherwise(pl.lit("other"))
    )


def _nc_method(raw: pl.Expr) -> pl.Expr:
    m = raw.str.to_uppercase()
    return (
        pl.when(m.is_null())
        .then(None)
        .when(m.str.contains("PROVISIONAL"))
        .then(pl.lit("provisional"))
        .when(m.str.contains("ONESTOP|ONE STOP|EARLY|ABSENTEE CURBSIDE"))
        .then(pl.lit("early"))
        .when(m.str.contains("MAIL|ABSENTEE"))
        .then(pl.lit("mail"))
        .when(m.str.contains("IN-PERSON|IN PERSON|ELECTION DAY|CURBSIDE"))
        .then(pl.lit("polls"))
        .otherwise(pl.lit("other"))
    )


# Where a counted field's parsed value lands, when the column is named otherwise.
_OUTPUTS = {"election_date": "election_on"}


def _history_frame(
    fields: pl.DataFrame,
    file_name: str,
    exprs: dict[str, pl.Expr],
    etype_raw: pl.Expr,
    sources: dict[str, str],
    extra_errors: Sequence[tuple[str, pl.Expr]] = (),
) -> Built:
    """`sources`: each counted field and the file's column it is read from."""
    errors = _history_errors(
        exprs["voter_id"], exprs["__date_raw"], etype_raw, exprs["election_type"]
    )
    errors += list(extra_errors)
    selected = fields.select(
        *[e.alias(k) for k, e in exprs.items()],
        *[e.alias(f"__err{i}") for i, (_, e) in enumerate(errors)],
        *carried(fields),
    )
    rejected = rejected_mask(selected, len(errors))
    good, rejects = separate(selected, [f for f, _ in errors], file_name)
    good = good.with_columns(to_date(pl.col("__date_raw")).alias("election_on"))
    outputs = {k: _OUTPUTS.get(k, k) for k in sources}
    counts = count_fields(fields, good, sources, outputs, rejected)
    return Built(final_rows(good, HISTORY_COLUMNS), rejects, counts=counts)


def _nc_history(fields: pl.DataFrame, names: list[str], file_name: str) -> Built:
    etype_raw = pl.col("election_desc")
    exprs = {
        "voter_id": whole_number(pl.col("ncid")),
        "__date_raw": pl.col("election_lbl"),
        "election_type": _nc_election_type(etype_raw),
        "method": _nc_method(col_or_null(_present_map(names, "voting_method"), "m")),
        "method_raw": col_or_null(_present_map(names, "voting_method"), "m"),
        "party": col_or_null(_present_map(names, "voted_party_cd"), "m").str.to_uppercase(),
        "voted": pl.lit(True),
    }
    sources = {
        "voter_id": "ncid",
        "election_date": "election_lbl",
        "election_type": "election_desc",
    }
    optional = {"method": "voting_method", "party": "voted_party_cd"}
    sources |= {k: c for k, c in optional.items() if c in names}
    return _history_frame(fields, file_name, exprs, etype_raw, sources)


def _present_map(names: list[str], column: str) -> dict[str, str]:
    return {"m": column} if column in names else {}


def _fl_history(fields: pl.DataFrame, file_name: str) -> Built:
    code = pl.col("history_code").str.to_uppercase()
    methods = {k: m for k, (m, _) in FL_HISTORY_CODES.items()}
    voted = {k: v for k, (_, v) in FL_HISTORY_CODES.items()}
    etype_raw = pl.col("election_type")
    exprs = {
        "voter_id": whole_number(pl.col("voter_id")),
        "__date_raw": pl.col("election_date"),
        "election_type": to_code(etype_raw, FL_ELECTION_TYPE_CODES, None),
        "method": code.replace_strict(methods, default=None, return_dtype=pl.Utf8),
        "method_raw": pl.col("history_code"),
        "party": pl.lit(None, dtype=pl.Utf8),
        "voted": code.replace_strict(voted, default=None, return_dtype=pl.Boolean),
    }
    codes = ", ".join(sorted(FL_HISTORY_CODES))
    bad_code = pl.when(~code.is_in(list(FL_HISTORY_CODES)) | code.is_null()).then(
        pl.lit(f"unknown history code; expected one of {codes}")
    )
    sources = {
        "voter_id": "voter_id", "election_date": "election_date", "election_type": "election_type",
        "method": "history_code",
    }  # fmt: skip
    return _history_frame(
        fields, file_name, exprs, etype_raw, sources, [("history_code", bad_code)]
    )


def _generic_history(fields: pl.DataFrame, columns: dict[str, str], file_name: str) -> Built:
    c = lambda key: col_or_null(columns, key)  # noqa: E731
    etype_raw = c("election_type")
    etype_key = etype_raw.str.to_uppercase().str.replace_all("_", " ")
    method_key = c("method").str.to_uppercase().str.replace_all("_", " ")
    voted_key = c("voted").str.to_uppercase()
    exprs = {
        "voter_id": whole_number(c("voter_id")),
        "__date_raw": c("election_date"),
        "election_type": etype_key.replace_strict(
            ELECTION_TYPE_CODES, default=None, return_dtype=pl.Utf8
        ),
        "method": method_key.replace_strict(METHOD, default="other", return_dtype=pl.Utf8),
        "method_raw": c("method"),
        "party": c("party").str.to_uppercase(),
        "voted": voted_key.replace_strict(VOTED, default=None, return_dtype=pl.Boolean).fill_null(
            True
        ),
    }
    bad_voted = pl.when(voted_key.is_not_null() & ~voted_key.is_in(list(VOTED))).then(
        pl.lit("expected yes/no, true/false, y/n or 1/0")
    )
    return _history_frame(fields, file_name, exprs, etype_raw, columns, [("voted", bad_voted)])


def _oh_history(fields: pl.DataFrame, names: list[str], file_name: str) -> Built:
    """One history row per non-blank election cell; the row keeps the voter's line number."""
    elections = [n for n in names if OH_ELECTION.match(n)]
    missing_id = pl.when(pl.col("sos_voterid").is_null()).then(pl.lit("required"))
    selected = fields.select(
        whole_number(pl.col("sos_voterid")).alias("voter_id"),
        *elections,
        missing_id.alias("__err0"),
        *carried(fields),
    )
    rejected = rejected_mask(selected, 1)
    good, rejects = separate(selected, ["voter_id"], file_name)
    # Per voter line, not per election.
    counts = count_fields(
        fields, good, {"voter_id": "sos_voterid"}, {"voter_id": "voter_id"}, rejected
    )
    long = good.unpivot(index=["voter_id", LN], on=elections, variable_name="__e", value_name="v")
    long = long.filter(pl.col("v").is_not_null()).sort(LN, maintain_order=True)
    parts = pl.col("__e").str.extract_groups(OH_ELECTION.pattern)
    value = pl.col("v").str.to_uppercase()
    rows = long.with_columns(
        to_date(parts.struct.field("2")).alias("election_on"),
        parts.struct.field("1").alias("election_type"),
        pl.lit(None, dtype=pl.Utf8).alias("method"),
        pl.lit(None, dtype=pl.Utf8).alias("method_raw"),
        pl.when(value == "X").then(None).otherwise(value).alias("party"),
        pl.lit(True).alias("voted"),
    )
    return Built(final_rows(rows, HISTORY_COLUMNS), rejects, counts=counts)


def read_history_batches(
    path: str | Path,
    *,
    layout: str,
    batch_rows: int = 100_000,
    display_name: str | None = None,
) -> Iterator[ParsedBatch]:
    """Parse a vote-history file of `layout`; for `oh` that is the voter file's election columns."""
    path = Path(path)
    file_name = display_name or path.name
    headerless = FL_HISTORY_FIELDS if layout == "fl" else None
    source = open_source(path, layout, file_name, batch_rows, headerless)
    names = source.names
    build = _history_builder(layout, names, file_name)

    def run(split: Split) -> Built:
        cleaned = clean_columns(split.fields, names, set(names), split.plan)
        split.fields = cleaned
        return build(cleaned)

    return parse_batches(source, file_name, run)


def _history_builder(
    layout: str, names: list[str], file_name: str
) -> Callable[[pl.DataFrame], Built]:
    if layout == "nc":
        require(names, ["ncid", "election_lbl", "election_desc"], file_name)
        return lambda f: _nc_history(f, names, file_name)
    if layout == "fl":
        return lambda f: _fl_history(f, file_name)
    if layout == "oh":
        require(names, ["sos_voterid"], file_name)
        if not any(OH_ELECTION.match(n) for n in names):
            raise LayoutError(file_name, 1, "no election columns (TYPE-MM/DD/YYYY) found")
        return lambda f: _oh_history(f, names, file_name)
    columns = match_aliases(names, GENERIC_HISTORY_ALIASES, file_name)
    for required in ("voter_id", "election_date", "election_type"):
        if required not in columns:
            raise LayoutError(file_name, 1, f"required column '{required}' is missing")
    return lambda f: _generic_history(f, columns, file_name)
