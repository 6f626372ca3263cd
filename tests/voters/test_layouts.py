"""voters.layouts: every layout, messy input, each reject class. No database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voters.layouts import (
    FL_HISTORY_FIELDS,
    FL_VOTER_FIELDS,
    HISTORY_COLUMNS,
    VOTER_COLUMNS,
    FieldError,
    LayoutError,
    ParsedBatch,
    read_history_batches,
    read_voter_batches,
)

NC_CURRENT = (  # noqa: SIM905 - spelled like the published layout
    "county_id county_desc voter_reg_num ncid last_name first_name middle_name "
    "name_suffix_lbl status_cd voter_status_desc reason_cd voter_status_reason_desc "
    "res_street_address res_city_desc state_cd zip_code mail_addr1 mail_addr2 mail_addr3 "
    "mail_addr4 mail_city mail_state mail_zipcode full_phone_number confidential_ind "
    "registr_dt race_code ethnic_code party_cd gender_code birth_year age_at_year_end "
    "birth_state drivers_lic precinct_abbrv precinct_desc municipality_abbrv "
    "municipality_desc ward_abbrv ward_desc cong_dist_abbrv super_court_abbrv "
    "judic_dist_abbrv nc_senate_abbrv nc_house_abbrv county_commiss_abbrv "
    "county_commiss_desc township_abbrv township_desc school_dist_abbrv school_dist_desc "
    "fire_dist_abbrv fire_dist_desc water_dist_abbrv water_dist_desc sewer_dist_abbrv "
    "sewer_dist_desc sanit_dist_abbrv sanit_dist_desc rescue_dist_abbrv rescue_dist_desc "
    "munic_dist_abbrv munic_dist_desc dist_1_abbrv dist_1_desc vtd_abbrv vtd_desc"
).split()
NC_OLD = (  # noqa: SIM905 - spelled like the published layout
    "county_id county_desc voter_reg_num status_cd voter_status_desc reason_cd "
    "voter_status_reason_desc absent_ind name_prefx_cd last_name first_name midl_name "
    "name_sufx_cd res_street_address res_city_desc state_cd zip_code full_phone_number "
    "race_code ethnic_code party_cd gender_code birth_age birth_place registr_dt "
    "precinct_abbrv cong_dist_abbrv nc_senate_abbrv nc_house_abbrv ward_abbrv "
    "municipality_desc birth_year ncid dist_2_abbrv dist_2_desc confidential_ind"
).split()
NC_HISTORY = (  # noqa: SIM905 - spelled like the published layout
    "county_id county_desc voter_reg_num election_lbl election_desc voting_method "
    "voted_party_cd voted_party_desc pct_label pct_description ncid voted_county_id "
    "voted_county_desc vtd_label vtd_description"
).split()


def nc_line(header: list[str], **values: str) -> str:
    return "\t".join(values.get(name, "") for name in header)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def read_all(batches: list[ParsedBatch]) -> tuple[pl.DataFrame, list]:
    rows = pl.concat([b.rows for b in batches])
    rejects = [r for b in batches for r in b.rejects]
    return rows, rejects


def voters(path: Path, layout: str, **kw) -> tuple[pl.DataFrame, list]:
    return read_all(list(read_voter_batches(path, layout=layout, **kw)))


def history(path: Path, layout: str, **kw) -> tuple[pl.DataFrame, list]:
    return read_all(list(read_history_batches(path, layout=layout, **kw)))


def reasons(rejects: list) -> list[tuple[int, tuple[FieldError, ...]]]:
    return [(r.line_number, r.errors) for r in rejects]


# ------------------------------------------------------------------------------------------
# NC


def nc_voter(**over: str) -> dict[str, str]:
    base = {
        "county_id": "92",
        "county_desc": "WAKE",
        "ncid": "AA1",
        "last_name": "PEÑA",
        "first_name": "ANA",
        "middle_name": "Q",
        "status_cd": "A",
        "res_street_address": "12  NORTH MAIN  STREET  APT 4",
        "res_city_desc": "RALEIGH",
        "state_cd": "NC",
        "zip_code": "27601-1234",
        "full_phone_number": "(919) 555-1234",
        "registr_dt": "03/15/2008",
        "race_code": "W",
        "ethnic_code": "HL",
        "party_cd": "DEM",
        "gender_code": "F",
        "birth_year": "1980",
        "precinct_abbrv": "01-07",
        "cong_dist_abbrv": "2",
        "nc_senate_abbrv": "15",
        "nc_house_abbrv": "33",
        "municipality_desc": "RALEIGH",
        "ward_abbrv": "W1",
        "vtd_abbrv": "01-07",
    }
    base.update(over)
    return base


def test_nc_current_layout_maps_every_canonical_field(tmp_path):
    text = "\t".join(NC_CURRENT) + "\n" + nc_line(NC_CURRENT, **nc_voter()) + "\n"
    rows, rejects = voters(write(tmp_path, "ncvoter92.txt", text), "nc")
    assert rejects == []
    assert list(rows.columns) == [*VOTER_COLUMNS, "line_number"]
    assert rows.schema["line_number"] == pl.Int64
    row = rows.to_dicts()[0]
    extra = json.loads(row.pop("extra"))
    assert row == {
        "voter_id": "AA1",
        "first_name": "ANA",
        "middle_name": "Q",
        "last_name": "PEÑA",
        "suffix": None,
        "birth_date": None,
        "birth_year": 1980,
        "gender": "female",
        "gender_raw": "F",
        "race": "white",
        "race_raw": "W",
        "ethnicity": "hispanic",
        "ethnicity_raw": "HL",
        "party": "dem",
        "party_raw": "DEM",
        "registered_on": date(2008, 3, 15),
        "status": "active",
        "status_raw": "A",
        "address": "12 NORTH MAIN STREET APT 4",
        "house_number": "12",
        "street": "NORTH MAIN STREET",
        "unit": "APT 4",
        "city": "RALEIGH",
        "state": "NC",
        "zip5": "27601",
        "address_key": "12|N MAIN ST|#4|27601",
        "latitude": None,
        "longitude": None,
        "phone": "+19195551234",
        "email": None,
        "county": "WAKE",
        "precinct": "01-07",
        "congressional_district": "2",
        "state_senate_district": "15",
        "state_house_district": "33",
        "municipality": "RALEIGH",
        "ward": "W1",
        "line_number": 2,
    }
    assert extra["county_id"] == "92"
    assert extra["vtd_abbrv"] == "01-07"
    assert "mail_addr1" not in extra  # empty values are left out
    assert "ncid" not in extra
    assert "res_street_address" not in extra
    assert list(extra) == ["county_id", "vtd_abbrv"]


def test_nc_older_vintage_is_read_by_name(tmp_path):
    values = nc_voter(midl_name="B", name_sufx_cd="JR", ncid="OLD9", birth_place="VA")
    text = "\t".join(NC_OLD) + "\r\n" + nc_line(NC_OLD, **values) + "\r\n"
    rows, rejects = voters(write(tmp_path, "old.txt", text), "nc")
    assert rejects == []
    row = rows.row(0, named=True)
    assert (row["voter_id"], row["middle_name"], row["suffix"]) == ("OLD9", "B", "JR")
    assert json.loads(row["extra"])["birth_place"] == "VA"
    assert row["line_number"] == 2


def test_nc_fully_quoted_fields_lose_their_quotes(tmp_path):
    header = "\t".join(f'"{n}"' for n in NC_CURRENT)
    line = "\t".join(
        f'"{v}"' for v in nc_line(NC_CURRENT, **nc_voter(last_name='O"BRIEN')).split("\t")
    )
    rows, rejects = voters(write(tmp_path, "q.txt", header + "\n" + line + "\n"), "nc")
    assert rejects == []
    assert rows.row(0, named=True)["last_name"] == 'O"BRIEN'
    assert rows.row(0, named=True)["county"] == "WAKE"


def test_literal_quote_and_padding_in_unquoted_tsv_field(tmp_path):
    values = nc_voter(last_name='O"BRIEN', first_name="  ANN   MARIE ", county_desc="WAKE      ")
    text = "\t".join(NC_CURRENT) + "\n" + nc_line(NC_CURRENT, **values) + "\n"
    rows, _ = voters(write(tmp_path, "p.txt", text), "nc")
    row = rows.row(0, named=True)
    assert (row["last_name"], row["first_name"], row["county"]) == ('O"BRIEN', "ANN MARIE", "WAKE")


def test_utf8_bom_crlf_and_latin1_bytes(tmp_path):
    header = "\t".join(NC_CURRENT)
    good = nc_line(NC_CURRENT, **nc_voter(ncid="U1"))
    latin = nc_line(NC_CURRENT, **nc_voter(ncid="L1")).encode("latin-1")
    data = b"\xef\xbb\xbf" + header.encode() + b"\r\n" + good.encode() + b"\r\n" + latin + b"\r\n"
    rows, rejects = voters(write(tmp_path, "bom.txt", data), "nc")
    assert rejects == []
    assert rows.select("voter_id", "last_name", "line_number").rows() == [
        ("U1", "PEÑA", 2),
        ("L1", "PEÑA", 3),
    ]


def test_placeholder_phone_is_null_and_not_counted_invalid(tmp_path):
    lines = [
        nc_line(NC_CURRENT, **nc_voter(ncid="P1", full_phone_number="9999999999")),
        nc_line(NC_CURRENT, **nc_voter(ncid="P2", full_phone_number="")),
        nc_line(NC_CURRENT, **nc_voter(ncid="P3", full_phone_number="919.555.1234 x12")),
    ]
    path = write(tmp_path, "ph.txt", "\n".join(["\t".join(NC_CURRENT), *lines]))
    batches = list(read_voter_batches(path, layout="nc"))
    assert batches[0].rows["phone"].to_list() == [None, None, "+19195551234"]
    assert batches[0].invalid_phones == 0  # a filler is empty, not an invalid number


def test_nc_history_types_and_methods(tmp_path):
    cases = [
        ("11/04/2014 GENERAL", "IN-PERSON", "general", "polls"),
        (
            "03/15/2016 PRESIDENTIAL PREFERENCE PRIMARY",
            "ABSENTEE ONESTOP",
            "presidential_primary",
            "early",
        ),
        ("10/08/2019 MUNICIPAL GENERAL", "ABSENTEE BY MAIL", "municipal", "mail"),
        ("05/17/2022 SECOND PRIMARY", "PROVISIONAL", "runoff", "provisional"),
        ("09/10/2019 SPECIAL GENERAL", "ELECTION DAY", "special", "polls"),
        ("05/08/2018 PRIMARY", "EARLY VOTING", "primary", "early"),
        ("11/03/2020 GENERAL", "TRANSFER", "general", "other"),
    ]
    lines = [
        nc_line(
            NC_HISTORY,
            ncid="H1",
            election_lbl=desc[:10],
            election_desc=desc,
            voting_method=method,
            voted_party_cd="dem",
        )
        for desc, method, _, _ in cases
    ]
    path = write(tmp_path, "ncvhis.txt", "\n".join(["\t".join(NC_HISTORY), *lines]) + "\n")
    rows, rejects = history(path, "nc")
    assert rejects == []
    assert list(rows.columns) == [*HISTORY_COLUMNS, "line_number"]
    assert rows.select("election_type", "method").rows() == [(t, m) for _, _, t, m in cases]
    assert rows.row(0) == ("H1", date(2014, 11, 4), "general", "polls", "IN-PERSON", "DEM", True, 2)


# ------------------------------------------------------------------------------------------
# FL


def fl_voter(**over: str) -> str:
    values = dict.fromkeys(FL_VOTER_FIELDS, "")
    values.update(
        County_Code="ALA",
        Voter_ID="100",
        Name_Last="DOE",
        Name_First="JANE",
        Residence_Address_Line_1="5 W Oak Avenue",
        Residence_Address_Line_2="Apartment 2",
        Residence_City="GAINESVILLE",
        Residence_State="FL",
        Residence_Zipcode="32601",
        Gender="F",
        Race="4",
        Birth_Date="01/02/1990",
        Registration_Date="05/06/2010",
        Party_Affiliation="NPA",
        Precinct="12",
        Voter_Status="ACT",
        Congressional_District="3",
        House_District="21",
        Senate_District="8",
        Daytime_Area_Code="352",
        Daytime_Phone_Number="5551234",
        Daytime_Phone_Extension="9",
        Email_address=" Jane@Example.COM ",
    )
    values.update(over)
    return "\t".join(values[f] for f in FL_VOTER_FIELDS)


def test_fl_headerless_38_fields(tmp_path):
    exempt = fl_voter(
        Voter_ID="101",
        Name_Last="*",
        Residence_Address_Line_1="*",
        Residence_Address_Line_2="*",
        Race="1",
        Voter_Status="PRE",
    )
    path = write(tmp_path, "ALA_20240101.txt", fl_voter() + "\n" + exempt + "\n")
    rows, rejects = voters(path, "fl")
    assert rejects == []
    first, second = rows.to_dicts()
    assert {k: first[k] for k in ("voter_id", "birth_date", "race", "ethnicity", "party")} == {
        "voter_id": "100",
        "birth_date": date(1990, 1, 2),
        "race": "hispanic",
        "ethnicity": "hispanic",
        "party": "una",
    }
    assert (first["birth_year"], first["phone"], first["email"]) == (
        1990,
        "+13525551234",
        "jane@example.com",
    )
    assert (first["address"], first["unit"], first["address_key"]) == (
        "5 W OAK AVENUE APARTMENT 2",
        "APARTMENT 2",
        "5|W OAK AVE|#2|32601",
    )
    assert json.loads(first["extra"])["daytime_phone_extension"] == "9"
    assert (first["line_number"], second["line_number"]) == (1, 2)
    assert (second["last_name"], second["address"], second["address_key"]) == (None, None, None)
    assert (second["race"], second["status"]) == ("native", "preregistered")


def test_fl_history_every_code(tmp_path):
    codes = {
        "Y": ("polls", True),
        "E": ("early", True),
        "A": ("mail", True),
        "F": ("provisional", True),
        "Z": ("provisional", True),
        "B": ("mail", False),
        "P": ("provisional", False),
        "N": (None, False),
    }
    types = ["GEN", "PRI", "PPP", "RUN", "OTH", "GEN", "GEN", "GEN"]
    lines = [f"ALA\t100\t11/08/2022\t{t}\t{c}" for c, t in zip(codes, types, strict=True)]
    lines.append("ALA\t100\t11/08/2022\tXYZ\tY")
    lines.append("ALA\t100\t11/08/2022\tGEN\tQ")
    rows, rejects = history(write(tmp_path, "ALA_H.txt", "\n".join(lines)), "fl")
    assert rows.select("method", "voted").rows() == list(codes.values())
    assert rows["election_type"].to_list() == [
        "general",
        "primary",
        "presidential_primary",
        "runoff",
        "other",
        "general",
        "general",
        "general",
    ]
    assert rows["method_raw"].to_list() == list(codes)
    assert [r.line_number for r in rejects] == [9, 10]
    assert rejects[0].errors[0].field == "election_type"
    assert rejects[1].errors == (
        FieldError("history_code", "unknown history code; expected one of A, B, E, F, N, P, Y, Z"),
    )
    assert len(FL_HISTORY_FIELDS) == 5


# ------------------------------------------------------------------------------------------
# OH

OH_HEADER = (
    '"SOS_VOTERID","COUNTY_NUMBER","LAST_NAME","FIRST_NAME","DATE_OF_BIRTH","REGISTRATION_DATE",'
    '"VOTER_STATUS","PARTY_AFFILIATION","RESIDENTIAL_ADDRESS1","RESIDENTIAL_SECONDARY_ADDR",'
    '"RESIDENTIAL_CITY","RESIDENTIAL_STATE","RESIDENTIAL_ZIP","PRECINCT_NAME",'
    '"PRIMARY-05/03/2016","GENERAL-11/08/2016","SPECIAL-08/07/2018"'
)


def oh_file(tmp_path: Path) -> Path:
    lines = [
        OH_HEADER,
        '"OH001","18","SMITH, JR","JO","1970-02-03","2001-09-10","ACTIVE","D","1 ELM RD","#3",'
        '"CLEVELAND","OH","44101","CLE 1","D","X",""',
        '"OH002","18","LEE","AL","1985-12-31","2019-01-02","CONFIRMATION","","9 OAK ST","",'
        '"CLEVELAND","OH","44101","CLE 2","","","R"',
    ]
    return write(tmp_path, "SWVF_1_22.txt", "\r\n".join(lines) + "\r\n")


def test_oh_voters_skip_election_columns_in_extra(tmp_path):
    rows, rejects = voters(oh_file(tmp_path), "oh")
    assert rejects == []
    assert rows.select(
        "voter_id", "last_name", "party", "status", "unit", "address_key"
    ).rows() == [
        ("OH001", "SMITH, JR", "dem", "active", "#3", "1|ELM RD|#3|44101"),
        ("OH002", "LEE", "una", "confirmation", None, "9|OAK ST||44101"),
    ]
    assert rows["birth_date"].to_list() == [date(1970, 2, 3), date(1985, 12, 31)]
    assert json.loads(rows["extra"][0]) == {}


def test_oh_history_one_row_per_election_cell(tmp_path):
    rows, rejects = history(oh_file(tmp_path), "oh")
    assert rejects == []
    assert rows.rows() == [
        ("OH001", date(2016, 5, 3), "primary", None, None, "D", True, 2),
        ("OH001", date(2016, 11, 8), "general", None, None, None, True, 2),
        ("OH002", date(2018, 8, 7), "special", None, None, "R", True, 3),
    ]


# ------------------------------------------------------------------------------------------
# generic


def test_generic_csv_with_aliases_and_quotes(tmp_path):
    text = (
        "Voter ID,First Name,Surname,DOB,Party,Status,House_Number,Street,Unit,Zip,Lat,Lng,"
        "Cell,Email,Household_ID\n"
        'G1,"Mary, Ann","O""Hara",1990-05-06,Democrat,A,12,North Main Street,Apt 4,02108,'
        "42.1,-71.0,+44 20 7946 0958,bad-email,H9\n"
    )
    rows, rejects = voters(write(tmp_path, "g.csv", text), "generic", default_state="ma")
    assert rejects == []
    row = rows.row(0, named=True)
    assert (row["first_name"], row["last_name"], row["party"], row["status"]) == (
        "Mary, Ann",
        'O"Hara',
        "dem",
        "active",
    )
    assert (row["address"], row["address_key"], row["state"]) == (
        "12 NORTH MAIN STREET APT 4",
        "12|N MAIN ST|#4|02108",
        "MA",
    )
    assert (row["latitude"], row["longitude"], row["phone"], row["email"]) == (
        42.1,
        -71.0,
        "+442079460958",
        None,
    )
    assert json.loads(row["extra"]) == {"household_id": "H9"}


def test_generic_tsv_same_result_as_csv(tmp_path):
    text = "voter_id\tfirst_name\taddress\tzip\tbirth_year\n V2 \tBo\t7 Elm Rd\t27601\t1950\n"
    rows, rejects = voters(write(tmp_path, "g.tsv", text), "generic")
    assert rejects == []
    assert rows.select("voter_id", "first_name", "house_number", "street", "birth_year").row(0) == (
        "V2",
        "Bo",
        "7",
        "ELM RD",
        1950,
    )


def test_generic_history_voted_and_types(tmp_path):
    text = (
        "voter_id,election_date,election_type,method,party,voted\n"
        "A,11/08/2022,General,absentee,dem,\n"
        "A,2022-05-17,presidential primary,Election Day,,no\n"
        "A,2022-05-17,primary,,,maybe\n"
        "A,2022-05-17,bogus,,,yes\n"
    )
    rows, rejects = history(write(tmp_path, "h.csv", text), "generic")
    assert rows.rows() == [
        ("A", date(2022, 11, 8), "general", "mail", "absentee", "DEM", True, 2),
        ("A", date(2022, 5, 17), "presidential_primary", "polls", "Election Day", None, False, 3),
    ]
    assert reasons(rejects) == [
        (4, (FieldError("voted", "expected yes/no, true/false, y/n or 1/0"),)),
        (
            5,
            (
                FieldError(
                    "election_type",
                    "unknown election type; expected one of general, primary, "
                    "presidential_primary, municipal, special, runoff, other",
                ),
            ),
        ),
    ]


# ------------------------------------------------------------------------------------------
# rejects, errors, batching


def test_each_voter_reject_class_with_exact_line_numbers(tmp_path):
    text = (
        "voter_id,birth_date,registration_date,latitude\n"
        "R1,1990-01-01,,35.0\n"
        "R2,1990-01-01\n"
        ",1990-01-01,,\n"
        "\n"
        "R4,yesterday,,\n"
        "R5,02/30/2020,,\n"
        "R6,2999-01-01,,\n"
        "R7,,,91.5\n"
        "R8,,13/01/2020,abc\n"
    )
    rows, rejects = voters(write(tmp_path, "r.csv", text), "generic")
    assert rows["voter_id"].to_list() == ["R1"]
    assert reasons(rejects) == [
        (3, (FieldError("line", "expected 4 fields, found 2"),)),
        (4, (FieldError("voter_id", "required"),)),
        (
            6,
            (
                FieldError(
                    "birth_date",
                    "unrecognized date 'yesterday' (expected YYYY-MM-DD or MM/DD/YYYY)",
                ),
            ),
        ),
        (7, (FieldError("birth_date", "impossible date '02/30/2020'"),)),
        (8, (FieldError("birth_date", "birth date is in the future"),)),
        (9, (FieldError("latitude", "outside [-90, 90]"),)),
        (
            10,
            (
                FieldError("registered_on", "impossible date '13/01/2020'"),
                FieldError("latitude", "not a number"),
            ),
        ),
    ]
    assert rejects[0].raw == "R2,1990-01-01"
    assert rejects[0].file_name == "r.csv"


def test_unterminated_quote_is_a_rejected_line(tmp_path):
    text = 'voter_id,first_name\nQ1,"open\nQ2,ok\n'
    rows, rejects = voters(write(tmp_path, "u.csv", text), "generic")
    assert rows["voter_id"].to_list() == ["Q2"]
    assert reasons(rejects) == [
        (2, (FieldError("line", "unterminated or malformed quoted field"),))
    ]


def test_missing_required_column_is_a_layout_error(tmp_path):
    path = write(tmp_path, "nope.csv", "first_name,last_name\nA,B\n")
    with pytest.raises(LayoutError) as caught:
        list(read_voter_batches(path, layout="generic", display_name="upload.csv"))
    assert str(caught.value) == "upload.csv, line 1: required column 'voter_id' is missing"
    hist = write(tmp_path, "h.csv", "voter_id,election_type\nA,general\n")
    with pytest.raises(LayoutError, match=r"h\.csv, line 1: required column 'election_date'"):
        list(read_history_batches(hist, layout="generic"))


def test_unknown_layout_and_utf16_are_layout_errors(tmp_path):
    path = write(tmp_path, "x.xls", "voter_id\n1\n".encode("utf-16"))
    with pytest.raises(LayoutError, match=r"x\.xls, line 1: UTF-16"):
        list(read_voter_batches(path, layout="generic"))
    with pytest.raises(LayoutError, match="unknown layout 'tx'"):
        list(read_voter_batches(path, layout="tx"))


def test_batches_give_same_rows_as_one_batch(tmp_path):
    text = "voter_id,first_name\n" + "".join(f"B{i},N{i}\n" for i in range(5))
    path = write(tmp_path, "b.csv", text)
    small = list(read_voter_batches(path, layout="generic", batch_rows=2))
    whole = list(read_voter_batches(path, layout="generic"))
    assert [b.rows.height for b in small] == [2, 2, 1]
    assert [b.lines_read for b in small] == [2, 2, 1]
    assert small[-1].bytes_read == len(text.encode())
    assert pl.concat([b.rows for b in small]).equals(whole[0].rows)
    assert whole[0].rows["line_number"].to_list() == [2, 3, 4, 5, 6]


# ------------------------------------------------------------------------------------------
# fuzz: any line after a valid header is a row or a RejectedLine, never an exception

HEADERS = {
    ("generic", "voters"): "voter_id,first_name,birth_date,phone,latitude",
    ("generic", "history"): "voter_id,election_date,election_type,voted",
    ("nc", "voters"): "\t".join(NC_CURRENT),
    ("nc", "history"): "\t".join(NC_HISTORY),
    ("oh", "voters"): OH_HEADER,
    ("oh", "history"): OH_HEADER,
    ("fl", "voters"): None,
    ("fl", "history"): None,
}
READERS = {"voters": read_voter_batches, "history": read_history_batches}
FUZZ_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from('\t\r",*'),
    max_size=80,
)


@pytest.mark.parametrize(("layout", "kind"), list(HEADERS))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(line=FUZZ_TEXT)
def test_fuzz_line_is_a_row_or_a_reject(tmp_path, layout, kind, line):
    header = HEADERS[layout, kind]
    text = (header + "\n" if header else "") + line.replace("\n", " ") + "\n"
    path = write(tmp_path, f"fuzz_{layout}_{kind}.txt", text)
    batches = list(READERS[kind](path, layout=layout))
    accounted = sum(b.rows["line_number"].n_unique() + len(b.rejects) for b in batches)
    lines_read = sum(b.lines_read for b in batches)
    # OH history yields no row for a voter with no election cells.
    assert accounted == lines_read if (layout, kind) != ("oh", "history") else accounted <= 1


# ------------------------------------------------------------------------------------------
# fast path (whole batch through the CSV reader) == line-by-line path


TRICKY_NC = [
    nc_voter(),
    nc_voter(ncid="P1", first_name="  ANN   MARIE ", county_desc="WAKE      ", vtd_desc=" X "),
    nc_voter(ncid="P2", last_name="NULL", middle_name="n/a", mail_addr1="*", mail_city="None"),
    nc_voter(ncid="P3", middle_name='CARL "DAN"', mail_addr1='"QUOTED"', mail_addr2='a\\b"c'),
    nc_voter(ncid="P4", mail_addr1="TAB\x0bINSIDE", first_name="JOSÉ", mail_city="\u00a0X\u00a0"),
    nc_voter(ncid="P5", birth_year="19x0", registr_dt="02/30/2001"),
    nc_voter(ncid="", first_name="NOID"),
    nc_voter(
        ncid="P6", mail_addr1="NULLS", mail_addr2="N/AB", mail_city="NONE ", res_city_desc="*"
    ),
    {},  # a line of nothing but tabs: blank, skipped
]


def _both_paths(monkeypatch, path: Path, layout: str = "nc", **kw):
    from voters.layouts import fast_path

    fast = list(read_voter_batches(path, layout=layout, **kw))
    monkeypatch.setattr(fast_path, "fast_split", lambda *a: None)
    slow = list(read_voter_batches(path, layout=layout, **kw))
    monkeypatch.undo()
    return fast, slow


def _same(fast: list[ParsedBatch], slow: list[ParsedBatch]) -> None:
    assert [b.lines_read for b in fast] == [b.lines_read for b in slow]
    assert [b.invalid_phones for b in fast] == [b.invalid_phones for b in slow]
    assert [b.rejects for b in fast] == [b.rejects for b in slow]
    assert pl.concat([b.rows for b in fast]).equals(pl.concat([b.rows for b in slow]))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("plain_ascii", [False, True])
def test_fast_path_matches_line_path(tmp_path, monkeypatch, newline, quoted, plain_ascii):
    from voters.layouts import fast_path

    def line(values: dict[str, str]) -> str:
        cells = nc_line(NC_CURRENT, **values).split("\t")
        return "\t".join(f'"{c}"' for c in cells) if quoted else "\t".join(cells)

    tricky = list(TRICKY_NC)
    if plain_ascii:  # no control or non-ASCII characters: the per-column scan decides
        tricky[4] = nc_voter(ncid="P4", mail_addr1="TAB\x0bINSIDE".replace("\x0b", " "))
    text = newline.join(["\t".join(NC_CURRENT), *[line(v) for v in tricky]]) + newline
    path = write(tmp_path, "tricky.txt", text)
    taken = []
    fast_split = fast_path.fast_split
    monkeypatch.setattr(
        fast_path, "fast_split", lambda *a: taken.append(fast_split(*a)) or taken[-1]
    )
    fast = list(read_voter_batches(path, layout="nc"))
    monkeypatch.undo()
    assert taken
    assert all(split is not None for split in taken)
    _, slow = _both_paths(monkeypatch, path)
    _same(fast, slow)
    rows, rejects = read_all(fast)
    assert rows.height == 6
    # A quoted line of empty fields is not blank: it is read, and rejected for its missing ncid.
    assert sum(b.lines_read for b in fast) == (9 if quoted else 8)
    assert [r.line_number for r in rejects] == ([7, 8, 10] if quoted else [7, 8])
    assert rejects[0].raw == line(TRICKY_NC[5])
    extras = {r["voter_id"]: json.loads(r["extra"]) for r in rows.iter_rows(named=True)}
    assert "mail_addr1" not in extras["P2"]
    assert "mail_city" not in extras["P2"]
    assert extras["P3"]["mail_addr2"] == 'a\\b"c'
    assert extras["P4"]["mail_addr1"] == tricky[4]["mail_addr1"]
    assert extras["P6"]["mail_addr1"] == "NULLS"
    assert "mail_city" not in extras["P6"]


def test_fast_path_matches_line_path_on_synthetic_file(tmp_path, monkeypatch):
    from voters.synthetic import write_nc_voter_file

    path = tmp_path / "nc.txt"
    write_nc_voter_file(path, rows=3_000)
    fast, slow = _both_paths(monkeypatch, path, batch_rows=1_000)
    _same(fast, slow)


def test_batch_pieces_give_the_same_batches(tmp_path, monkeypatch):
    from voters.layouts import reading

    text = "\t".join(NC_CURRENT) + "\n"
    text += "".join(nc_line(NC_CURRENT, **nc_voter(ncid=f"N{i}")) + "\n" for i in range(7))
    text += nc_line(NC_CURRENT, **nc_voter(ncid="LAST", birth_year="x"))  # no final newline
    path = write(tmp_path, "pieces.txt", text)
    whole = list(read_voter_batches(path, layout="nc", batch_rows=5))
    monkeypatch.setattr(reading, "_PIECE_LINES", 2)
    pieces = list(read_voter_batches(path, layout="nc", batch_rows=5))
    assert [b.lines_read for b in pieces] == [5, 3]
    assert [b.bytes_read for b in pieces] == [b.bytes_read for b in whole]
    assert pieces[-1].bytes_read == len(text.encode())
    _same(pieces, whole)
    assert [r.line_number for b in pieces for r in b.rejects] == [9]


def test_generic_file_in_our_own_vocabulary_reads_back_unchanged(tmp_path):
    path = write(
        tmp_path,
        "export.csv",
        "voter_id,gender,race,ethnicity,party,status\n"
        "E1,female,multiracial,not_hispanic,una,preregistered\n"
        "E2,other,pacific,hispanic,grn,confirmation\n",
    )

    rows, rejects = voters(path, "generic")

    assert rejects == []
    assert rows.select("gender", "race", "ethnicity", "party", "status").rows() == [
        ("female", "multiracial", "not_hispanic", "una", "preregistered"),
        ("other", "pacific", "hispanic", "grn", "confirmation"),
    ]


# Quoted CSV: every line here goes through the fast path (a `","` field takes the scan of every
# quote rather than the split at commas).
CSV_HEADER = "voter_id,first_name,last_name,birth_date,phone,address,zip,notes"
TRICKY_CSV = [
    'C1,"Mary, Ann","O""Hara",1990-05-06,"(919) 555-0101","12 Main St, Apt 4",27601,"a,b,c"',
    'C2,"","",1980-01-02,,"",27601,""',
    'C3,"  ANN   MARIE ",  Lee  ,"1970-02-03",919 555 0102,"  7 Elm Rd ",27601,"NULL"',
    'C4,JOSÉ,"""Q""",1971-03-04,,"1 ""A"" St",27601,"x""y"',
    'C5,"Bo","Li",1972-04-05,,"9 Oak",27601,","',
    'C6,Al,"Wu",02/30/2001,12,"3 Elm",27601,"back\\slash"',
    ',"NOID","X",1960-01-01,,,27601,',
    'C7,N/A,none,*,,"*","27601","tab\tin"',
]


def _taken(monkeypatch, path: Path, layout: str, read=read_voter_batches, **kw):
    """The batches, and what fast_split returned for each piece."""
    from voters.layouts import fast_path

    taken = []
    fast_split = fast_path.fast_split
    monkeypatch.setattr(
        fast_path, "fast_split", lambda *a: taken.append(fast_split(*a)) or taken[-1]
    )
    batches = list(read(path, layout=layout, **kw))
    monkeypatch.undo()
    return batches, taken


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_fast_path_matches_line_path_on_quoted_csv(tmp_path, monkeypatch, newline):
    text = newline.join([CSV_HEADER, *TRICKY_CSV]) + newline
    path = write(tmp_path, "tricky.csv", text)

    fast, taken = _taken(monkeypatch, path, "generic")
    _, slow = _both_paths(monkeypatch, path, "generic")

    assert taken
    assert all(split is not None for split in taken)
    _same(fast, slow)
    rows, rejects = read_all(fast)
    named = {r["voter_id"]: r for r in rows.iter_rows(named=True)}
    assert (named["C1"]["first_name"], named["C1"]["last_name"]) == ("Mary, Ann", 'O"Hara')
    assert named["C3"]["first_name"] == "ANN MARIE"
    assert named["C4"]["last_name"] == '"Q"'
    assert json.loads(named["C1"]["extra"]) == {"notes": "a,b,c"}
    assert json.loads(named["C4"]["extra"]) == {"notes": 'x"y'}
    assert json.loads(named["C5"]["extra"]) == {"notes": ","}
    assert json.loads(named["C2"]["extra"]) == {}
    assert [r.line_number for r in rejects] == [7, 8]


@pytest.mark.parametrize(
    ("line", "fast"),
    [
        ('B1,O"Brien,X,1990-01-01,,,27601,', False),  # a bare quote in an unquoted field
        ('B1,"open,X,1990-01-01,,,27601,', False),  # unterminated
        ('B1,"two\nlines",X,1990-01-01,,,27601,', False),  # a quoted field spanning lines
        ("B1,A,X,1990-01-01,,,27601", False),  # too few fields
        ("B1,A,X,1990-01-01,,,27601,,", False),  # too many
        ('B1, "A" ,X,1990-01-01,,,27601,', False),  # spaces around a quoted field
        ('B1,"A"B,X,1990-01-01,,,27601,', False),  # text after the closing quote
        ('B1,a""b,X,1990-01-01,,,27601,', False),  # `""` in an unquoted field is data
        ("B1,\u00a0A,X,1990-01-01,,,27601,", False),  # a non-ASCII space starts a field
        ("B1,A\rB,X,1990-01-01,,,27601,", False),  # a stray CR
        ('B1,"A"",B",X,1990-01-01,,,27601,', True),  # an escape next to a quoted comma
        ("B1,Jos\xe9,M\xfcller,1990-01-01,,,27601,", True),  # Latin-1 bytes
    ],
)
def test_csv_lines_the_fast_path_leaves_to_the_line_path(tmp_path, monkeypatch, line, fast):
    body = "\n".join([CSV_HEADER, TRICKY_CSV[0], line, TRICKY_CSV[2]]) + "\n"
    path = write(tmp_path, "odd.csv", body.encode("latin-1") if "\xe9" in line else body)

    batches, taken = _taken(monkeypatch, path, "generic")
    _, slow = _both_paths(monkeypatch, path, "generic")

    assert [split is not None for split in taken] == [fast]
    _same(batches, slow)


def test_fast_path_matches_line_path_on_oh_file(tmp_path, monkeypatch):
    path = oh_file(tmp_path)

    fast, taken = _taken(monkeypatch, path, "oh")
    _, slow = _both_paths(monkeypatch, path, "oh")
    fast_history, _ = _taken(monkeypatch, path, "oh", read=read_history_batches)
    monkeypatch.setattr("voters.layouts.fast_path.fast_split", lambda *a: None)
    slow_history = list(read_history_batches(path, layout="oh"))

    assert taken
    assert all(split is not None for split in taken)
    _same(fast, slow)
    _same(fast_history, slow_history)


def test_fast_path_matches_line_path_on_synthetic_csv(tmp_path, monkeypatch):
    from voters.synthetic import generate_county

    path = generate_county(tmp_path, voters=3_000, seed=1).voters_csv

    fast, taken = _taken(monkeypatch, path, "generic", batch_rows=1_000)
    _, slow = _both_paths(monkeypatch, path, "generic", batch_rows=1_000)

    assert taken
    assert all(split is not None for split in taken)
    _same(fast, slow)


CSV_FIELD = st.text(alphabet=' ,"aZ9\t*é\\', max_size=6)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.lists(st.tuples(CSV_FIELD, st.booleans()), min_size=4, max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_csv_fast_path_matches_line_path(tmp_path, monkeypatch, rows):
    def cell(value: str, quoted: bool) -> str:
        return '"' + value.replace('"', '""') + '"' if quoted else value

    lines = [f"V{i}," + ",".join(cell(v, q) for v, q in row) for i, row in enumerate(rows)]
    text = "voter_id,first_name,last_name,phone,notes\n" + "\n".join(lines) + "\n"
    path = write(tmp_path, "fuzz.csv", text)

    fast, slow = _both_paths(monkeypatch, path, "generic")

    _same(fast, slow)
