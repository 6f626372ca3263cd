"""voters.addresses: street-line split and household key."""

from __future__ import annotations

import polars as pl

from voters.addresses import address_key, split_street_line


def split(line: str) -> tuple:
    frame = pl.DataFrame({"line": [line]})
    return frame.select(*split_street_line(pl.col("line"))).row(0)


def test_split_street_line():
    assert split("12 N MAIN ST APT 4") == ("12", "N MAIN ST", "APT 4")
    assert split("12B ELM RD #3") == ("12B", "ELM RD", "#3")
    assert split("100 1/2 OAK AVE REAR") == ("100 1/2", "OAK AVE", "REAR")
    assert split("123 FL AVE") == ("123", "FL AVE", None)
    assert split("PO BOX 5") == (None, "PO BOX 5", None)


def test_address_key_standardizes_suffix_direction_and_unit():
    frame = pl.DataFrame(
        {
            "h": ["12", "12", None],
            "s": ["NORTH MAIN STREET", "N. MAIN ST", None],
            "u": ["APARTMENT 4", "# 4", None],
            "z": ["27601", "27601", "27601"],
        }
    )
    keys = frame.select(address_key(pl.col("h"), pl.col("s"), pl.col("u"), pl.col("z")))
    assert keys.to_series().to_list() == ["12|N MAIN ST|#4|27601", "12|N MAIN ST|#4|27601", None]
