"""One chunk of the county as polars frames in the generic and NC layouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from voters.synthetic.calendar import Election
from voters.synthetic.codes import (
    AREA_CODES,
    ARMS,
    CENTER_LAT,
    CENTER_LON,
    COUNTY_ID,
    COUNTY_NAME,
    EMAIL_DOMAINS,
    ETHNIC_GENERIC,
    ETHNIC_NC,
    GENDER_GENERIC,
    GENDER_NC,
    GENERIC_CONTACT_COLUMNS,
    METHOD_GENERIC,
    METHOD_NC_NEW,
    METHOD_NC_OLD,
    MUNICIPALITY,
    NC_HISTORY_COLUMNS,
    NC_VOTER_COLUMNS,
    PARTY_GENERIC,
    PARTY_NC,
    PARTY_NC_DESC,
    PROGRAM_NAME,
    RACE_GENERIC,
    RACE_NC,
    REASON_NC,
    REASON_NC_DESC,
    STATUS_GENERIC,
    STATUS_NC,
    STATUS_NC_DESC,
    SUPPORT_QUESTION,
    VARIANTS,
    ZIP_AREAS,
)
from voters.synthetic.contacts import CHANNELS, RESULTS, Contacts
from voters.synthetic.population import Geography, Population
from voters.synthetic.support import Support
from voters.synthetic.turnout import History
from voters.synthetic.van import van_ids

_LETTER_PAIRS = pl.Series(
    [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
)
_ID_SPACE = 676_000_000
_ID_STEP = 387_420_489  # coprime with the id space, so distinct indexes give distinct ids


def voter_ids(index: np.ndarray, seed: int) -> pl.Series:
    """NC-style ncids ("AB123456"), unique for distinct indexes below 676 million."""
    num = (index.astype(np.int64) * _ID_STEP + (seed * 2_654_435_761) % _ID_SPACE) % _ID_SPACE
    digits = pl.Series(num % 1_000_000).cast(pl.Utf8).str.zfill(6)
    return _LETTER_PAIRS.gather(num // 1_000_000) + digits


def _reg_nums(index: np.ndarray) -> pl.Series:
    return pl.Series(index + 30_000_001).cast(pl.Utf8).str.zfill(12)


def _codes(codes: np.ndarray, index: np.ndarray) -> pl.Series:
    return pl.Series(codes).gather(index)


def _dates(days: np.ndarray, fmt: str) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date).dt.strftime(fmt)


def _maybe(mask: np.ndarray, values: pl.Series) -> pl.Series:
    return pl.select(pl.when(pl.Series(mask)).then(values)).to_series()


def _phones(rng: np.random.Generator, n: int) -> tuple[pl.Series, pl.Series]:
    """(generic, nc) phone columns: ~60% filled; a few placeholders and malformed numbers."""
    area = _codes(AREA_CODES, rng.choice(len(AREA_CODES), n))
    exchange = rng.integers(200, 1000, n)
    exchange = np.where(exchange % 100 == 11, exchange + 1, exchange)  # N11 codes are not numbers
    exch = pl.Series(exchange).cast(pl.Utf8)
    line = pl.Series(rng.integers(0, 10_000, n)).cast(pl.Utf8).str.zfill(4)
    digits = area + exch + line
    formatted = "(" + area + ") " + exch + "-" + line
    frame = pl.DataFrame({"d": digits, "f": formatted, "k": rng.random(n)})
    k = pl.col("k")

    def render(formatted_as: pl.Expr) -> pl.Series:
        return frame.select(
            pl.when(k >= 0.6)
            .then(None)
            .when(k < 0.006)
            .then(pl.lit("9999999999"))
            .when(k < 0.012)
            .then(pl.col("d").str.slice(0, 7))
            .when(k < 0.08)
            .then(formatted_as)
            .otherwise(pl.col("d"))
        ).to_series()

    # The state's file holds digits only; the generic file also has "(919) 555-0134" forms.
    return render(pl.col("f")), render(pl.col("d"))


def _emails(rng: np.random.Generator, first: pl.Series, last: pl.Series) -> pl.Series:
    n = len(first)
    sep = _codes(np.array([".", "_", ""]), rng.choice(3, n, p=[0.5, 0.2, 0.3]))
    num = pl.Series(rng.integers(1, 100, n)).cast(pl.Utf8)
    num = _maybe(rng.random(n) < 0.4, num).fill_null("")
    domain = _codes(np.array(EMAIL_DOMAINS), rng.choice(len(EMAIL_DOMAINS), n))
    local = first.str.to_lowercase() + sep + last.str.to_lowercase() + num
    return _maybe(rng.random(n) < 0.35, local + "@" + domain)


@dataclass
class Columns:
    """String columns shared by the generic and NC renderings of one chunk."""

    ids: pl.Series
    precinct: pl.Series
    street: pl.Series  # upper case
    city: pl.Series  # upper case
    zip: pl.Series
    cong: pl.Series
    senate: pl.Series
    house: pl.Series
    phone: pl.Series
    phone_nc: pl.Series
    email: pl.Series
    vanid: pl.Series  # the generic file only: VAN exports name voters by it


def shared_columns(rng: np.random.Generator, geo: Geography, pop: Population, seed: int) -> Columns:
    pl_ = pop.places
    n = len(pop)
    zip_codes = np.array([z for z, _ in ZIP_AREAS])
    cities = np.array([c for _, c in ZIP_AREAS])
    city = np.where(pl_.in_town, MUNICIPALITY[1], cities[pl_.zip_area])
    phone, phone_nc = _phones(rng, n)
    return Columns(
        ids=voter_ids(pop.index, seed),
        precinct="P" + pl.Series(pl_.precinct + 1).cast(pl.Utf8).str.zfill(3),
        street=geo.street_names.gather(pl_.street),
        city=pl.Series(city),
        zip=pl.Series(zip_codes[pl_.zip_area]),
        cong=_codes(np.array(["4", "6"]), (pl_.x >= 0.55).astype(np.int64)),
        senate=_codes(np.array(["22", "23", "24"]), (pl_.y * 3).astype(np.int64)),
        house=_codes(np.array(["50", "54", "56", "30", "31"]), (pl_.x * 5).astype(np.int64)),
        phone=phone,
        phone_nc=phone_nc,
        email=_emails(rng, pop.first, pop.last),
        vanid=pl.Series(van_ids(pop.index, seed)),
    )


def generic_voter_frame(pop: Population, cols: Columns) -> pl.DataFrame:
    places = pop.places
    unit = pl.Series(places.unit).cast(pl.Utf8)
    return pl.DataFrame(
        {
            "voter_id": cols.ids,
            "first_name": pop.first,
            "middle_name": pop.middle,
            "last_name": pop.last,
            "suffix": _maybe(pop.suffix != "", pl.Series(pop.suffix)),
            "birth_date": _dates(pop.birth, "%Y-%m-%d"),
            "gender": _codes(GENDER_GENERIC, pop.gender),
            "race": _codes(RACE_GENERIC, pop.race),
            "ethnicity": _codes(ETHNIC_GENERIC, pop.ethnicity),
            "party": _codes(PARTY_GENERIC, pop.party),
            "registration_date": _dates(pop.registration, "%Y-%m-%d"),
            "status": _codes(STATUS_GENERIC, pop.status),
            "house_number": pl.Series(places.house_number),
            "street": cols.street.str.to_titlecase(),
            "unit": _maybe(places.unit > 0, "APT " + unit),
            "city": cols.city.str.to_titlecase(),
            "state": pl.Series(["NC"] * len(pop)),
            "zip": cols.zip,
            "latitude": pl.Series(np.round(CENTER_LAT + (places.y - 0.5) * 0.30, 6)),
            "longitude": pl.Series(np.round(CENTER_LON + (places.x - 0.5) * 0.36, 6)),
            "phone": cols.phone,
            "email": cols.email,
            "county": pl.Series([COUNTY_NAME.title()] * len(pop)),
            "precinct": cols.precinct,
            "congressional_district": cols.cong,
            "state_senate_district": cols.senate,
            "state_house_district": cols.house,
            "municipality": _maybe(places.in_town, pl.Series([MUNICIPALITY[1].title()] * len(pop))),
            "ward": _maybe(places.in_town, pl.Series(places.ward).cast(pl.Utf8)),
            "vanid": cols.vanid,
        }
    )


def _nc_address(rng: np.random.Generator, pop: Population, cols: Columns) -> pl.Series:
    places = pop.places
    n = len(pop)
    # The state's export pads some addresses with a double space where a direction would go.
    gap = _codes(np.array([" ", "  "]), (rng.random(n) < 0.08).astype(np.int64))
    unit = _maybe(places.unit > 0, " APT " + pl.Series(places.unit).cast(pl.Utf8)).fill_null("")
    address = pl.Series(places.house_number).cast(pl.Utf8) + gap + cols.street + unit
    blank = (pop.status == 2) & (rng.random(n) < 0.4)  # removed voters may have no address
    return _maybe(~blank, address)


def nc_voter_frame(rng: np.random.Generator, pop: Population, cols: Columns, as_of: date):
    n = len(pop)
    places = pop.places
    birth_year = _dates(pop.birth, "%Y").cast(pl.Int64)
    middle = pop.middle.str.to_uppercase()
    # A few nicknames in literal quotes, unquoted in the file, as the state's files have them.
    nick = rng.random(n) < 0.002
    middle = pl.select(
        pl.when(pl.Series(nick) & middle.is_not_null())
        .then(middle + ' "' + pop.first.str.to_uppercase().str.slice(0, 3) + '"')
        .otherwise(middle)
    ).to_series()
    town = places.in_town
    ward = pl.Series(places.ward).cast(pl.Utf8)
    commiss = pl.Series((places.x * 3).astype(np.int64) + 1).cast(pl.Utf8)
    township = pl.Series(places.zip_area + 1).cast(pl.Utf8).str.zfill(2)
    has_mail = rng.random(n) < 0.04
    box = "PO BOX " + pl.Series(rng.integers(1, 9000, n)).cast(pl.Utf8)
    states = np.array(["NC", "VA", "NY", "SC", "FL", "PA", "OH", "GA", "NJ", "CA", "TX", ""])
    state_p = [0.55, 0.06, 0.06, 0.05, 0.05, 0.04, 0.04, 0.04, 0.03, 0.03, 0.03, 0.02]
    values = {
        "county_id": COUNTY_ID,
        "county_desc": COUNTY_NAME,
        "voter_reg_num": _reg_nums(pop.index),
        "ncid": cols.ids,
        "last_name": pop.last.str.to_uppercase(),
        "first_name": pop.first.str.to_uppercase(),
        "middle_name": middle,
        "name_suffix_lbl": pl.Series(pop.suffix),
        "status_cd": _codes(STATUS_NC, pop.status),
        "voter_status_desc": _codes(STATUS_NC_DESC, pop.status),
        "reason_cd": _codes(REASON_NC, pop.status),
        "voter_status_reason_desc": _codes(REASON_NC_DESC, pop.status),
        "res_street_address": _nc_address(rng, pop, cols),
        "res_city_desc": cols.city,
        "state_cd": "NC",
        "zip_code": cols.zip,
        "mail_addr1": _maybe(has_mail, box),
        "mail_city": _maybe(has_mail, cols.city),
        "mail_state": _maybe(has_mail, pl.Series(["NC"] * n)),
        "mail_zipcode": _maybe(has_mail, cols.zip),
        "full_phone_number": cols.phone_nc,
        "confidential_ind": "N",
        "registr_dt": _dates(pop.registration, "%m/%d/%Y"),
        "race_code": _codes(RACE_NC, pop.race),
        "ethnic_code": _codes(ETHNIC_NC, pop.ethnicity),
        "party_cd": _codes(PARTY_NC, pop.party),
        "gender_code": _codes(GENDER_NC, pop.gender),
        "birth_year": birth_year,
        "age_at_year_end": as_of.year - birth_year,
        "birth_state": _codes(states, rng.choice(len(states), n, p=state_p)),
        "drivers_lic": _codes(np.array(["Y", "N"]), (rng.random(n) < 0.12).astype(np.int64)),
        "precinct_abbrv": cols.precinct,
        "precinct_desc": COUNTY_NAME + " " + cols.precinct,
        "municipality_abbrv": _maybe(town, pl.Series([MUNICIPALITY[0]] * n)),
        "municipality_desc": _maybe(town, pl.Series([MUNICIPALITY[1]] * n)),
        "ward_abbrv": _maybe(town, "W" + ward),
        "ward_desc": _maybe(town, "WARD " + ward),
        "cong_dist_abbrv": cols.cong,
        "super_court_abbrv": "15B",
        "judic_dist_abbrv": "15",
        "nc_senate_abbrv": cols.senate,
        "nc_house_abbrv": cols.house,
        "county_commiss_abbrv": commiss,
        "county_commiss_desc": "COMMISSIONER DIST " + commiss,
        "township_abbrv": "T" + township,
        "township_desc": "TOWNSHIP " + township,
        "school_dist_abbrv": _codes(np.array(["ACS", "HCS"]), town.astype(np.int64)),
        "school_dist_desc": _codes(np.array(["ALDER COUNTY SCHOOLS", "HARLOW CITY SCHOOLS"]),
                                   town.astype(np.int64)),
        "vtd_abbrv": cols.precinct,
        "vtd_desc": cols.precinct,
    }  # fmt: skip
    frame = pl.DataFrame({"_": np.zeros(n, dtype=np.int8)})
    return frame.select(
        (pl.lit(values[c]) if c in values else pl.lit(None, dtype=pl.Utf8)).alias(c)
        for c in NC_VOTER_COLUMNS
    )


def history_frames(
    elections: tuple[Election, ...],
    *,
    index: np.ndarray,
    ids: pl.Series,
    precinct: pl.Series,
    voted: np.ndarray,
    method: np.ndarray,
    ballot: np.ndarray,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(generic, nc) history frames: one row per True cell of the voter x election matrix."""
    who, which = np.nonzero(voted)  # voter-major, elections in date order
    method = method[who, which]
    party = ballot[who, which]
    new_labels = np.array([e.on.year >= 2024 for e in elections])[which]
    nc_method = np.where(new_labels, METHOD_NC_NEW[method], METHOD_NC_OLD[method])
    generic = pl.DataFrame(
        {
            "voter_id": ids.gather(who),
            "election_date": _codes(np.array([e.on.isoformat() for e in elections]), which),
            "election_type": _codes(np.array([e.kind for e in elections]), which),
            "method": _codes(METHOD_GENERIC, method),
            "party": _codes(PARTY_GENERIC, party),
            "voted": pl.Series(["yes"] * len(who), dtype=pl.Utf8),
        }
    )
    precinct = precinct.gather(who)
    nc = pl.DataFrame(
        {
            "county_id": [COUNTY_ID] * len(who),
            "county_desc": [COUNTY_NAME] * len(who),
            "voter_reg_num": _reg_nums(index[who]),
            "election_lbl": _codes(np.array([f"{e.on:%m/%d/%Y}" for e in elections]), which),
            "election_desc": _codes(np.array([e.label for e in elections]), which),
            "voting_method": pl.Series(nc_method),
            "voted_party_cd": _codes(PARTY_NC, party),
            "voted_party_desc": _codes(PARTY_NC_DESC, party),
            "pct_label": precinct,
            "pct_description": COUNTY_NAME + " " + precinct,
            "ncid": ids.gather(who),
            "voted_county_id": [COUNTY_ID] * len(who),
            "voted_county_desc": [COUNTY_NAME] * len(who),
            "vtd_label": precinct,
            "vtd_description": precinct,
        },
        schema=dict.fromkeys(NC_HISTORY_COLUMNS, pl.Utf8),
    )
    return generic, nc


