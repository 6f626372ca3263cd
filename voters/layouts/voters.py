"""Voter files to canonical voter rows (`VOTER_COLUMNS`): codes, names, addresses, phones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl

from voters.addresses import household_keys, split_street_lines
from voters.layouts.batches import open_source, parse_batches
from voters.layouts.codes import ETHNICITY, GENDER, STATUS, to_code
from voters.layouts.counts import count_fields
from voters.layouts.digests import KnownDigests, LineFilter, digest_salt
from voters.layouts.extra import extra_expr
from voters.layouts.rows import (
    Built,
    carried,
    col_or_null,
    final_rows,
    rejected_mask,
    separate,
)
from voters.layouts.schema import VOTER_COLUMNS, ParsedBatch
from voters.layouts.specs import FL_VOTER_FIELDS, VoterSpec, voter_spec
from voters.layouts.splitting import Plan, Split
from voters.layouts.values import (
    birth_date_error,
    clean_columns,
    coordinate_error,
    date_error,
    to_date,
    whole_number,
    year_error,
    zip_code,
)
from voters.phones import normalize_phones, placeholder_phones

_TEXT_FIELDS = (  # noqa: SIM905 - spelled like the published layout
    "first_name middle_name last_name suffix city county precinct congressional_district "
    "state_senate_district state_house_district municipality ward"
).split()
# Codes (and a year) some published files write as decimals ("6.0", "1980.0"): read as the
# integer they are. Unmapped columns, in `extra`, stay as written.
CODE_FIELDS = (  # noqa: SIM905
    "voter_id county precinct congressional_district state_senate_district state_house_district "
    "municipality ward birth_year"
).split()


def _joined(names: list[str]) -> pl.Expr:
    if not names:
        return pl.lit(None, dtype=pl.Utf8)
    joined = pl.concat_str([pl.col(n) for n in names], separator=" ", ignore_nulls=True)
    return pl.when(joined.str.len_bytes() > 0).then(joined).otherwise(None)


def _address_exprs(spec: VoterSpec, decimal: frozenset[str]) -> list[pl.Expr]:
    cols = spec.columns
    none = pl.lit(None, dtype=pl.Utf8)
    if spec.address_from:
        line = _joined(spec.address_from).str.to_uppercase()
        # Split after the select, once per distinct line (see _parse_street_lines).
        house, street, unit = none, none, none
    else:
        # Generic files may give the parts instead of a line.
        parts = [cols[k] for k in ("house_number", "street", "unit") if k in cols]
        line = _joined(parts).str.to_uppercase()
        house, street, unit = none, none, none
    parsed = {"house_number": house, "street": street, "unit": unit}
    for key in parsed:
        if key in cols:  # an explicit column beats what we parse from the line
            parsed[key] = pl.col(cols[key]).str.to_uppercase()
    zip_given = col_or_null(cols, "zip")
    zip_given = zip_code(zip_given) if "zip" in decimal else zip_given
    zip_digits = zip_given.str.extract(r"^(\d{5})(?:-?\d{4})?$", 1)
    zip5 = pl.when(zip_digits.is_in(["00000", "99999"])).then(None).otherwise(zip_digits)
    return [
        line.alias("address"),
        *[expr.alias(key) for key, expr in parsed.items()],
        zip5.alias("zip5"),
    ]


def _decimal_fields(fields: pl.DataFrame, spec: VoterSpec) -> frozenset[str]:
    """The code fields (and the zip) that some value of this batch writes with a "." (a zip: or
    with fewer than five characters). Only they pay for the regexes; most files have none."""
    keys = [k for k in (*CODE_FIELDS, "zip") if k in spec.columns]
    if not keys or not fields.height:
        return frozenset()
    checks = []
    for key in keys:
        value = pl.col(spec.columns[key])
        check = value.str.contains(".", literal=True)
        if key == "zip":
            check = check | (value.str.len_bytes() < 5)
        checks.append(check.any().alias(key))
    needs = fields.select(checks).row(0)
    return frozenset(k for k, need in zip(keys, needs, strict=True) if need)


def _code_or_text(cols: dict[str, str], key: str, decimal: frozenset[str]) -> pl.Expr:
    value = col_or_null(cols, key)
    return whole_number(value) if key in decimal else value


def _voter_exprs(
    spec: VoterSpec, default_state: str | None, decimal: frozenset[str]
) -> list[pl.Expr]:
    cols = spec.columns
    c = lambda key: _code_or_text(cols, key, decimal)  # noqa: E731
    birth_date = to_date(c("birth_date"))
    birth_year = pl.coalesce(c("birth_year").cast(pl.Int32, strict=False), birth_date.dt.year())
    party = to_code(c("party"), spec.party_codes, "oth")
    if spec.party_blank and "party" in cols:
        party = pl.when(c("party").is_null()).then(pl.lit(spec.party_blank)).otherwise(party)
    ethnicity = to_code(c("ethnicity"), ETHNICITY, "unknown")
    if spec.ethnicity_from_race is not None:
        ethnicity = to_code(c("race"), spec.ethnicity_from_race, None)
    state = c("state").str.to_uppercase()
    if default_state:
        state = pl.coalesce(state, pl.lit(default_state.upper()))
    email = c("email").str.to_lowercase()
    exprs = [
        c("voter_id").alias("voter_id"),
        *[c(k).alias(k) for k in ("first_name", "middle_name")],
        birth_date.alias("birth_date"),
        birth_year.cast(pl.Int16, strict=False).alias("birth_year"),
        to_code(c("gender"), GENDER, "other").alias("gender"),
        c("gender").alias("gender_raw"),
        to_code(c("race"), spec.race_codes, "other").alias("race"),
        c("race").alias("race_raw"),
        ethnicity.alias("ethnicity"),
        c("ethnicity").alias("ethnicity_raw"),
        party.alias("party"),
        c("party").alias("party_raw"),
        to_date(c("registered_on")).alias("registered_on"),
        to_code(c("status"), STATUS, "other").alias("status"),
        c("status").alias("status_raw"),
        *_address_exprs(spec, decimal),
        c("city").str.to_uppercase().alias("city"),
        state.alias("state"),
        c("latitude").cast(pl.Float64, strict=False).alias("latitude"),
        c("longitude").cast(pl.Float64, strict=False).alias("longitude"),
        pl.when(email.str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")).then(email).alias("email"),
    ]
    done = {"first_name", "middle_name", "city"}
    return exprs + [c(k).alias(k) for k in _TEXT_FIELDS if k not in done]


def _voter_errors(
    spec: VoterSpec, today: date, decimal: frozenset[str]
) -> list[tuple[str, pl.Expr]]:
    cols = spec.columns
    c = lambda key: _code_or_text(cols, key, decimal)  # noqa: E731
    missing_id = pl.when(c("voter_id").is_null()).then(pl.lit("required"))
    return [
        ("voter_id", missing_id),
        ("birth_date", birth_date_error(c("birth_date"), today)),
        ("birth_year", year_error(c("birth_year"), today)),
        ("registered_on", date_error(c("registered_on"))),
        ("latitude", coordinate_error(c("latitude"), 90)),
        ("longitude", coordinate_error(c("longitude"), 180)),
    ]


def _phone_source(spec: VoterSpec) -> pl.Expr:
    if spec.phone_from:
        digits = [pl.col(n).str.replace_all(r"[^0-9]", "") for n in spec.phone_from]
        joined = pl.concat_str(digits, ignore_nulls=True)
        return pl.when(joined.str.len_bytes() > 0).then(joined).otherwise(None)
    return col_or_null(spec.columns, "phone")


def _build_voters(
    fields: pl.DataFrame,
    names: list[str],
    spec: VoterSpec,
    file_name: str,
    default_state: str | None,
    plan: Plan,
) -> Built:
    today = date.today()
    decimal = _decimal_fields(fields, spec)
    errors = _voter_errors(spec, today, decimal)
    used = set(spec.columns.values()) | set(spec.address_from) | set(spec.phone_from)
    used |= spec.not_extra
    selected = fields.select(
        *_voter_exprs(spec, default_state, decimal),
        _phone_source(spec).alias("__phone"),
        extra_expr(fields, names, used, plan).alias("extra"),
        *[e.alias(f"__err{i}") for i, (_, e) in enumerate(errors)],
        *carried(fields),
    )
    sources = _field_sources(spec)
    counted = fields.select(sorted({c for cs in sources.values() for c in _listed(cs)}))
    rejected = rejected_mask(selected, len(errors))
    del fields
    good, rejects = separate(selected, [f for f, _ in errors], file_name)
    phones = normalize_phones(good["__phone"])
    given = good["__phone"].is_not_null() & ~placeholder_phones(good["__phone"])
    invalid = int((given & phones.is_null()).sum())
    good = good.with_columns(phones.alias("phone"))
    if spec.address_from:
        good = _parse_street_lines(good, spec)
    # house_number, street and unit are upper case already (see _address_exprs).
    key = household_keys(good["house_number"], good["street"], good["unit"], good["zip5"])
    good = good.with_columns(key)
    outputs = {k: _OUTPUTS.get(k, k) for k in sources}
    counts = count_fields(counted, good, sources, outputs, rejected)
    return Built(final_rows(good, VOTER_COLUMNS), rejects, invalid, counts)


# Where a field's parsed value lands, when the column is named otherwise.
_OUTPUTS = {"zip": "zip5"}


def _listed(columns: str | list[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else columns


def _field_sources(spec: VoterSpec) -> dict[str, str | list[str]]:
    """Each counted field and the file's columns it is read from."""
    sources: dict[str, str | list[str]] = dict(spec.columns)
    if spec.address_from:
        sources["address"] = spec.address_from
    if spec.phone_from:
        sources["phone"] = spec.phone_from
    return sources


