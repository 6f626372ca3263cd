"""A program's universe: its voters selected in one set-based query, then read back in blocks.

Filters on voter fields, the latest complete scoring run's scores, consent on the program's
channel and contact history all run in the database (never a query per voter). The universe is
written once to a temporary table with each voter's randomized unit (household, phone or address)
and stratum (precinct x turnout band), sorted by stratum, unit and voter; the draw then reads it
a block of whole strata at a time (through COPY into polars on PostgreSQL), so its memory is a
block's, whatever the universe's size.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, ExtractYear
from django.utils import timezone

from messaging.models import ProgramDesign, ProgramStatus
from messaging.program_specs import DISTRICTS, Universe
from scoring.models import ScoringRun
from voters.models import Assignment, Channel, ContactAttempt, Voter

TURNOUT_BANDS = 5  # strata: precinct x fifths of the turnout score (and "unscored")
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


UNIVERSE_TABLE = "program_universe"
VOTERS_TABLE = "program_universe_voters"  # a step on the way
WORK_MEM = "128MB"  # for the commit's transaction only
# Voters read at a time (a block holds whole strata, so it may hold more: one stratum is a
# precinct's turnout band, a few thousand voters at most).
BLOCK_ROWS = 50_000
SCORED_COLUMNS = ("turnout", "backlash")
UNIT_COUNTS = {
    Channel.DOOR: "households", Channel.MAIL: "households", Channel.SMS: "phones",
    Channel.PHONE: "phones", Channel.EMAIL: "emails",
}  # fmt: skip


@dataclass
class UniverseBlock:
    """Voters of whole strata, in the table's order: stratum, then unit, then voter."""

    voter_pk: np.ndarray
    unit_key: pl.Series  # per voter: its unit's key
    stratum_key: pl.Series  # per voter: its unit's stratum
    backlash: np.ndarray
    uplift: np.ndarray | None  # voters x K (NaN: unscored)

    def __len__(self) -> int:
        return len(self.voter_pk)


