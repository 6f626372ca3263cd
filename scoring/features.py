"""Per-voter features as of a date, built from the database in set-based queries.

`build_context` reads what is shared by every voter of a campaign once per run (the elections
before the date, precinct turnout and party shares, the support question); `build_features` then
turns one voter-id range into a numeric matrix with a fixed handful of queries, whatever its size,
so a scoring chunk of 20,000 voters costs the same number of round trips as one of 20.

As of a date means strictly before it: no vote, contact or answer on or after `as_of` is read.
Eligibility: an election a voter could not vote in (registered after it, or under 18 on its day)
is missing (NaN), not a skipped election, so a young voter is not mistaken for a habitual
non-voter.

What a label can cause is never a feature. Every model learns from a past outcome (who voted in
a past election, how a past program moved people) with features as of a day before it, but the
voter file is today's. A field that list maintenance sets *because* someone missed elections
(registration status: inactive, removed) can be caused by the very election used as the label,
and would teach the model that inactive voters do not vote because not voting made them
inactive. So status is not a feature, and household size counts every member on the file
whatever their status. Fields the label cannot cause stay: birth date, gender, party of
registration, registration date, address, precinct, and everything read from history, contacts
and answers strictly before the date.

Known limits: households and precincts are today's, not as they were on `as_of` (the voter file
keeps no address history). A state that records party by the primary ballot a voter last took
(Ohio) makes party a trace of later votes; there, party of registration is not what it says.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

from voters.models import ContactResult, Party, SurveyQuestion

# 2: no registration status, and households counted whatever their members' status (both can be
# caused by the label; see "What a label can cause" above).
FEATURE_SPEC_VERSION = "2"
LAST_N = 4
ELECTION_GROUPS = {
    "general": ("general",),
    "primary": ("primary", "presidential_primary"),
    "local": ("municipal", "special", "runoff", "other"),
}
GROUP_WORDS = {"general": "general elections", "primary": "primaries", "local": "local elections"}
PARTIES = ("dem", "rep", "una")
GENDERS = ("female", "male")


class FeatureSpecMismatch(ValueError):
    """A matrix built under one feature spec cannot be scored by a model trained on another."""


@dataclass(frozen=True)
class Feature:
    name: str
    # Plain words for a reason, given the voter's feature values by name.
    describe: Callable[[dict[str, float]], str]
    # The features `describe` reads (default: this one). Reasons are described once per distinct
    # combination of these values and cached, so this must name every value the words depend on.
    reads: tuple[str, ...] = ()

    @property
    def described_by(self) -> tuple[str, ...]:
        return self.reads or (self.name,)


@dataclass(frozen=True)
class FeatureSpec:
    version: str
    names: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"version": self.version, "names": list(self.names)}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(version=str(data["version"]), names=tuple(data["names"]))

    def check(self, other: FeatureSpec) -> None:
        if other != self:
            missing = sorted(set(self.names) - set(other.names))
            extra = sorted(set(other.names) - set(self.names))
            raise FeatureSpecMismatch(
                f"feature spec {other.version} does not match the model's {self.version}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unexpected {extra}" if extra else "")
                + ("; same names in another order" if not (missing or extra) else "")
            )


@dataclass
class FeatureMatrix:
    voter_pks: np.ndarray  # int64, ascending
    values: np.ndarray  # float32, n x len(spec.names); NaN = missing
    spec: FeatureSpec
    household_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def row(self, i: int) -> dict[str, float]:
        return dict(zip(self.spec.names, self.values[i].tolist(), strict=True))

    def view(self, i: int) -> RowView:
        """Row i read by feature name, without building a dict (what reasons read)."""
        return RowView(self.values[i], self.spec)


class RowView:
    """One voter's features by name; the `describe` functions of reasons read it like a dict."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: np.ndarray, spec: FeatureSpec):
        self._values = values
        self._index = COLUMN if spec.names == SPEC.names else _index_of(spec)

    def __getitem__(self, name: str) -> float:
        return float(self._values[self._index[name]])


