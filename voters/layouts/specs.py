"""Per layout, which source column feeds which canonical field: the NC, FL and OH column maps, the
generic header aliases, FL's headerless field lists, and the required-column checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from voters.layouts.codes import ETHNICITY_FROM_FL_RACE, PARTY, PARTY_OH, RACE_FL, RACE_NC
from voters.layouts.schema import LayoutError

FL_VOTER_FIELDS = (  # noqa: SIM905 - spelled like the published layout
    "County_Code Voter_ID Name_Last Name_Suffix Name_First Name_Middle "
    "Requested_public_records_exemption Residence_Address_Line_1 Residence_Address_Line_2 "
    "Residence_City Residence_State Residence_Zipcode Mailing_Address_Line_1 "
    "Mailing_Address_Line_2 Mailing_Address_Line_3 Mailing_City Mailing_State "
    "Mailing_Zipcode Mailing_Country Gender Race Birth_Date Registration_Date "
    "Party_Affiliation Precinct Precinct_Group Precinct_Split Precinct_Suffix Voter_Status "
    "Congressional_District House_District Senate_District County_Commission_District "
    "School_Board_District Daytime_Area_Code Daytime_Phone_Number Daytime_Phone_Extension "
    "Email_address"
).split()
FL_HISTORY_FIELDS = ("County_Code", "Voter_ID", "Election_Date", "Election_Type", "History_Code")

# Generic header aliases: canonical source name -> accepted header spellings (normalized).
_GENERIC_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": ("voter_id", "voterid", "id", "state_voter_id", "voter_number", "sos_voterid"),
    "first_name": ("first_name", "firstname", "first", "given_name", "fname"),
    "middle_name": ("middle_name", "middlename", "middle", "mname", "middle_initial"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name", "lname"),
    "suffix": ("suffix", "name_suffix"),
    "birth_date": ("birth_date", "dob", "date_of_birth", "birthdate", "birthday"),
    "birth_year": ("birth_year", "year_of_birth", "birthyear", "yob"),
    "gender": ("gender", "sex"),
    "race": ("race",),
    "ethnicity": ("ethnicity",),
    "party": ("party", "party_affiliation", "party_code"),
    "registered_on": (
        "registration_date",
        "reg_date",
        "registered_on",
        "date_registered",
        "registration",
    ),
    "status": ("status", "voter_status"),
    "address": ("address", "street_address", "residence_address", "address1", "address_line_1"),
    "house_number": ("house_number", "house_num", "street_number", "housenumber"),
    "street": ("street", "street_name"),
    "unit": ("unit", "apt", "apartment", "unit_number", "address2", "address_line_2"),
    "city": ("city",),
    "state": ("state",),
    "zip": ("zip", "zip_code", "zipcode", "postal_code", "zip5"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng", "long"),
    "phone": ("phone", "phone_number", "cell", "cell_phone", "mobile", "telephone", "home_phone"),
    "email": ("email", "email_address", "e_mail"),
    "county": ("county",),
    "precinct": ("precinct",),
    "congressional_district": ("congressional_district", "cd", "cong_dist"),
    "state_senate_district": ("state_senate_district", "senate_district", "sd"),
    "state_house_district": ("state_house_district", "house_district", "hd"),
    "municipality": ("municipality",),
    "ward": ("ward",),
}
GENERIC_HISTORY_ALIASES: dict[str, tuple[str, ...]] = {
    "voter_id": _GENERIC_ALIASES["voter_id"],
    "election_date": ("election_date", "election_on", "date", "election"),
    "election_type": ("election_type", "type"),
    "method": ("method", "vote_method", "voting_method"),
    "party": ("party", "ballot_party", "voted_party"),
    "voted": ("voted",),
}


@dataclass
class VoterSpec:
    columns: dict[str, str]  # canonical (or "zip", "phone") -> source column
    address_from: list[str] = field(default_factory=list)  # joined with " " into `address`
    phone_from: list[str] = field(default_factory=list)  # digits concatenated (FL area + number)
    race_codes: dict[str, str] = field(default_factory=lambda: RACE_NC)
    party_codes: dict[str, str] = field(default_factory=lambda: PARTY)
    party_blank: str | None = None  # OH: no primary ballot on record means unaffiliated
    ethnicity_from_race: dict[str, str] | None = None
    not_extra: set[str] = field(default_factory=set)


_NC_COLUMNS = {
    "voter_id": "ncid",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "name_suffix_lbl",
    "birth_year": "birth_year",
    "gender": "gender_code",
    "race": "race_code",
    "ethnicity": "ethnic_code",
    "party": "party_cd",
    "registered_on": "registr_dt",
    "status": "status_cd",
    "city": "res_city_desc",
    "state": "state_cd",
    "zip": "zip_code",
    "phone": "full_phone_number",
    "county": "county_desc",
    "precinct": "precinct_abbrv",
    "congressional_district": "cong_dist_abbrv",
    "state_senate_district": "nc_senate_abbrv",
    "state_house_district": "nc_house_abbrv",
    "municipality": "municipality_desc",
    "ward": "ward_abbrv",
}
# Older NC vintages spell three columns differently.
_NC_OLD_NAMES = {"middle_name": "midl_name", "suffix": "name_sufx_cd"}

_OH_COLUMNS = {
    "voter_id": "sos_voterid",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "suffix",
    "birth_date": "date_of_birth",
    "registered_on": "registration_date",
    "status": "voter_status",
    "party": "party_affiliation",
    "city": "residential_city",
    "state": "residential_state",
    "zip": "residential_zip",
    "county": "county_number",
    "precinct": "precinct_name",
    "congressional_district": "congressional_district",
    "state_senate_district": "state_senate_district",
    "state_house_district": "state_representative_district",
    "municipality": "city",
    "ward": "ward",
}
OH_ELECTION = re.compile(r"^(general|primary|special)-(\d{2}/\d{2}/\d{4})$")

_FL_COLUMNS = {
    "voter_id": "voter_id",
    "first_name": "name_first",
    "middle_name": "name_middle",
    "last_name": "name_last",
    "suffix": "name_suffix",
    "birth_date": "birth_date",
    "gender": "gender",
    "race": "race",
    "party": "party_affiliation",
    "registered_on": "registration_date",
    "status": "voter_status",
    "city": "residence_city",
    "state": "residence_state",
    "zip": "residence_zipcode",
    "email": "email_address",
    "county": "county_code",
    "precinct": "precinct",
    "congressional_district": "congressional_district",
    "state_senate_district": "senate_district",
    "state_house_district": "house_district",
}


def _present(columns: dict[str, str], names: list[str]) -> dict[str, str]:
    return {k: v for k, v in columns.items() if v in names}


def _nc_spec(names: list[str]) -> VoterSpec:
    columns = dict(_NC_COLUMNS)
    for canonical, old in _NC_OLD_NAMES.items():
        if columns[canonical] not in names and old in names:
            columns[canonical] = old
    return VoterSpec(_present(columns, names), address_from=["res_street_address"])


def _fl_spec(names: list[str]) -> VoterSpec:
    return VoterSpec(
        dict(_FL_COLUMNS),
        address_from=["residence_address_line_1", "residence_address_line_2"],
        phone_from=["daytime_area_code", "daytime_phone_number"],
        race_codes=RACE_FL,
        ethnicity_from_race=ETHNICITY_FROM_FL_RACE,
    )


def _oh_spec(names: list[str]) -> VoterSpec:
    address = [c for c in ("residential_address1", "residential_secondary_addr") if c in names]
    return VoterSpec(
        _present(_OH_COLUMNS, names),
        address_from=address,
        party_codes=PARTY_OH,
        party_blank="una",
        not_extra={n for n in names if OH_ELECTION.match(n)},
    )


def _generic_spec(names: list[str], file_name: str) -> VoterSpec:
    columns = match_aliases(names, _GENERIC_ALIASES, file_name)
    # A separate unit column ("address2") belongs on the street line when there is one.
    address = (
        [columns[k] for k in ("address", "unit") if k in columns] if "address" in columns else []
    )
    return VoterSpec(columns, address_from=address)


def _normalize_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def match_aliases(
    names: list[str], aliases: dict[str, tuple[str, ...]], file_name: str
) -> dict[str, str]:
    """The header column whose normalized name is an alias of each canonical field.

    Raises LayoutError when two columns are aliases of one field ("zip" and "zip_code"): which of
    them holds the value is a guess, and the one not taken would vanish into `extra` unnoticed.
    """
    normalized: dict[str, list[str]] = {}
    for name in names:
        normalized.setdefault(_normalize_header(name), []).append(name)
    found: dict[str, str] = {}
    used: set[str] = set()
    for canonical, spellings in aliases.items():
        sources = [
            s for spelling in spellings for s in normalized.get(spelling, []) if s not in used
        ]
        if len(sources) > 1:
            both = " and ".join(f"'{s}'" for s in sources)
            raise LayoutError(
                file_name,
                1,
                f"columns {both} are all read as {canonical}; rename or remove all but one",
            )
        if sources:
            found[canonical] = sources[0]
            used.add(sources[0])
    return found


def require(names: list[str], columns: Iterable[str], file_name: str) -> None:
    for column in columns:
        if column not in names:
            raise LayoutError(file_name, 1, f"required column '{column}' is missing")


def voter_spec(layout: str, names: list[str], file_name: str) -> VoterSpec:
    if layout == "nc":
        require(names, ["ncid"], file_name)
        return _nc_spec(names)
    if layout == "fl":
        return _fl_spec(names)
    if layout == "oh":
        require(names, ["sos_voterid"], file_name)
        return _oh_spec(names)
    spec = _generic_spec(names, file_name)
    if "voter_id" not in spec.columns:
        raise LayoutError(file_name, 1, "required column 'voter_id' is missing")
    return spec