def program_frames(
    cols: Columns, pop: Population, hist: History, support: Support, assigned_on: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    arm_names = np.array(ARMS)
    assigned = hist.arm >= 0
    assignments = pl.DataFrame(
        {
            "voter_id": cols.ids.filter(pl.Series(assigned)),
            "arm": pl.Series(arm_names[hist.arm[assigned]], dtype=pl.Utf8),
            "assigned_at": pl.Series(
                [assigned_on.isoformat()] * int(assigned.sum()), dtype=pl.Utf8
            ),
        }
    )
    truth = {
        "voter_id": cols.ids,
        "household_id": pl.Series(pop.household),
        "base_turnout_prob": _maybe(hist.eligible, pl.Series(np.round(hist.base_prob, 6))),
    }
    for j, variant in enumerate(VARIANTS):
        truth[f"true_effect_{variant}"] = _maybe(hist.eligible, pl.Series(hist.effects[:, j]))
    truth["assigned_arm"] = _maybe(assigned, pl.Series(arm_names[np.maximum(hist.arm, 0)]))
    truth["voted_outcome"] = _maybe(hist.eligible, pl.Series(hist.outcome.astype(np.int8)))
    truth["support_latent"] = pl.Series(np.round(support.latent, 6))
    for j in range(5):
        truth[f"p_support_{j + 1}"] = pl.Series(np.round(support.answer_probs[:, j], 6))
    truth["p_support"] = pl.Series(np.round(support.p_support, 6))
    return assignments, pl.DataFrame(truth)


def orphan_frames(
    rng: np.random.Generator, first_index: int, rows: int, elections, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """History rows of voters who are no longer in the file (moved away, died, were purged)."""
    people = max(1, rows // 2)
    key = rng.integers(0, people, rows) * len(elections) + rng.integers(0, len(elections), rows)
    key = np.unique(key)  # one row per voter and election
    index, which = first_index + key // len(elections), key % len(elections)
    n, shape = len(index), (len(index), len(elections))
    voted = np.zeros(shape, dtype=bool)
    voted[np.arange(n), which] = True
    return history_frames(
        elections,
        index=index,
        ids=voter_ids(index, seed),
        precinct=pl.Series(["P001"] * n),
        voted=voted,
        method=rng.integers(0, 3, shape).astype(np.int8),
        ballot=rng.integers(0, 3, shape).astype(np.int8),
    )


# Why a row says what it says, as a canvasser or a vendor would have noted it.
_NOTES = {
    ("door", "opted_out"): "do not contact",
    ("sms", "opted_out"): "STOP",
    ("email", "opted_out"): "unsubscribed",
    ("sms", "replied"): "replied to the text",
}


def contacts_frame(contacts: Contacts, ids: pl.Series, canvassers: pl.Series) -> pl.DataFrame:
    """The generic contacts layout (DESIGN §4.2); `ids` holds each row's voter id."""
    program = contacts.arm >= 0
    arm = _maybe(program, _codes(np.array(ARMS), np.maximum(contacts.arm, 0)))
    answered = contacts.answer > 0
    channel = _codes(np.array(CHANNELS), contacts.channel)
    result = _codes(np.array(RESULTS), contacts.result)
    seconds = contacts.day.astype(np.int64) * 86_400 + contacts.second
    frame = pl.DataFrame(
        {
            "voter_id": ids,
            "occurred_at": pl.from_epoch(pl.Series(seconds), time_unit="s").dt.strftime(
                "%Y-%m-%dT%H:%M:%S"
            ),
            "channel": channel,
            "result": result,
            "program": _maybe(program, pl.Series([PROGRAM_NAME] * len(contacts))),
            "arm": arm,
            "variant": _maybe(contacts.arm > 0, arm),
            "question": _maybe(answered, pl.Series([SUPPORT_QUESTION] * len(contacts))),
            "answer": _maybe(answered, pl.Series(contacts.answer).cast(pl.Utf8)),
            "canvasser": _maybe(
                contacts.canvasser >= 0, canvassers.gather(np.maximum(contacts.canvasser, 0))
            ),
        }
    )
    note = pl.lit(None, dtype=pl.Utf8)
    for (on, outcome), text in _NOTES.items():
        note = (
            pl.when((pl.col("channel") == on) & (pl.col("result") == outcome))
            .then(pl.lit(text))
            .otherwise(note)
        )
    return frame.with_columns(note.alias("note")).select(GENERIC_CONTACT_COLUMNS)
