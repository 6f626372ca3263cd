"""Real published files (issue 11 §1): integer codes written as decimals, duplicate columns, NUL
bytes, over-long lines, binary files, and per-field counts. Parsing only: no database."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.voters.test_layouts import NC_OLD, fl_voter, nc_line, nc_voter, read_all, write
from voters import layouts
from voters.layouts import FieldCounts, LayoutError, read_history_batches, read_voter_batches
from voters.layouts.values import whole_number, zip_code
from voters.models import RESULTS_BY_CHANNEL

CODES = layouts.ContactCodes(results_by_channel=RESULTS_BY_CHANNEL)


def voters(path: Path, layout: str) -> tuple[pl.DataFrame, list]:
    return read_all(list(read_voter_batches(path, layout=layout)))


def test_whole_decimals_read_as_integers_and_real_fractions_left_as_written():
    values = pl.Series(["27517.0", "6.00", "6.5", "18", "-1.0", "A.0", "06", None, "1.0.0"])

    out = pl.select(whole_number(pl.lit(values))).to_series().to_list()

    assert out == ["27517", "6", "6.5", "18", "-1", "A.0", "06", None, "1.0.0"]


def test_zips_that_lost_leading_zeros_are_padded_to_five_digits():
    values = pl.Series(["2134", "2134.0", "501", "27517.0", "27517", "12", "021341234", None])

    out = pl.select(zip_code(pl.lit(values))).to_series().to_list()

    assert out == ["02134", "02134", "00501", "27517", "27517", "12", "021341234", None]


def test_old_nc_vintage_with_decimal_codes_imports_zips_and_integer_districts(tmp_path):
    values = nc_voter(
        zip_code="27517.0",
        cong_dist_abbrv="6.0",
        nc_senate_abbrv="18.00",
        nc_house_abbrv="54.0",
        precinct_abbrv="12.0",
        ward_abbrv="1.0",
        birth_year="1980.0",
        dist_2_abbrv="18.0",  # prosecutorial district: an unmapped column, kept raw in extra
    )
    text = "\t".join(NC_OLD) + "\r\n" + nc_line(NC_OLD, **values) + "\r\n"

    rows, rejects = voters(write(tmp_path, "ncvoter_old.txt", text), "nc")

    assert rejects == []
    row = rows.row(0, named=True)
    assert {k: row[k] for k in ("voter_id", "zip5", "precinct", "ward")} == {
        "voter_id": "AA1", "zip5": "27517", "precinct": "12", "ward": "1",
    }  # fmt: skip
    districts = ("congressional_district", "state_senate_district", "state_house_district")
    assert [row[k] for k in districts] == ["6", "18", "54"]
    assert row["birth_year"] == 1980
    assert json.loads(row["extra"])["dist_2_abbrv"] == "18.0"
    assert row["address_key"].endswith("27517")


def test_generic_file_reads_decimal_ids_and_codes_and_keeps_real_fractions(tmp_path):
    text = (
        "voter_id,zip,congressional_district,county,precinct,commissioner_district\n"
        "1001.0,2134.0,6.0,37.0,0012.0,1.0\n"
        "1002,27517.5,6.5,WAKE,01-07,2\n"
    )

    rows, rejects = voters(write(tmp_path, "voters.csv", text), "generic")

    assert rejects == []
    got = rows.select("voter_id", "zip5", "congressional_district", "county", "precinct", "extra")
    assert got.rows() == [
        ("1001", "02134", "6", "37", "0012", '{"commissioner_district":"1.0"}'),
        ("1002", None, "6.5", "WAKE", "01-07", '{"commissioner_district":"2"}'),
    ]


def test_florida_extract_with_decimal_zip_and_districts(tmp_path):
    line = fl_voter(
        Voter_ID="100.0", Residence_Zipcode="32601.0", Congressional_District="5.0",
        House_District="21.0", Senate_District="8.0", Precinct="14.0",
    )  # fmt: skip

    rows, rejects = voters(write(tmp_path, "ALA_20240109.txt", line + "\n"), "fl")

    assert rejects == []
    got = rows.select(
        "voter_id", "zip5", "congressional_district", "state_house_district",
        "state_senate_district", "precinct",
    )  # fmt: skip
    assert got.rows() == [("100", "32601", "5", "21", "8", "14")]


def test_history_voter_ids_written_as_decimals_match_the_voter_file(tmp_path):
    text = (
        "voter_id,election_date,election_type\n1001.0,2022-11-08,general\n1002,2022-11-08,general\n"
    )

    batches = list(read_history_batches(write(tmp_path, "h.csv", text), layout="generic"))

    assert read_all(batches)[0]["voter_id"].to_list() == ["1001", "1002"]


def test_contact_and_assignment_ids_written_as_decimals(tmp_path):
    contacts = write(
        tmp_path,
        "c.csv",
        "voter_id,occurred_at,channel,result\n1001.0,2024-10-01 10:00,door,contacted\n",
    )
    assignments = write(tmp_path, "a.csv", "voter_id,arm\n1002.0,control\n")

    contact_rows = read_all(
        list(layouts.read_contact_batches(contacts, layout="generic", codes=CODES, time_zone="UTC"))
    )[0]
    assignment_rows = read_all(list(layouts.read_assignment_batches(assignments, time_zone="UTC")))[
        0
    ]

    assert contact_rows["voter_key"].to_list() == ["1001"]
    assert assignment_rows["voter_id"].to_list() == ["1002"]


def test_duplicate_column_name_in_a_header_is_an_error_naming_it(tmp_path):
    text = "voter_id,zip,city,zip\nA1,27701,DURHAM,27705\n"

    with pytest.raises(LayoutError) as caught:
        list(read_voter_batches(write(tmp_path, "dup.csv", text), layout="generic"))

    assert str(caught.value) == (
        "dup.csv, line 1: duplicate column 'zip' in the header (columns 2 and 4); "
        "rename or remove one of them"
    )


def test_duplicate_column_in_an_nc_header_is_an_error(tmp_path):
    header = [*NC_OLD, "ward_abbrv"]
    text = "\t".join(header) + "\n" + nc_line(header, **nc_voter()) + "\n"

    with pytest.raises(LayoutError, match=r"duplicate column 'ward_abbrv' .*columns 30 and 37"):
        list(read_voter_batches(write(tmp_path, "ncvoter.txt", text), layout="nc"))


def test_two_columns_aliased_to_one_field_are_an_error_naming_both(tmp_path):
    text = "voter_id,zip,zip_code\nA1,27701,27705\n"

    with pytest.raises(LayoutError) as caught:
        list(read_voter_batches(write(tmp_path, "alias.csv", text), layout="generic"))

    assert caught.value.message == (
        "columns 'zip' and 'zip_code' are all read as zip; rename or remove all but one"
    )


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("history", "voter_id,election_date,date,election_type\n"),
        ("contacts", "voter_id,occurred_at,contact_date,channel,result\n"),
        ("assignments", "voter_id,arm,Voter ID\n"),
    ],
)
def test_aliased_or_repeated_columns_are_errors_in_every_kind_of_file(tmp_path, kind, text):
    path = write(tmp_path, f"{kind}.csv", text + "A1,2024-01-02,2024-01-02,general,x\n")
    read = {
        "history": lambda: read_history_batches(path, layout="generic"),
        "contacts": lambda: layouts.read_contact_batches(
            path, layout="generic", codes=CODES, time_zone="UTC"
        ),
        "assignments": lambda: layouts.read_assignment_batches(path, time_zone="UTC"),
    }[kind]

    with pytest.raises(LayoutError, match="rename or remove"):
        list(read())


def test_a_field_is_warned_about_only_when_most_of_its_values_were_lost():
    counts = FieldCounts(
        rows=10,
        given={"zip": 10, "suffix": 1, "phone": 4, "email": 0, "city": 9},
        usable={"zip": 0, "suffix": 1, "phone": 1, "email": 0, "city": 5},
    )

    assert counts.warnings() == [
        "zip: 0 of 10 rows readable (10 values in the file could not be read)",
        "phone: 1 of 10 rows readable (3 values in the file could not be read)",
    ]


def test_field_counts_of_a_file_add_up_over_its_batches(tmp_path):
    text = "voter_id,zip,suffix\n" + "".join(f"V{i},2751{i % 10}.5,\n" for i in range(7))
    path = write(tmp_path, "voters.csv", text)

    batches = list(read_voter_batches(path, layout="generic", batch_rows=3))
    total = FieldCounts()
    for batch in batches:
        total.add(batch.field_counts)

    assert [b.field_counts.rows for b in batches] == [3, 3, 1]
    assert total.as_json() == {
        "rows": 7,
        "fields": [
            {"field": "voter_id", "given": 7, "usable": 7},
            {"field": "suffix", "given": 0, "usable": 0},  # present, blank: nothing lost
            {"field": "zip", "given": 7, "usable": 0},
        ],
    }