def _index_of(spec: FeatureSpec) -> dict[str, int]:
    return {name: i for i, name in enumerate(spec.names)}


@dataclass(frozen=True)
class ElectionSlot:
    group: str
    index: int  # 1 = the most recent of its group before as_of
    election_id: int
    election_on: dt.date


@dataclass
class HouseholdFigures:
    """Households of more than one voter, as sorted arrays: a chunk's voters are looked up by
    sorted search, and a state's millions of households cost a few arrays, not a dict."""

    ids: np.ndarray  # int64, ascending
    members: np.ndarray  # int32
    votes: np.ndarray  # int32

    def of(self, household_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Members and votes of each household; a household not here (a voter alone, or no
        household) has 1 member and no votes of others."""
        if not len(self.ids):
            return np.ones(len(household_ids), np.int32), np.zeros(len(household_ids), np.int32)
        row, found = _rows_of(self.ids, household_ids)
        return np.where(found, self.members[row], 1), np.where(found, self.votes[row], 0)


@dataclass
class FeatureContext:
    """What every chunk of one campaign's run shares."""

    campaign_id: int
    as_of: dt.date
    slots: list[ElectionSlot]
    # precinct -> (turnout in the last general, dem share, rep share)
    precincts: dict[str | None, tuple[float, float, float]]
    support_question_id: int | None
    # Members of each household and the votes they cast in the recent generals; read once per
    # run, because a chunk's households reach beyond its voter-id range.
    households: HouseholdFigures

    @property
    def election_ids(self) -> list[int]:
        return [s.election_id for s in self.slots]


# -- the spec ---------------------------------------------------------------------------------


def _fmt_count(group: str) -> Callable[[dict[str, float]], str]:
    def describe(v: dict[str, float]) -> str:
        eligible = v[f"{group}_eligible"]
        if math.isnan(eligible) or eligible == 0:
            return f"not yet eligible in recent {GROUP_WORDS[group]}"
        return f"voted in {v[f'{group}_voted']:.0f} of the last {eligible:.0f} {GROUP_WORDS[group]}"

    return describe


def _fmt_slot(group: str, index: int) -> Callable[[dict[str, float]], str]:
    ordinal = {1: "the last", 2: "the 2nd-last", 3: "the 3rd-last", 4: "the 4th-last"}[index]
    noun = GROUP_WORDS[group][:-1] if group != "primary" else "primary"

    def describe(v: dict[str, float]) -> str:
        value = v[f"{group}_{index}"]
        if math.isnan(value):
            return f"not eligible in {ordinal} {noun}"
        return f"{'voted' if value else 'did not vote'} in {ordinal} {noun}"

    return describe


def _simple(template: str, name: str, missing: str) -> Callable[[dict[str, float]], str]:
    def describe(v: dict[str, float]) -> str:
        value = v[name]
        return missing if math.isnan(value) else template.format(value)

    return describe


def _ago(what: str, name: str, days_per_unit: float, missing: str) -> Callable[[dict], str]:
    """ "last voted 1 year ago", "last contacted 3 months ago": the largest unit that reads
    plainly, from a value in units of `days_per_unit` days."""

    def describe(v: dict[str, float]) -> str:
        value = v[name]
        if math.isnan(value):
            return missing
        days = value * days_per_unit
        # From a full year on in years, from two months in months, from two weeks in weeks.
        for unit, size, at_least in (("year", 365.25, 1), ("month", 30.44, 2), ("week", 7, 2)):
            if days >= size * at_least:
                count = round(days / size)
                return f"{what} {count} {unit}{'' if count == 1 else 's'} ago"
        count = round(days)
        return f"{what} {count} day{'' if count == 1 else 's'} ago"

    return describe


def _flag(yes: str, no: str, name: str) -> Callable[[dict[str, float]], str]:
    return lambda v: yes if v[name] == 1 else no


def _spec_features() -> list[Feature]:
    features = [
        Feature("age", _simple("age {:.0f}", "age", "age unknown")),
        *[
            Feature(f"gender_{g}", _flag(f"gender {g}", f"gender not {g}", f"gender_{g}"))
            for g in GENDERS
        ],
        *[
            Feature(
                f"party_{p}",
                _flag(
                    f"registered {Party(p).label}", f"not registered {Party(p).label}", f"party_{p}"
                ),
            )
            for p in PARTIES
        ],
        Feature(
            "tenure_years",
            _simple("registered {:.0f} years", "tenure_years", "registration date unknown"),
        ),
        Feature("household_size", _simple("{:.0f} voters in household", "household_size", "")),
        Feature("has_unit", _flag("lives in an apartment or unit", "lives in a house", "has_unit")),
        Feature(
            "household_others_general_rate",
            _simple(
                "household members voted in {:.0%} of recent generals",
                "household_others_general_rate",
                "lives alone or with new voters",
            ),
        ),
    ]
    for group in ELECTION_GROUPS:
        features += [Feature(f"{group}_{i}", _fmt_slot(group, i)) for i in range(1, LAST_N + 1)]
        counts = (f"{group}_voted", f"{group}_eligible")
        features += [Feature(name, _fmt_count(group), reads=counts) for name in counts]
    features += [
        Feature(
            "years_since_last_vote",
            _ago("last voted", "years_since_last_vote", 365.25, "never voted here"),
        ),
        Feature(
            "early_or_mail_share",
            _simple("voted early or by mail {:.0%} of the time", "early_or_mail_share", ""),
        ),
        Feature(
            "precinct_turnout",
            _simple("precinct turnout {:.0%} last general", "precinct_turnout", ""),
        ),
        Feature("precinct_dem_share", _simple("precinct {:.0%} DEM", "precinct_dem_share", "")),
        Feature("precinct_rep_share", _simple("precinct {:.0%} REP", "precinct_rep_share", "")),
        Feature(
            "contact_attempts", _simple("{:.0f} past contact attempts", "contact_attempts", "")
        ),
        Feature("contacts_reached", _simple("reached {:.0f} times before", "contacts_reached", "")),
        Feature(
            "days_since_contact",
            _ago("last contacted", "days_since_contact", 1, "never contacted"),
        ),
        Feature(
            "support_answer",
            _simple("last support ID {:.0f}", "support_answer", "no support ID"),
        ),
    ]
    return features


FEATURES: tuple[Feature, ...] = tuple(_spec_features())
SPEC = FeatureSpec(version=FEATURE_SPEC_VERSION, names=tuple(f.name for f in FEATURES))
COLUMN = {name: i for i, name in enumerate(SPEC.names)}
DESCRIBE = {f.name: f.describe for f in FEATURES}
DESCRIBED_BY = {f.name: f.described_by for f in FEATURES}


# -- context ----------------------------------------------------------------------------------


def build_context(*, campaign_id: int, as_of: dt.date) -> FeatureContext:
    """Elections before `as_of` (the last few per group) and campaign-wide precinct figures."""
    slots = _election_slots(campaign_id, as_of)
    last_general = next((s for s in slots if s.group == "general" and s.index == 1), None)
    support = (
        SurveyQuestion.objects.filter(campaign_id=campaign_id, slug=SurveyQuestion.SUPPORT_SLUG)
        .values_list("id", flat=True)
        .first()
    )
    return FeatureContext(
        campaign_id=campaign_id,
        as_of=as_of,
        slots=slots,
        precincts=_precinct_figures(campaign_id, last_general),
        support_question_id=support,
        households=_household_figures(campaign_id, [s for s in slots if s.group == "general"]),
    )


def _household_figures(campaign_id: int, generals: list[ElectionSlot]) -> HouseholdFigures:
    ids = [s.election_id for s in generals]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT v.household_id, COUNT(DISTINCT v.id), COUNT(r.id)
            FROM voters_voter v
            LEFT JOIN voters_voterecord r ON r.voter_id = v.id AND r.voted
                 AND r.election_id IN ({_marks(ids) if ids else "NULL"})
            WHERE v.campaign_id = %s AND v.household_id IS NOT NULL
            GROUP BY v.household_id
            HAVING COUNT(DISTINCT v.id) > 1
            """,
            [*ids, campaign_id],
        )
        figures = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 3)
    figures = figures[np.argsort(figures[:, 0])]
    members, votes = (np.ascontiguousarray(figures[:, j], dtype=np.int32) for j in (1, 2))
    return HouseholdFigures(np.ascontiguousarray(figures[:, 0]), members, votes)


def _election_slots(campaign_id: int, as_of: dt.date) -> list[ElectionSlot]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, election_on, election_type FROM campaign_election "
            "WHERE campaign_id = %s AND election_on < %s ORDER BY election_on DESC, id DESC",
            [campaign_id, as_of],
        )
        rows = cursor.fetchall()
    slots = []
    for group, types in ELECTION_GROUPS.items():
        picked = [r for r in rows if r[2] in types][:LAST_N]
        slots += [ElectionSlot(group, i + 1, r[0], _as_date(r[1])) for i, r in enumerate(picked)]
    return slots


def _precinct_figures(
    campaign_id: int, last_general: ElectionSlot | None
) -> dict[str | None, tuple[float, float, float]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT v.precinct, COUNT(*),
                   SUM(CASE WHEN v.party = 'dem' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN v.party = 'rep' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN r.id IS NOT NULL THEN 1 ELSE 0 END)
            FROM voters_voter v
            LEFT JOIN voters_voterecord r
                   ON r.voter_id = v.id AND r.election_id = %s AND r.voted
            WHERE v.campaign_id = %s
            GROUP BY v.precinct
            """,
            [last_general.election_id if last_general else -1, campaign_id],
        )
        rows = cursor.fetchall()
    return {
        precinct: (voted / total if last_general else math.nan, dem / total, rep / total)
        for precinct, total, dem, rep, voted in rows
    }


