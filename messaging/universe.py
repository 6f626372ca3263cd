"""A program's universe: its voters selected in one set-based query and read as columns.

Filters on voter fields, the latest complete scoring run's scores, consent on the program's
channel and contact history all run in the database (never a query per voter); the rows come back
through COPY into polars, and leave as numpy columns with each voter's randomized unit (household,
phone or address) and stratum (precinct x turnout band) coded as integers.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
import polars as pl
from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, ExtractYear
from django.utils import timezone

from messaging.models import ProgramDesign, ProgramStatus
from messaging.program_specs import DISTRICTS, Universe
from scoring.models import ScoringRun
from voters.models import Assignment, Channel, ContactAttempt, Voter

TURNOUT_BANDS = 5  # strata: precinct x fifths of the turnout score (and "unscored")
READ_CHUNK = 20_000
# Programs whose voters another program leaves alone by default.
LIVE_STATUSES = (ProgramStatus.COMMITTED, ProgramStatus.PAUSED)


@dataclass
class UniverseRows:
    """The universe's voters, column by column, in voter-id order, and their units."""

    voter_pk: np.ndarray
    unit: np.ndarray  # per voter: its unit's index into unit_keys
    unit_keys: pl.Series  # the units' keys, sorted
    stratum: np.ndarray  # per voter: a code of its precinct and turnout band
    uplift: np.ndarray | None  # voters x K (NaN: unscored)
    backlash: np.ndarray
    counts: dict[str, int]  # voters, households, phones, emails, units


def universe_queryset(
    *, design: ProgramDesign, universe: Universe, run: ScoringRun | None
) -> models.QuerySet:
    """The universe's voters in one query: voter fields, scores, consent, contact history."""
    qs = Voter.objects.for_campaign(design.campaign_id).contactable(design.channel)
    qs = _voter_filters(qs, universe)
    if run is not None:
        qs = qs.annotate(
            score=models.FilteredRelation("scores", condition=models.Q(scores__run=run))
        )
        qs = _score_filters(qs, universe)
    if universe.not_contacted_days:
        since = timezone.now() - dt.timedelta(days=universe.not_contacted_days)
        recent = ContactAttempt.objects.filter(
            campaign_id=design.campaign_id, voter=models.OuterRef("pk"), occurred_at__gte=since
        )
        qs = qs.filter(~models.Exists(recent))
    if universe.exclude_running_programs:
        running = Assignment.objects.filter(
            voter=models.OuterRef("pk"), program__design__status__in=LIVE_STATUSES
        ).exclude(program_id=design.program_id)
        qs = qs.filter(~models.Exists(running))
    return qs


def _voter_filters(qs: models.QuerySet, universe: Universe) -> models.QuerySet:
    lists = {
        "status__in": universe.status,
        "party__in": universe.party,
        "gender__in": universe.gender,
        "precinct__in": universe.precincts,
        **{f"{d}__in": getattr(universe, d) for d in DISTRICTS},
    }
    qs = qs.filter(**{lookup: list(values) for lookup, values in lists.items() if values})
    if universe.voter_ids:
        qs = _in_voter_ids(qs, universe.voter_ids)
    if universe.age:
        # Age as this year minus the birth year, the precision a birth year allows.
        year = timezone.localdate().year
        youngest, oldest = universe.age
        born = Coalesce(ExtractYear("birth_date"), "birth_year", output_field=models.IntegerField())
        qs = qs.annotate(born=born).filter(born__gte=year - oldest, born__lte=year - youngest)
    return qs


def _in_voter_ids(qs: models.QuerySet, voter_ids: tuple[str, ...]) -> models.QuerySet:
    if connection.vendor != "postgresql":
        return qs.filter(voter_id__in=list(voter_ids))
    # One array parameter: an uploaded list can hold more ids than a query may have parameters.
    listed = RawSQL('"voters_voter"."voter_id" = ANY(%s)', (list(voter_ids),))
    return qs.alias(listed=models.ExpressionWrapper(listed, models.BooleanField())).filter(
        listed=True
    )


def _score_filters(qs: models.QuerySet, universe: Universe) -> models.QuerySet:
    for name in ("turnout", "support"):
        bounds = getattr(universe, name)
        if bounds:
            qs = qs.filter(**{f"score__{name}__gte": bounds[0], f"score__{name}__lte": bounds[1]})
    for i, (arm, (low, high)) in enumerate(sorted(universe.uplift.items())):
        alias = f"uplift_filter_{i}"
        qs = qs.alias(**{alias: Cast(KeyTextTransform(arm, "score__uplift"), models.FloatField())})
        qs = qs.filter(**{f"{alias}__gte": low, f"{alias}__lte": high})
    return qs


VOTER_COLUMNS = {
    "pk": pl.Int64,
    "household_id": pl.Int64,
    "phone": pl.Utf8,
    "email": pl.Utf8,
    "precinct": pl.Utf8,
}
SCORE_COLUMNS = {"turnout_score": pl.Float64, "backlash_flag": pl.Boolean}


