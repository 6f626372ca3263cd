"""Column names of the layouts written and the codes each uses, indexed by small integers."""

from __future__ import annotations

from datetime import date

import numpy as np

NC_VOTER_COLUMNS: tuple[str, ...] = (
    "county_id", "county_desc", "voter_reg_num", "ncid", "last_name", "first_name", "middle_name",
    "name_suffix_lbl", "status_cd", "voter_status_desc", "reason_cd", "voter_status_reason_desc",
    "res_street_address", "res_city_desc", "state_cd", "zip_code", "mail_addr1", "mail_addr2",
    "mail_addr3", "mail_addr4", "mail_city", "mail_state", "mail_zipcode", "full_phone_number",
    "confidential_ind", "registr_dt", "race_code", "ethnic_code", "party_cd", "gender_code",
    "birth_year", "age_at_year_end", "birth_state", "drivers_lic", "precinct_abbrv",
    "precinct_desc", "municipality_abbrv", "municipality_desc", "ward_abbrv", "ward_desc",
    "cong_dist_abbrv", "super_court_abbrv", "judic_dist_abbrv", "nc_senate_abbrv",
    "nc_house_abbrv", "county_commiss_abbrv", "county_commiss_desc", "township_abbrv",
    "township_desc", "school_dist_abbrv", "school_dist_desc", "fire_dist_abbrv", "fire_dist_desc",
    "water_dist_abbrv", "water_dist_desc", "sewer_dist_abbrv", "sewer_dist_desc",
    "sanit_dist_abbrv", "sanit_dist_desc", "rescue_dist_abbrv", "rescue_dist_desc",
    "munic_dist_abbrv", "munic_dist_desc", "dist_1_abbrv", "dist_1_desc", "vtd_abbrv", "vtd_desc",
)  # fmt: skip
NC_HISTORY_COLUMNS: tuple[str, ...] = (
    "county_id", "county_desc", "voter_reg_num", "election_lbl", "election_desc", "voting_method",
    "voted_party_cd", "voted_party_desc", "pct_label", "pct_description", "ncid",
    "voted_county_id", "voted_county_desc", "vtd_label", "vtd_description",
)  # fmt: skip
GENERIC_VOTER_COLUMNS: tuple[str, ...] = (
    "voter_id", "first_name", "middle_name", "last_name", "suffix", "birth_date", "gender", "race",
    "ethnicity", "party", "registration_date", "status", "house_number", "street", "unit", "city",
    "state", "zip", "latitude", "longitude", "phone", "email", "county", "precinct",
    "congressional_district", "state_senate_district", "state_house_district", "municipality",
    "ward", "vanid",
)  # fmt: skip
GENERIC_HISTORY_COLUMNS: tuple[str, ...] = (
    "voter_id",
    "election_date",
    "election_type",
    "method",
    "party",
    "voted",
)
ASSIGNMENT_COLUMNS: tuple[str, ...] = ("voter_id", "arm", "assigned_at")
GENERIC_CONTACT_COLUMNS: tuple[str, ...] = (
    "voter_id", "occurred_at", "channel", "result", "program", "arm", "variant", "question",
    "answer", "canvasser", "note",
)  # fmt: skip
SUPPORT_QUESTION = "support"

PROGRAM_NAME = "gotv_doors_general"
CONTROL = "control"
VARIANTS: tuple[str, ...] = ("civic_duty", "social_pressure", "neighbors", "plan_making")
ARMS: tuple[str, ...] = (CONTROL, *VARIANTS)
CONTROL_SHARE = 0.25
DEFAULT_AS_OF = date(2025, 12, 1)
DEFAULT_SEED = 20_240_611
COUNTY_ID, COUNTY_NAME = "101", "ALDER"
MUNICIPALITY = ("HAR", "HARLOW")
CENTER_LAT, CENTER_LON = 35.9, -79.0
AREA_CODES = np.array(["919", "984", "336", "704", "910", "252", "828"])
EPOCH = date(1970, 1, 1)

# Codes, indexed by the small integers the simulation uses.
PARTY_GENERIC = np.array(["dem", "rep", "una", "lib", "grn"])
PARTY_NC = np.array(["DEM", "REP", "UNA", "LIB", "GRE"])
PARTY_NC_DESC = np.array(["DEMOCRATIC", "REPUBLICAN", "UNAFFILIATED", "LIBERTARIAN", "GREEN"])
RACE_NC = np.array(["W", "B", "A", "I", "O", "M", "P", "U"])
RACE_GENERIC = np.array(
    ["white", "black", "asian", "native", "other", "multiracial", "pacific", "unknown"]
)
ETHNIC_NC = np.array(["HL", "NL", "UN"])
ETHNIC_GENERIC = np.array(["hispanic", "not_hispanic", "unknown"])
GENDER_NC = np.array(["F", "M", "U"])
GENDER_GENERIC = np.array(["female", "male", "unknown"])
STATUS_NC = np.array(["A", "I", "R"])
STATUS_NC_DESC = np.array(["ACTIVE", "INACTIVE", "REMOVED"])
STATUS_GENERIC = np.array(["active", "inactive", "removed"])
REASON_NC = np.array(["AV", "IN", "RL"])
REASON_NC_DESC = np.array(["VERIFIED", "CONFIRMATION NOT RETURNED", "MOVED FROM COUNTY"])
METHOD_GENERIC = np.array(["polls", "early", "mail", "provisional"])
METHOD_NC_OLD = np.array(["IN-PERSON", "ABSENTEE ONESTOP", "ABSENTEE BY MAIL", "PROVISIONAL"])
METHOD_NC_NEW = np.array(["ELECTION DAY", "EARLY VOTING", "ABSENTEE BY MAIL", "PROVISIONAL"])
STREET_SUFFIXES = ("ST", "AVE", "RD", "DR", "LN", "CT", "WAY", "PL", "BLVD", "CIR", "TRL", "PKWY")
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "hotmail.com")
ZIP_AREAS = (
    ("27510", "CARRBORO"), ("27514", "ALDER"), ("27516", "BRICKTON"),
    ("27541", "CEDAR GROVE"), ("27278", "EFLAND"), ("27243", "FAIRVIEW"),
)  # fmt: skip