# -- the matrix -------------------------------------------------------------------------------


def build_features(
    context: FeatureContext, *, pk_range: tuple[int, int] | None = None
) -> FeatureMatrix:
    """The matrix of the campaign's voters with pk in [lo, hi] (all when None) who were
    registered by `as_of` (or whose registration date is unknown)."""
    voters = _voters(context, pk_range)
    n = len(voters["pk"])
    values = np.full((n, len(SPEC.names)), np.nan, dtype=np.float32)
    if n == 0:
        return FeatureMatrix(np.zeros(0, dtype=np.int64), values, SPEC)
    index = {pk: i for i, pk in enumerate(voters["pk"].tolist())}
    _demographics(values, voters, context.as_of)
    voted, eligible, early = _history(context.slots, voters)
    _history_features(values, voted, eligible, early, context)
    _household_features(values, context, voters)
    _precinct_features(values, voters, context)
    _contact_features(values, context, voters["pk"], pk_range)
    _support_features(values, context, index, pk_range)
    return FeatureMatrix(voters["pk"], values, SPEC, voters["household"])


@dataclass(frozen=True)
class ReportColumns:
    """The experiment report's few columns of the matrix, for the same voters and with the same
    values as `build_features` gives them."""

    voter_pks: np.ndarray  # int64, ascending
    household_ids: np.ndarray  # int64, 0 = none
    age: np.ndarray  # float32, the matrix's "age"
    general_voted: np.ndarray  # float32, the matrix's "general_voted"


