"""Phone numbers to E.164, vectorized with polars, agreeing with the `phonenumbers` library.

The common case (North American numbers written with digits and the usual punctuation) is decided
in polars with regexes built from `phonenumbers`' own NANP metadata, so a metadata upgrade changes
both paths at once. Anything else (a foreign "+44 ...", "011 ...", letters, long digit runs) goes
to `phonenumbers.parse` one unique value at a time; such values are rare in US voter files.

Semantics: `normalize_phone(x) == format_number(parse(x, "US"), E164) if is_valid_number(...)
else None`, except that a number made of one repeated digit (9999999999) is always None: files use
those as placeholders, and a North American number is ten digits (the metadata's few valid
seven-digit ones are None). An extension is dropped (E.164 has none).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata

# Number types that `phonenumbers` tries in `_number_type_helper`; any match makes a number valid.
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

# Digits and the punctuation people type around them, optionally a leading "+", optionally a short
# extension. Outside this shape a value takes the exact (slow) path.
_FAST_SHAPE = r"^\+?[0-9 ().\-]+$"
_EXTENSION = r"(?i)[ \t]*(?:ext|extn|extension|x)[:.]?[ \t\-]*[0-9]{1,6}$"
_REPEATED_DIGIT = r"^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$"


@lru_cache(maxsize=1)
def _nanp_patterns() -> tuple[str, str]:
    """(union of general patterns, union of number-type patterns) over the NANP regions.

    A 10-digit national number is valid when it matches both. phonenumbers checks them region
    by region; the union is equivalent because NANP regions own disjoint area codes (the test
    suite compares against phonenumbers on every area code).
    """
    general: list[str] = []
    types: list[str] = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None:
            continue
        general.append(meta.general_desc.national_number_pattern)
        for name in _TYPE_DESCS:
            desc = getattr(meta, name)
            if desc is None or desc.national_number_pattern is None:
                continue
            if desc.possible_length and 10 not in desc.possible_length:
                continue
            types.append(desc.national_number_pattern)
    # Deduplicated (most regions repeat one pattern for fixed lines and mobiles) and with ASCII
    # digit classes: the inputs are ASCII digits, and a Unicode `\d` makes the regex engine's
    # automaton dozens of times slower on a union this size.
    return (
        "^(?:" + "|".join(f"(?:{_ascii(p)})" for p in dict.fromkeys(general)) + ")$",
        "^(?:" + "|".join(f"(?:{_ascii(p)})" for p in dict.fromkeys(types)) + ")$",
    )


def _ascii(pattern: str) -> str:
    return pattern.replace("\\d", "[0-9]")


def phone_exact(value: str) -> str | None:
    """The reference semantics, one value at a time (the slow path and the tests' oracle)."""
    digits = re.sub(r"\D", "", value)
    if digits and re.fullmatch(_REPEATED_DIGIT, digits):
        return None
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if number.country_code == 1 and len(str(number.national_number)) != 10:
        # The metadata takes a few seven-digit North American numbers as valid (310-0000, one
        # number California's carriers answer). A voter's phone without an area code cannot be
        # texted or dialled from elsewhere, so it is no phone here.
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fast_frame(values: pl.Series) -> pl.DataFrame:
    """Per unique value: the fast-path national number, or a flag that it needs the slow path.

    Built in steps so that every intermediate column is computed once.
    """
    general, types = _nanp_patterns()
    frame = pl.DataFrame({"v": values}).with_columns(
        pl.col("v").str.strip_chars().str.replace(_EXTENSION, "").alias("body")
    )
    frame = frame.with_columns(
        pl.col("body").str.replace_all(r"[^0-9]", "").alias("digits"),
        pl.col("body").str.starts_with("+").alias("plus"),
        pl.col("body").str.contains(_FAST_SHAPE).alias("shape"),
    ).with_columns(pl.col("digits").str.len_bytes().alias("n"))
    digits, plus, n = pl.col("digits"), pl.col("plus"), pl.col("n")
    eleven = (n == 11) & digits.str.starts_with("1")
    fast = (
        pl.col("shape")
        & (pl.col("v").str.len_chars() <= 100)
        & ~(plus & ~eleven)
        & ~(~plus & ((n >= 12) | digits.str.starts_with("011")))
    )
    national = pl.when(eleven).then(digits.str.slice(1)).when((n == 10) & ~plus).then(digits)
    frame = frame.with_columns(fast.fill_null(False).alias("fast"), national.alias("national"))
    nat = pl.col("national")
    valid = (
        nat.str.contains(general) & nat.str.contains(types) & ~digits.str.contains(_REPEATED_DIGIT)
    )
    return frame.select(
        "v", "fast", pl.when(valid).then(pl.lit("+1") + nat).otherwise(None).alias("e164")
    )


def placeholder_phones(values: pl.Series) -> pl.Series:
    """True where a phone is a filler such as 9999999999: empty, but not an invalid number."""
    return values.str.replace_all(r"[^0-9]", "").str.contains(_REPEATED_DIGIT).fill_null(False)


def normalize_phones(values: pl.Series) -> pl.Series:
    """E.164 strings (or null) for a Series of phone texts; nulls stay null."""
    unique = values.drop_nulls().unique()
    if unique.is_empty():
        return pl.Series(values.name, [None] * len(values), dtype=pl.Utf8)
    table = _fast_frame(unique)
    slow = table.filter(~pl.col("fast"))
    if slow.height:
        exact = [phone_exact(v) for v in slow["v"].to_list()]
        fixed = slow.with_columns(pl.Series("e164", exact, dtype=pl.Utf8))
        table = pl.concat([table.filter(pl.col("fast")), fixed])
    return values.replace_strict(table["v"], table["e164"], default=None, return_dtype=pl.Utf8)
