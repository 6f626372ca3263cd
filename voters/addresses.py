"""Residence addresses, vectorized: split a street line and build the household key.

The household key groups voters who live at the same door: `HOUSE|STREET|UNIT|ZIP5`, upper case,
with street suffixes and directions in their USPS short forms and every unit written as `#<id>`,
so "12 North Main Street Apartment 4" and "12 N MAIN ST #4" meet.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

# USPS Publication 28, the suffixes and directionals seen in voter files (long form -> standard).
STREET_ABBREVIATIONS: dict[str, str] = {
    "ALLEY": "ALY",
    "AVENUE": "AVE",
    "AV": "AVE",
    "AVEN": "AVE",
    "BOULEVARD": "BLVD",
    "BOUL": "BLVD",
    "BRANCH": "BR",
    "BRIDGE": "BRG",
    "BYPASS": "BYP",
    "CAUSEWAY": "CSWY",
    "CENTER": "CTR",
    "CIRCLE": "CIR",
    "CIRC": "CIR",
    "COURT": "CT",
    "COVE": "CV",
    "CREEK": "CRK",
    "CRESCENT": "CRES",
    "CROSSING": "XING",
    "DRIVE": "DR",
    "DRV": "DR",
    "EXPRESSWAY": "EXPY",
    "EXTENSION": "EXT",
    "FREEWAY": "FWY",
    "GARDENS": "GDNS",
    "GROVE": "GRV",
    "HEIGHTS": "HTS",
    "HIGHWAY": "HWY",
    "HILL": "HL",
    "HOLLOW": "HOLW",
    "JUNCTION": "JCT",
    "LAKE": "LK",
    "LANE": "LN",
    "LOOP": "LOOP",
    "MANOR": "MNR",
    "MEADOWS": "MDWS",
    "MOUNT": "MT",
    "MOUNTAIN": "MTN",
    "PARKWAY": "PKWY",
    "PARKWY": "PKWY",
    "PIKE": "PIKE",
    "PLACE": "PL",
    "PLAZA": "PLZ",
    "POINT": "PT",
    "RIDGE": "RDG",
    "ROAD": "RD",
    "ROUTE": "RTE",
    "RUN": "RUN",
    "SQUARE": "SQ",
    "STATION": "STA",
    "STREET": "ST",
    "STR": "ST",
    "TERRACE": "TER",
    "TRACE": "TRCE",
    "TRAIL": "TRL",
    "TURNPIKE": "TPKE",
    "VALLEY": "VLY",
    "VIEW": "VW",
    "VILLAGE": "VLG",
    "VISTA": "VIS",
    "WALK": "WALK",
    "WAY": "WAY",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
}

# Designators that take an identifier ("APT 4") and those that stand alone ("REAR").
_UNIT_WORDS = (
    "APARTMENT|APT|UNIT|SUITE|STE|LOT|ROOM|RM|BUILDING|BLDG|FLOOR|FL|SPACE|SPC|TRAILER|TRLR|DEPT|"
    "HANGAR|HNGR|PIER|SLIP"
)
_UNIT_ALONE = (
    "REAR|BASEMENT|BSMT|UPPER|UPPR|LOWER|LOWR|FRONT|FRNT|OFFICE|OFC|PENTHOUSE|PH|LOBBY|LBBY"
)
# An identifier must hold a digit or be one letter, so "123 FL AVE" keeps its street.
_UNIT_ID = r"(?:[A-Z]?[0-9][A-Z0-9\-]*|[A-Z])"
_UNIT = rf"(?:(?:{_UNIT_WORDS})\.? ?#? ?{_UNIT_ID}|# ?[A-Z0-9\-]+|(?:{_UNIT_ALONE}))"
_HOUSE = r"(?:[0-9]+[A-Z]?(?:-[0-9]+[A-Z]?)?(?: 1/2)?)"
_STREET_LINE = rf"^(?:({_HOUSE}) )?(.+?)(?: ({_UNIT}))?$"
_UNIT_PREFIX = rf"^(?:(?:{_UNIT_WORDS})\.?)? ?#? ?"


def split_street_line(line: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(house_number, street, unit) from an upper-cased, whitespace-collapsed street line."""
    parts = line.str.extract_groups(_STREET_LINE)
    return (
        parts.struct.field("1").alias("house_number"),
        parts.struct.field("2").alias("street"),
        parts.struct.field("3").alias("unit"),
    )


def split_street_lines(lines: pl.Series) -> pl.DataFrame:
    """`split_street_line` over a Series, each distinct line parsed once; same row order."""
    distinct = pl.DataFrame({"line": lines.drop_nulls().unique()})
    parts = distinct.with_columns(
        pl.col("line").str.extract_groups(_STREET_LINE).alias("p")
    ).select(
        "line",
        pl.col("p").struct.field("1").alias("house_number"),
        pl.col("p").struct.field("2").alias("street"),
        pl.col("p").struct.field("3").alias("unit"),
    )
    frame = pl.DataFrame({"line": lines}).join(parts, on="line", how="left", maintain_order="left")
    return frame.drop("line")


def street_key(street: pl.Expr) -> pl.Expr:
    """Street name with punctuation dropped and every word in its USPS short form."""
    words = street.str.replace_all(r"[.,]", "").str.strip_chars().str.split(" ")
    return words.list.eval(pl.element().replace(STREET_ABBREVIATIONS)).list.join(" ")


def unit_key(unit: pl.Expr) -> pl.Expr:
    """'APT 4', 'Apartment #4', '# 4' and '4' all become '#4'."""
    ident = unit.str.replace(_UNIT_PREFIX, "").str.replace_all(r"[ .]", "")
    return pl.when(ident.str.len_bytes() > 0).then(pl.lit("#") + ident).otherwise(None)


def address_key(house: pl.Expr, street: pl.Expr, unit: pl.Expr, zip5: pl.Expr) -> pl.Expr:
    """Household key `HOUSE|STREET|UNIT|ZIP5`; null with neither house number nor street."""
    key = pl.concat_str(
        [
            house.fill_null(""),
            street_key(street).fill_null(""),
            unit_key(unit).fill_null(""),
            zip5.fill_null(""),
        ],
        separator="|",
    )
    return pl.when(house.is_null() & street.is_null()).then(None).otherwise(key)


def _per_distinct(values: pl.Series, standardize: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """`standardize` applied once per distinct value (addresses repeat across a household)."""
    distinct = values.drop_nulls().unique()
    mapped = pl.DataFrame({"v": distinct}).select(standardize(pl.col("v"))).to_series()
    return values.replace_strict(distinct, mapped, default=None, return_dtype=pl.Utf8)


def household_keys(
    house: pl.Series, street: pl.Series, unit: pl.Series, zip5: pl.Series
) -> pl.Series:
    """`address_key` over Series, standardizing each distinct street and unit once."""
    frame = pl.DataFrame(
        {
            "h": house,
            "s": street,
            "sk": _per_distinct(street, street_key),
            "uk": _per_distinct(unit, unit_key),
            "z": zip5,
        }
    )
    key = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("h", "sk", "uk", "z")],
        separator="|",
    )
    keyed = pl.when(pl.col("h").is_null() & pl.col("s").is_null()).then(None).otherwise(key)
    return frame.select(keyed.alias("address_key")).to_series()