def report_columns(*, campaign_id: int, as_of: dt.date, program_id: int) -> ReportColumns:
    """Age and generals voted in (of the last four) of the program's voters registered by
    `as_of`: what the experiment report bands by, without the rest of the matrix.

    The report used to build the whole matrix, and with it the campaign-wide household and
    precinct figures, contacts and answers it never reads: most of its 1.5-2.6 s on the demo
    county. The two columns are computed by the same functions from the same numbers, so its
    figures do not change; the dates come out of the database as numbers, so 50,000 of them are
    not parsed one by one in Python.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {_DATE_NUMBERS[connection.vendor == 'postgresql']}, birth_year, "
            "household_id FROM voters_voter WHERE campaign_id = %s "
            "AND (registered_on IS NULL OR registered_on <= %s) "
            "AND id IN (SELECT voter_id FROM voters_assignment WHERE program_id = %s) ORDER BY id",
            [campaign_id, as_of, program_id],
        )
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    pks, year_of_date, month_day, registered, birth_year, households = columns
    voters = {
        "pk": np.array(pks, dtype=np.int64),
        "birth_year_of_date": np.array(year_of_date, dtype=np.float64),  # None becomes NaN
        "birth_month_day": np.nan_to_num(np.array(month_day, dtype=np.float64)).astype(np.int64),
        "birth_year": np.array(birth_year, dtype=np.float64),
        "registered": np.array(registered, dtype=np.float64),
    }
    generals = [s for s in _election_slots(campaign_id, as_of) if s.group == "general"]
    voted, eligible, _ = _history(generals, voters) if rows else (np.zeros((0, 0)),) * 3
    return ReportColumns(
        voter_pks=voters["pk"],
        household_ids=np.array([h or 0 for h in households], dtype=np.int64),
        age=ages_on(voters, as_of).astype(np.float32),
        # As `_history_features` sums it: a recorded vote makes the voter eligible for it.
        general_voted=(voted * eligible).sum(axis=1).astype(np.float32),
    )


# Birth year, birth month * 100 + day, and the registration date's proleptic ordinal (what
# `date.toordinal()` gives): by SQLite, and by PostgreSQL.
_DATE_NUMBERS = {
    False: "CAST(strftime('%%Y', birth_date) AS INTEGER), "
    "CAST(strftime('%%m%%d', birth_date) AS INTEGER), "
    "CAST(julianday(registered_on) - 1721424.5 AS INTEGER)",
    True: "EXTRACT(YEAR FROM birth_date)::int, "
    "(EXTRACT(MONTH FROM birth_date) * 100 + EXTRACT(DAY FROM birth_date))::int, "
    "registered_on - DATE '0001-01-01' + 1",
}


def _birth_and_registration(pks, birth_dates, birth_years, registered_on) -> dict[str, np.ndarray]:
    """The voter columns that ages and eligibility are computed from, as numbers."""
    births = [_as_date(d) for d in birth_dates]
    registered = [_as_date(d) for d in registered_on]
    return {
        "pk": np.array(pks, dtype=np.int64),
        # Dates as numbers, so ages and eligibility are computed for a whole chunk at once.
        "birth_year_of_date": np.array([d.year if d else np.nan for d in births], dtype=np.float64),
        "birth_month_day": np.array(
            [d.month * 100 + d.day if d else 0 for d in births], dtype=np.int64
        ),
        "birth_year": np.array([y if y is not None else np.nan for y in birth_years], np.float64),
        "registered": np.array(
            [d.toordinal() if d else np.nan for d in registered], dtype=np.float64
        ),
    }


def _voters(context: FeatureContext, pk_range: tuple[int, int] | None) -> dict[str, np.ndarray]:
    sql = (
        "SELECT id, birth_date, birth_year, gender, party, registered_on, household_id, precinct, "
        "unit FROM voters_voter WHERE campaign_id = %s "
        "AND (registered_on IS NULL OR registered_on <= %s)"
    )
    params: list = [context.campaign_id, context.as_of]
    sql, params = _in_range(sql, params, "id", pk_range)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY id", params)
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 9
    return {
        **_birth_and_registration(columns[0], columns[1], columns[2], columns[5]),
        "gender": np.array(columns[3], dtype=object),
        "party": np.array(columns[4], dtype=object),
        "household": np.array([h or 0 for h in columns[6]], dtype=np.int64),
        "precinct": np.array(columns[7], dtype=object),
        "has_unit": np.array([bool(u and u.strip()) for u in columns[8]], dtype=bool),
    }


def _in_range(sql: str, params: list, column: str, pk_range: tuple[int, int] | None):
    if pk_range is None:
        return sql, params
    return f"{sql} AND {column} BETWEEN %s AND %s", [*params, pk_range[0], pk_range[1]]


def _demographics(values: np.ndarray, voters: dict[str, np.ndarray], as_of: dt.date) -> None:
    values[:, COLUMN["age"]] = ages_on(voters, as_of)
    for g in GENDERS:
        values[:, COLUMN[f"gender_{g}"]] = voters["gender"] == g
    for p in PARTIES:
        values[:, COLUMN[f"party_{p}"]] = voters["party"] == p
    values[:, COLUMN["tenure_years"]] = (as_of.toordinal() - voters["registered"]) / 365.25
    values[:, COLUMN["has_unit"]] = voters["has_unit"]


def _history(slots: list[ElectionSlot], voters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """voted / eligible / early-or-mail, voters x slots (0/1)."""
    n = len(voters["pk"])
    voted = np.zeros((n, len(slots)), dtype=np.float32)
    early = np.zeros((n, len(slots)), dtype=np.float32)
    eligible = np.ones((n, len(slots)), dtype=bool)
    for j, slot in enumerate(slots):
        eligible[:, j] = eligible_on(voters, slot.election_on)
    if not slots:
        return voted, eligible, early
    pks = voters["pk"]
    election_ids = np.array([s.election_id for s in slots], dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT voter_id, election_id, "
            "CASE WHEN method IN ('early', 'mail') THEN 1 ELSE 0 END FROM voters_voterecord "
            f"WHERE voter_id BETWEEN %s AND %s AND voted AND election_id IN ({_marks(slots)})",
            [int(pks[0]), int(pks[-1]), *election_ids.tolist()],
        )
        records = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 3)
    # Rows and columns found by sorted search, not per record: a chunk has 100,000 of them.
    row, found = _rows_of(pks, records[:, 0])
    by_id = np.argsort(election_ids)
    column = by_id[np.searchsorted(election_ids[by_id], records[:, 1])]
    voted[row[found], column[found]] = 1
    early[row[found], column[found]] = records[found, 2]
    # A recorded vote proves eligibility whatever the file's dates say.
    eligible |= voted.astype(bool)
    return voted, eligible, early


def _history_features(values, voted, eligible, early, context: FeatureContext) -> None:
    for j, slot in enumerate(context.slots):
        values[:, COLUMN[f"{slot.group}_{slot.index}"]] = np.where(
            eligible[:, j], voted[:, j], np.nan
        )
    for group in ELECTION_GROUPS:
        cols = [j for j, s in enumerate(context.slots) if s.group == group]
        values[:, COLUMN[f"{group}_voted"]] = (voted[:, cols] * eligible[:, cols]).sum(axis=1)
        values[:, COLUMN[f"{group}_eligible"]] = eligible[:, cols].sum(axis=1)
    years_ago = np.array(
        [(context.as_of - s.election_on).days / 365.25 for s in context.slots], dtype=np.float32
    )
    if len(years_ago):
        since = np.where(voted.astype(bool), years_ago[None, :], np.inf).min(axis=1)
        values[:, COLUMN["years_since_last_vote"]] = np.where(np.isinf(since), np.nan, since)
    total = voted.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values[:, COLUMN["early_or_mail_share"]] = np.where(
            total > 0, early.sum(axis=1) / total, np.nan
        )


def _household_features(values, context, voters) -> None:
    """Household size and the other members' turnout in the recent generals."""
    generals = [s.election_id for s in context.slots if s.group == "general"]
    own = values[:, [COLUMN[f"general_{i}"] for i in range(1, LAST_N + 1)]]
    own_votes = np.nan_to_num(own).sum(axis=1)
    size, votes = (a.astype(np.float32) for a in context.households.of(voters["household"]))
    values[:, COLUMN["household_size"]] = size
    slots = max(len(generals), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        others = (votes - own_votes) / ((size - 1) * slots)
    values[:, COLUMN["household_others_general_rate"]] = np.where(size > 1, others, np.nan)


def _precinct_features(values, voters, context: FeatureContext) -> None:
    missing = (math.nan, math.nan, math.nan)
    figures = np.array([context.precincts.get(p, missing) for p in voters["precinct"]])
    values[:, COLUMN["precinct_turnout"]] = figures[:, 0]
    values[:, COLUMN["precinct_dem_share"]] = figures[:, 1]
    values[:, COLUMN["precinct_rep_share"]] = figures[:, 2]


def _contact_features(values, context, pks, pk_range) -> None:
    # Days since the last contact come out of the database as a fractional day count, so a chunk's
    # 15,000 timestamps are neither parsed nor looped over in Python.
    start = _start_of(context.as_of)
    start_days = start.timestamp() / 86400
    if connection.vendor == "postgresql":
        last = "EXTRACT(EPOCH FROM MAX(occurred_at)) / 86400.0"
    else:  # Julian days count from 4713 BC; the Unix epoch is Julian day 2440587.5.
        last, start_days = "julianday(MAX(occurred_at))", start_days + 2440587.5
    sql = (
        "SELECT voter_id, COUNT(*), SUM(CASE WHEN result = %s THEN 1 ELSE 0 END), "
        f"{last} FROM voters_contactattempt WHERE campaign_id = %s AND occurred_at < %s"
    )
    params = [ContactResult.CONTACTED, context.campaign_id, start]
    sql, params = _in_range(sql, params, "voter_id", pk_range)
    values[:, COLUMN["contact_attempts"]] = 0
    values[:, COLUMN["contacts_reached"]] = 0
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY voter_id", params)
        rows = cursor.fetchall()
    if not rows:
        return
    figures = np.array(rows, dtype=np.float64)
    row, found = _rows_of(pks, figures[:, 0].astype(np.int64))
    row, figures = row[found], figures[found]
    values[row, COLUMN["contact_attempts"]] = figures[:, 1]
    values[row, COLUMN["contacts_reached"]] = figures[:, 2]
    values[row, COLUMN["days_since_contact"]] = np.floor(start_days - figures[:, 3])


def _support_features(values, context, index, pk_range) -> None:
    if context.support_question_id is None:
        return
    sql = (
        "SELECT r.voter_id, o.code FROM voters_surveyresponse r "
        "JOIN voters_surveyoption o ON o.id = r.option_id "
        "WHERE r.question_id = %s AND r.answered_at < %s"
    )
    params = [context.support_question_id, _start_of(context.as_of)]
    sql, params = _in_range(sql, params, "r.voter_id", pk_range)
    with connection.cursor() as cursor:
        # The latest answer wins: rows come oldest first and overwrite.
        cursor.execute(sql + " ORDER BY r.answered_at, r.id", params)
        for voter_id, code in cursor.fetchall():
            i = index.get(voter_id)
            if i is not None and code.isdigit():
                values[i, COLUMN["support_answer"]] = int(code)


# -- small helpers ----------------------------------------------------------------------------


def _rows_of(pks: np.ndarray, voter_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each voter id's row in the ascending `pks`, and whether it is there at all (a voter
    registered after the as-of date has records but no row)."""
    if not len(pks):
        return np.zeros(len(voter_ids), dtype=np.int64), np.zeros(len(voter_ids), dtype=bool)
    row = np.minimum(np.searchsorted(pks, voter_ids), len(pks) - 1)
    return row, pks[row] == voter_ids


def _marks(items) -> str:
    return ", ".join(["%s"] * len(items))


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite returns text


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def ages_on(voters: dict[str, np.ndarray], day: dt.date) -> np.ndarray:
    """Age in whole years on `day` from the birth date; from the birth year alone, born mid-year
    on average; NaN when neither is known."""
    before_birthday = (day.month * 100 + day.day) < voters["birth_month_day"]
    from_date = day.year - voters["birth_year_of_date"] - before_birthday
    from_year = day.year - voters["birth_year"] - 0.5
    return np.where(np.isnan(voters["birth_year_of_date"]), from_year, from_date)


def eligible_on(voters: dict[str, np.ndarray], day: dt.date) -> np.ndarray:
    """Could each voter vote on `day`: registered by then (same-day registration counts) and 18."""
    registered = voters["registered"]
    in_time = np.isnan(registered) | (registered <= day.toordinal())
    age = ages_on(voters, day)
    return in_time & (np.isnan(age) | (age >= 18))
