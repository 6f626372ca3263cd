"""Code tables: source values -> our codes (gender, race, ethnicity, party, status, election
type, voting method, FL history codes, voted flags), and `to_code`, the expression applying one.

Table keys are upper-cased, whitespace-collapsed source values.
"""

from __future__ import annotations

import polars as pl

ELECTION_TYPES = (
    "general",
    "primary",
    "presidential_primary",
    "municipal",
    "special",
    "runoff",
    "other",
)


GENDER = {
    "F": "female",
    "FEMALE": "female",
    "W": "female",
    "WOMAN": "female",
    "M": "male",
    "MALE": "male",
    "MAN": "male",
    "U": "unknown",
    "UN": "unknown",
    "UNK": "unknown",
    "UNKNOWN": "unknown",
    "X": "other",
    "O": "other",
    "OTHER": "other",
    "NB": "other",
    "NONBINARY": "other",
    "NON-BINARY": "other",
}
RACE_WORDS = {
    "WHITE": "white",
    "CAUCASIAN": "white",
    "BLACK": "black",
    "AFRICAN AMERICAN": "black",
    "BLACK OR AFRICAN AMERICAN": "black",
    "HISPANIC": "hispanic",
    "LATINO": "hispanic",
    "HISPANIC OR LATINO": "hispanic",
    "ASIAN": "asian",
    "NATIVE": "native",
    "NATIVE AMERICAN": "native",
    "AMERICAN INDIAN": "native",
    "AMERICAN INDIAN OR ALASKA NATIVE": "native",
    "PACIFIC": "pacific",
    "PACIFIC ISLANDER": "pacific",
    "NATIVE HAWAIIAN OR PACIFIC ISLANDER": "pacific",
    "MULTIRACIAL": "multiracial",
    "MULTI-RACIAL": "multiracial",
    "TWO OR MORE RACES": "multiracial",
    "OTHER": "other",
    "UNKNOWN": "unknown",
}
# NC race_code letters; generic files use them too.
RACE_NC = {
    **RACE_WORDS,
    "W": "white",
    "B": "black",
    "A": "asian",
    "I": "native",
    "O": "other",
    "M": "multiracial",
    "P": "pacific",
    "U": "unknown",
    "H": "hispanic",
}
RACE_FL = {
    "1": "native",
    "2": "asian",
    "3": "black",
    "4": "hispanic",
    "5": "white",
    "6": "other",
    "7": "multiracial",
    "9": "unknown",
}
# FL folds ethnicity into race: "Hispanic", "Black (not Hispanic)", "White (not Hispanic)".
ETHNICITY_FROM_FL_RACE = {"4": "hispanic", "3": "not_hispanic", "5": "not_hispanic"}
ETHNICITY = {
    "HL": "hispanic",
    "H": "hispanic",
    "Y": "hispanic",
    "HISPANIC": "hispanic",
    "LATINO": "hispanic",
    "HISPANIC OR LATINO": "hispanic",
    "NL": "not_hispanic",
    "N": "not_hispanic",
    "NOT HISPANIC": "not_hispanic",
    "NOT HISPANIC OR LATINO": "not_hispanic",
    "NON-HISPANIC": "not_hispanic",
    "UN": "unknown",
    "U": "unknown",
    "UNKNOWN": "unknown",
}
PARTY = {
    "DEM": "dem",
    "D": "dem",
    "DEMOCRAT": "dem",
    "DEMOCRATIC": "dem",
    "REP": "rep",
    "R": "rep",
    "REPUBLICAN": "rep",
    "GOP": "rep",
    "UNA": "una",
    "U": "una",
    "NPA": "una",
    "NON": "una",
    "NONE": "una",
    "NO PARTY": "una",
    "NO PARTY AFFILIATION": "una",
    "UNAFFILIATED": "una",
    "UNENROLLED": "una",
    "LIB": "lib",
    "L": "lib",
    "LPF": "lib",
    "LIBERTARIAN": "lib",
    "GRE": "grn",
    "GRN": "grn",
    "G": "grn",
    "GREEN": "grn",
    "CST": "cst",
    "C": "cst",
    "CPF": "cst",
    "CONSTITUTION": "cst",
    "IND": "ind",
    "I": "ind",
    "INDEPENDENT": "ind",
}
# Ohio's letters: E Reform, N Natural Law, S Socialist are real (minor) parties.
PARTY_OH = {"D": "dem", "R": "rep", "L": "lib", "G": "grn", "C": "cst", "E": "oth", "N": "oth"}
PARTY_OH["S"] = "oth"
STATUS = {
    "A": "active",
    "ACT": "active",
    "ACTIVE": "active",
    "I": "inactive",
    "INA": "inactive",
    "INACTIVE": "inactive",
    "R": "removed",
    "REMOVED": "removed",
    "D": "denied",
    "DENIED": "denied",
    "S": "temporary",
    "TEMPORARY": "temporary",
    "PRE": "preregistered",
    "P": "preregistered",
    "PREREGISTERED": "preregistered",
    "PRE-REGISTERED": "preregistered",
    "CONFIRMATION": "confirmation",
    "C": "confirmation",
}
ELECTION_TYPE_CODES = {
    **{t.upper(): t for t in ELECTION_TYPES},
    "GEN": "general",
    "PRI": "primary",
    "PPP": "presidential_primary",
    "PRESIDENTIAL PRIMARY": "presidential_primary",
    "PRESIDENTIAL PREFERENCE PRIMARY": "presidential_primary",
    "PRESIDENTIAL PREFERENCE": "presidential_primary",
    "MUNI": "municipal",
    "LOCAL": "municipal",
    "CITY": "municipal",
    "SPECIAL ELECTION": "special",
    "RUN": "runoff",
    "RUN OFF": "runoff",
    "RUN-OFF": "runoff",
    "SECOND PRIMARY": "runoff",
    "OTH": "other",
}
METHOD = {
    "POLLS": "polls",
    "POLL": "polls",
    "AT POLLS": "polls",
    "ELECTION DAY": "polls",
    "IN PERSON": "polls",
    "IN-PERSON": "polls",
    "EARLY": "early",
    "EARLY VOTING": "early",
    "EARLY IN PERSON": "early",
    "EARLY VOTE": "early",
    "ONE STOP": "early",
    "ONESTOP": "early",
    "MAIL": "mail",
    "BY MAIL": "mail",
    "VOTE BY MAIL": "mail",
    "VBM": "mail",
    "ABSENTEE": "mail",
    "ABSENTEE BY MAIL": "mail",
    "POSTAL": "mail",
    "PROVISIONAL": "provisional",
    "OTHER": "other",
}
# Florida history codes -> (method, voted).
FL_HISTORY_CODES = {
    "Y": ("polls", True),
    "E": ("early", True),
    "A": ("mail", True),
    "F": ("provisional", True),
    "Z": ("provisional", True),
    "B": ("mail", False),
    "P": ("provisional", False),
    "N": (None, False),
}
FL_ELECTION_TYPE_CODES = {"GEN": "general", "PRI": "primary", "PPP": "presidential_primary"}
FL_ELECTION_TYPE_CODES |= {"RUN": "runoff", "OTH": "other"}
VOTED = {"Y": True, "YES": True, "TRUE": True, "T": True, "1": True}
VOTED |= {"N": False, "NO": False, "FALSE": False, "F": False, "0": False}


def to_code(
    raw: pl.Expr, mapping: dict[str, str | None], default: str | None, *, upper: bool = True
) -> pl.Expr:
    key = raw.str.to_uppercase() if upper else raw
    if upper:
        # Our own codes ("not_hispanic", "multiracial") read back as themselves, so a file this
        # product exported imports unchanged.
        own = {code.upper(): code for code in mapping.values() if code is not None}
        mapping = {**own, **mapping}
    return key.replace_strict(mapping, default=default, return_dtype=pl.Utf8)