def read_universe(
    queryset: models.QuerySet, channel: str, arms: list[str], *, with_uplift: bool
) -> UniverseRows:
    """The columns the draw needs, in one pass (uplift per arm extracted by the database)."""
    schema = dict(VOTER_COLUMNS)
    if with_uplift:
        uplift = {
            f"uplift_{i}": Cast(KeyTextTransform(arm, "score__uplift"), models.FloatField())
            for i, arm in enumerate(arms)
        }
        queryset = queryset.annotate(
            turnout_score=models.F("score__turnout"),
            backlash_flag=models.F("score__is_backlash"),
            **uplift,
        )
        schema |= SCORE_COLUMNS | dict.fromkeys(uplift, pl.Float64)
    frame = fetch_frame(queryset.order_by("pk").values_list(*schema), schema)
    return universe_rows(frame, channel, len(arms) if with_uplift else 0)


def fetch_frame(queryset: models.QuerySet, schema: dict) -> pl.DataFrame:
    """A values_list queryset as a data frame: on PostgreSQL through COPY, not row objects."""
    if connection.vendor != "postgresql":
        rows = list(queryset.iterator(chunk_size=READ_CHUNK))
        return pl.DataFrame(rows, schema=schema, orient="row")
    sql, params = queryset.query.sql_with_params()
    buffer = io.BytesIO()
    with transaction.atomic(), connection.cursor() as cursor:
        # JIT compiling this query (its joins, casts and anti-joins) took longer than running
        # it: 3 of 3 seconds at a million voters. LOCAL: it ends with the transaction.
        cursor.execute("SET LOCAL jit = off")
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for block in copy:
                buffer.write(block)
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    # CSV spells booleans t/f: read as text, then compared.
    as_read = {k: (pl.Utf8 if v == pl.Boolean else v) for k, v in schema.items()}
    buffer.seek(0)  # polars reads the buffer itself from here: no copy of its bytes
    frame = pl.read_csv(
        buffer, has_header=False, new_columns=list(schema), schema_overrides=as_read
    )
    booleans = [k for k, v in schema.items() if v == pl.Boolean]
    return frame.with_columns(pl.col(k) == "t" for k in booleans)


def universe_rows(frame: pl.DataFrame, channel: str, arms: int) -> UniverseRows:
    frame = frame.with_columns(
        pl.col("household_id").fill_null(0),
        pl.col("phone").fill_null(""),
        pl.col("email").fill_null("").str.strip_chars().str.to_lowercase(),
        pl.col("precinct").fill_null(""),
    )
    turnout = frame["turnout_score"] if arms else pl.Series([None] * len(frame), dtype=pl.Float64)
    frame = frame.with_columns(
        unit=unit_key(channel),
        stratum=pl.format("{}|{}", pl.col("precinct"), turnout_band(turnout)),
    )
    uplift = None
    if arms:
        uplift = frame.select(f"uplift_{i}" for i in range(arms)).to_numpy().astype(np.float64)
    # Dense ranks of the sorted keys: the same codes whatever order the rows came in.
    unit = (frame["unit"].rank("dense") - 1).cast(pl.Int64).to_numpy()
    unit_keys = frame["unit"].gather(a_row_of_each(unit))
    distinct = frame.select(
        households=pl.col("household_id").filter(pl.col("household_id") > 0).n_unique(),
        phones=pl.col("phone").filter(pl.col("phone") != "").n_unique(),
        emails=pl.col("email").filter(pl.col("email") != "").n_unique(),
    ).row(0, named=True)
    return UniverseRows(
        voter_pk=frame["pk"].to_numpy(),
        unit=unit,
        unit_keys=unit_keys,
        stratum=few_key_codes(frame["stratum"]),
        uplift=uplift,
        backlash=frame["backlash_flag"].fill_null(False).to_numpy() if arms else None,
        counts={"voters": len(frame), **distinct, "units": len(unit_keys)},
    )


def few_key_codes(keys: pl.Series) -> np.ndarray:
    """Dense ranks of keys that take few values (strata): each row looked up among the sorted
    distinct keys, ten times faster than sorting a million rows' strings to rank them."""
    return keys.cast(pl.Enum(keys.unique().sort())).to_physical().cast(pl.Int64).to_numpy()


def a_row_of_each(codes: np.ndarray) -> np.ndarray:
    """Per code 0..k-1, a row holding it: rows of one code hold one key, so any row will do."""
    rows = np.zeros(int(codes.max(initial=-1)) + 1, dtype=np.int64)
    rows[codes] = np.arange(len(codes))
    return rows


def unit_key(channel: str) -> pl.Expr:
    """What is randomized: the household at a door or mailbox, the number, the address."""
    if channel in (Channel.DOOR, Channel.MAIL):
        return (
            pl.when(pl.col("household_id") > 0)
            .then(pl.format("household:{}", pl.col("household_id")))
            .otherwise(pl.format("voter:{}", pl.col("pk")))
        )
    return pl.col("phone") if channel in (Channel.SMS, Channel.PHONE) else pl.col("email")


def turnout_band(turnout: pl.Series) -> pl.Series:
    """Fifths of the turnout score; unscored voters in a band of their own (-1)."""
    band = (turnout * TURNOUT_BANDS).floor().clip(0, TURNOUT_BANDS - 1).cast(pl.Int64)
    return band.fill_null(-1)