class UniverseTable:
    """The universe in a temporary table of this connection, for the length of a `with` block.

    Use it inside a transaction (a commit's draw and its writes see one snapshot). Each voter's
    unit's stratum is its smallest kept member's (a household's members share a precinct; a
    phone shared across precincts needs one stratum, and any fixed rule will do).
    """

    def __init__(
        self,
        queryset: models.QuerySet,
        channel: str,
        arms: list[str],
        *,
        with_uplift: bool,
        exclude_backlash: bool = True,
    ) -> None:
        self.queryset = queryset
        self.channel = channel
        self.arms = arms if with_uplift else []
        self.with_uplift = with_uplift
        self.exclude_backlash = with_uplift and exclude_backlash
        self.postgres = connection.vendor == "postgresql"
        # Strings compare bytewise, the same order on every database and in numpy.
        self.collate = ' COLLATE "C"' if self.postgres else ""

    def __enter__(self) -> UniverseTable:
        with connection.cursor() as cursor:
            if self.postgres:
                # JIT compiling this query (its joins, casts and anti-joins) took longer than
                # running it; a grouping of a million units spilled to disk in the default
                # 4 MB. LOCAL: these settings end with the transaction.
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
                # The planner prices this query's per-row work (uplift out of JSON, keys built
                # from text) too low to run it in parallel; in parallel it takes 2/3 the time.
                cursor.execute("SET LOCAL parallel_setup_cost = 10")
                cursor.execute("SET LOCAL parallel_tuple_cost = 0.001")
            cursor.execute(f"DROP TABLE IF EXISTS {UNIVERSE_TABLE}")
            cursor.execute(f"DROP TABLE IF EXISTS {VOTERS_TABLE}")
            for sql, params in self._create_sql():
                cursor.execute(sql, params)
            cursor.execute(
                f"CREATE INDEX {UNIVERSE_TABLE}_stratum ON {UNIVERSE_TABLE} (stratum{self.collate})"
            )
            if self.postgres:
                cursor.execute(f"ANALYZE {UNIVERSE_TABLE}")
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is not None:
            # The transaction is rolled back, and the table's creation with it; a statement
            # here would fail in an aborted transaction and hide the error that ended it.
            return
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {UNIVERSE_TABLE}")

    # -- writing the table ---------------------------------------------------------------------

    def _create_sql(self) -> list[tuple[str, tuple]]:
        columns = ["pk", "household_id", "phone", "email", "precinct"]
        queryset = self.queryset
        if self.with_uplift:
            uplift = {
                f"uplift_{i}": Cast(KeyTextTransform(arm, "score__uplift"), models.FloatField())
                for i, arm in enumerate(self.arms)
            }
            queryset = queryset.annotate(
                turnout_score=models.F("score__turnout"),
                backlash_flag=models.F("score__is_backlash"),
                **uplift,
            )
            names = [*columns, "turnout_score", "backlash_flag", *uplift]
            columns += [*SCORED_COLUMNS, *(f"u{i}" for i in range(len(self.arms)))]
        else:
            names = list(columns)
        # Fields, then annotations: the order Django writes a values_list's columns in.
        inner, params = queryset.order_by().values_list(*names).query.sql_with_params()
        turnout = "q.turnout" if self.with_uplift else "NULL"
        kept_out = "COALESCE(q.backlash, FALSE)" if self.exclude_backlash else "FALSE"
        uplift_columns = "".join(f", u{i}" for i in range(len(self.arms)))
        # The voters first (a plan the database may run in parallel), then each unit's stratum
        # by grouping (a hash, not a sort of the universe), joined back. The table is then read
        # a range of strata at a time through its index, each block sorted there.
        c = self.collate
        voters = f"""
            CREATE TEMPORARY TABLE {VOTERS_TABLE} AS
            WITH q({", ".join(columns)}) AS ({inner})
            SELECT q.pk, q.household_id, q.phone, q.email, {self._unit_sql()} AS unit,
                   {_stratum_sql(turnout)} AS own_stratum, {kept_out} AS backlash{uplift_columns}
            FROM q
        """
        universe = f"""
            CREATE TEMPORARY TABLE {UNIVERSE_TABLE} AS
            SELECT v.pk, v.household_id, v.phone, v.email, v.unit, placed.stratum,
                   v.backlash{uplift_columns}
            FROM {VOTERS_TABLE} v JOIN (
                SELECT unit, COALESCE(
                    MIN(CASE WHEN NOT backlash THEN own_stratum{c} END), MIN(own_stratum{c})
                ) AS stratum
                FROM {VOTERS_TABLE} GROUP BY unit
            ) AS placed ON placed.unit = v.unit
        """
        return [(voters, params), (universe, ()), (f"DROP TABLE {VOTERS_TABLE}", ())]

    def _unit_sql(self) -> str:
        """What is randomized: the household at a door or mailbox, the number, the address."""
        if self.channel in (Channel.DOOR, Channel.MAIL):
            return (
                "CASE WHEN q.household_id > 0 THEN 'household:' || CAST(q.household_id AS TEXT) "
                "ELSE 'voter:' || CAST(q.pk AS TEXT) END"
            )
        if self.channel in (Channel.SMS, Channel.PHONE):
            return "COALESCE(q.phone, '')"
        return "LOWER(TRIM(COALESCE(q.email, '')))"

    # -- reading it back -----------------------------------------------------------------------

    @property
    def unit_count_name(self) -> str:
        """Which of households, phones and emails the units count (the others need counting)."""
        return UNIT_COUNTS[self.channel]

    def counts(self) -> dict[str, int]:
        """The distinct households, phones and emails the units do not count already (a block
        holds whole units, so the draw counts voters and units as it reads them)."""
        distinct = {
            "households": "CASE WHEN household_id > 0 THEN household_id END",
            "phones": "CASE WHEN phone <> '' THEN phone END",
            "emails": "CASE WHEN TRIM(email) <> '' THEN LOWER(TRIM(email)) END",
        }
        del distinct[self.unit_count_name]
        # Grouped in subqueries (hashed) rather than COUNT(DISTINCT ...) (sorted).
        counted = ", ".join(
            f"(SELECT COUNT(k) FROM (SELECT {expr} AS k FROM {UNIVERSE_TABLE} GROUP BY 1) g)"
            for expr in distinct.values()
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {counted}")
            return dict(zip(distinct, (int(n) for n in cursor.fetchone()), strict=True))

    def has_uplift(self) -> bool:
        """Whether any voter has a predicted uplift for any of the program's arms."""
        if not self.arms:
            return False
        known = " OR ".join(f"u{i} IS NOT NULL" for i in range(len(self.arms)))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {UNIVERSE_TABLE} WHERE {known} LIMIT 1")
            return cursor.fetchone() is not None

    def blocks(self, rows: int | None = None) -> Iterator[UniverseBlock]:
        """The universe a block of whole strata at a time (about `rows` voters), in order."""
        for first, last in self._block_ranges(rows or BLOCK_ROWS):
            yield self._read_block(first, last)

    def _block_ranges(self, rows: int) -> list[tuple[str, str]]:
        """Consecutive strata, about `rows` voters together: (first stratum, last stratum)."""
        c = self.collate
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT stratum{c}, COUNT(*) FROM {UNIVERSE_TABLE} GROUP BY 1 ORDER BY 1"
            )
            strata = cursor.fetchall()
        ranges: list[tuple[str, str]] = []
        held = 0
        for stratum, size in strata:
            if ranges and held + size <= rows:
                ranges[-1], held = (ranges[-1][0], stratum), held + size
            else:
                ranges.append((stratum, stratum))
                held = size
        return ranges

    def _read_block(self, first: str, last: str) -> UniverseBlock:
        uplift = [f"u{i}" for i in range(len(self.arms))]
        schema = {"pk": pl.Int64, "unit": pl.Utf8, "stratum": pl.Utf8, "backlash": pl.Utf8}
        schema |= dict.fromkeys(uplift, pl.Float64)
        c = self.collate
        sql = (
            f"SELECT {', '.join(schema)} FROM {UNIVERSE_TABLE} "
            f"WHERE stratum{c} BETWEEN %s AND %s ORDER BY stratum{c}, unit{c}, pk"
        )
        frame = self._fetch(sql, (first, last), schema)
        return UniverseBlock(
            voter_pk=frame["pk"].to_numpy(),
            unit_key=frame["unit"].fill_null(""),
            stratum_key=frame["stratum"].fill_null(""),
            # CSV spells booleans t/f, SQLite 1/0.
            backlash=frame["backlash"].is_in(["t", "1", "true"]).to_numpy(),
            uplift=frame.select(uplift).to_numpy().astype(np.float64) if uplift else None,
        )

    def _fetch(self, sql: str, params: tuple, schema: dict) -> pl.DataFrame:
        if not self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = [
                    (pk, unit, stratum, str(int(bool(backlash))), *rest)
                    for pk, unit, stratum, backlash, *rest in cursor.fetchall()
                ]
            return pl.DataFrame(rows, schema=schema, orient="row")
        buffer = io.BytesIO()
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
        ):
            for data in copy:
                buffer.write(data)
        buffer.seek(0)  # polars reads the buffer itself from here: no copy of its bytes
        return pl.read_csv(
            buffer, has_header=False, new_columns=list(schema), schema_overrides=schema,
        )  # fmt: skip


def _stratum_sql(turnout: str) -> str:
    """precinct|band, the band the fifth of the turnout score it falls in (-1: unscored)."""
    bands = " ".join(
        f"WHEN {turnout} < {(b + 1) / TURNOUT_BANDS} THEN '{b}'" for b in range(TURNOUT_BANDS - 1)
    )
    return (
        f"COALESCE(q.precinct, '') || '|' || "
        f"CASE WHEN {turnout} IS NULL THEN '-1' {bands} ELSE '{TURNOUT_BANDS - 1}' END"
    )