def _parse_street_lines(good: pl.DataFrame, spec: VoterSpec) -> pl.DataFrame:
    """house_number, street and unit from the address line, where no column gives them."""
    todo = [k for k in ("house_number", "street", "unit") if k not in spec.columns]
    if not todo:
        return good
    parts = split_street_lines(good["address"])
    return good.with_columns(parts[k] for k in todo)


def read_voter_batches(
    path: str | Path,
    *,
    layout: str,
    batch_rows: int = 100_000,
    default_state: str | None = None,
    display_name: str | None = None,
    known_digests: KnownDigests | None = None,
) -> Iterator[ParsedBatch]:
    """Parse a voter file of `layout` into batches of canonical rows and rejected lines.

    With `known_digests` (see `digests`), rows gain a `line_digest` column, and lines whose digest
    is known are not parsed: each batch lists them in `seen`.

    Raises LayoutError (before the first batch) for an unknown layout, an unreadable header or a
    missing required column.
    """
    path = Path(path)
    file_name = display_name or path.name
    headerless = tuple(FL_VOTER_FIELDS) if layout == "fl" else None
    source = open_source(path, layout, file_name, batch_rows, headerless)
    spec = voter_spec(layout, source.names, file_name)
    canonical = set(spec.columns.values()) | set(spec.address_from) | set(spec.phone_from)

    def build(split: Split) -> Built:
        cleaned = clean_columns(split.fields, source.names, canonical, split.plan)
        split.fields = cleaned  # the raw fields are no longer needed
        return _build_voters(cleaned, source.names, spec, file_name, default_state, split.plan)

    if known_digests is None:
        return parse_batches(source, file_name, build)
    salt = digest_salt(
        layout=layout, names=source.names, delimiter=source.delimiter, default_state=default_state
    )
    empty = pl.DataFrame(schema={**VOTER_COLUMNS, "line_number": pl.Int64})
    return parse_batches(source, file_name, build, LineFilter(salt, known_digests), empty)
