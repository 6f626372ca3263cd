"""Programs: create from a spec, preview, commit (the randomized assignment), pause, cancel.

Every write to a program's design goes through here. The program, its arms and its assignments
are `voters` rows (scoring reads them); the design on top (`ProgramDesign`, `ArmVariant`) is
messaging's. A preview and a commit run the same computation: select the universe in one query,
draw with `messaging.randomization` (pure numpy), and (commit only) write the assignments with
COPY in the same transaction that marks the program committed, so a commit is all or nothing and
happens once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import polars as pl
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, ExtractYear
from django.utils import timezone

from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from messaging.models import ArmVariant, MessageVariant, ProgramDesign, ProgramStatus
from messaging.program_specs import DISTRICTS, ProgramSpec, SpecError, Universe, parse_universe
from messaging.randomization import (
    OUT,
    PERSONALIZED,
    Choice,
    Design,
    Draw,
    draw_program,
    unit_uplift,
)
from messaging.services import mark_variant_used
from scoring.models import ScoringRun
from voters.models import Assignment, Channel, ContactAttempt, Program, ProgramArm, Voter

logger = logging.getLogger(__name__)

CONTROL_ARM = "control"
TURNOUT_BANDS = 5  # strata: precinct x fifths of the turnout score (and "unscored")
READ_CHUNK = 20_000
SQLITE_BATCH = 5_000
LIVE_STATUSES = (ProgramStatus.COMMITTED, ProgramStatus.PAUSED)


class ProgramStateError(Exception):
    """The program's status does not allow this (a second commit, resuming a cancelled one)."""


# --------------------------------------------------------------------------------------------
# Create
# --------------------------------------------------------------------------------------------


def create_program(
    *, campaign: Campaign, spec: ProgramSpec, by: AbstractBaseUser | None = None
) -> ProgramDesign:
    """A draft program: the voters' Program and arms, and the design on top (SpecError if bad).

    Each arm pins the current version of the variant of its name; a commit re-pins the version
    current then, so edits made between creating and committing go out.
    """
    with transaction.atomic():
        variants = check_program_spec(campaign=campaign, spec=spec)
        program = Program.objects.create(
            campaign=campaign, name=spec.name, description=spec.description
        )
        ProgramArm.objects.create(program=program, name=CONTROL_ARM, is_control=True)
        design = ProgramDesign.objects.create(
            program=program,
            campaign=campaign,
            channel=spec.channel,
            policy=spec.policy,
            universe=spec.universe.as_json(),
            control_share=spec.control_share,
            exploration_share=spec.exploration_share,
            budget=spec.budget,
            seed=spec.seed if spec.seed is not None else secrets.randbits(62),
            created_by=_user(by),
        )
        for position, variant in enumerate(variants, start=1):
            arm = ProgramArm.objects.create(program=program, name=variant.name)
            ArmVariant.objects.create(design=design, arm=arm, variant=variant, position=position)
    logger.info("program %s created: campaign=%s", program.pk, campaign.pk)
    return design


def check_program_spec(*, campaign: Campaign, spec: ProgramSpec) -> list[MessageVariant]:
    """What the spec names exists in the campaign: a free program name, its arms' variants of
    the program's channel (SpecError naming the field otherwise). Returns the variants."""
    if Program.objects.filter(campaign=campaign, name=spec.name).exists():
        raise SpecError("name", f"this campaign already has a program named {spec.name!r}")
    return _current_variants(campaign, spec.arms, spec.channel)


def _current_variants(
    campaign: Campaign, names: Iterable[str], channel: str
) -> list[MessageVariant]:
    found = {
        v.name: v
        for v in MessageVariant.objects.current().filter(campaign=campaign, name__in=list(names))
    }
    variants = []
    for name in names:
        variant = found.get(name)
        if variant is None:
            raise SpecError("arms", f"no message variant named {name!r} in this campaign")
        if variant.channel != channel:
            raise SpecError(
                "arms", f"{name!r} is a {variant.channel} variant; the program is {channel}"
            )
        variants.append(variant)
    return variants


def _user(by: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return by if by is not None and by.is_authenticated else None


# --------------------------------------------------------------------------------------------
# The universe and the draw (what preview and commit share)
# --------------------------------------------------------------------------------------------


@dataclass
class UniverseRows:
    """The universe's voters, column by column, in voter-id order, and their units."""

    voter_pk: np.ndarray
    unit: np.ndarray  # per voter: its unit's index into unit_keys
    unit_keys: np.ndarray  # the units' keys, sorted
    stratum: np.ndarray  # per voter: a code of its precinct and turnout band
    uplift: np.ndarray | None  # voters x K (NaN: unscored)
    backlash: np.ndarray
    counts: dict[str, int]  # voters, households, phones, emails, units


@dataclass
class Plan:
    design: ProgramDesign
    arm_names: list[str]  # control first, then arms 1..K
    rows: UniverseRows
    draw: Draw
    run: ScoringRun | None
    expected_net_votes: float | None

    def summary(self) -> dict:
        draw = self.draw
        voter_arm = draw.voter_arm()
        unit_arm = draw.arm
        return {
            "universe": dict(self.rows.counts),
            "left_out": {
                "backlash_voters": draw.backlash_voters,
                "left_alone_units": draw.left_alone,
                "over_budget_units": draw.over_budget,
            },
            "arms": [
                {
                    "arm": name,
                    "units": int((unit_arm == k).sum()),
                    "voters": int((voter_arm == k).sum()),
                }
                for k, name in enumerate(self.arm_names)
            ],
            "expected_net_votes": self.expected_net_votes,
            "policy": self.design.policy,
            "seed": self.design.seed,
            "scoring_run": self.run.pk if self.run else None,
        }


def plan_program(*, design: ProgramDesign) -> Plan:
    """The universe selected and drawn, nothing written (SpecError when it cannot be)."""
    arm_names = _arm_names(design)
    universe = parse_universe(design.universe, tuple(arm_names[1:]))
    run = _latest_run(design.campaign_id)
    if run is None and (universe.needs_scores or design.policy == PERSONALIZED):
        raise SpecError("universe", "needs scores, but the campaign has no complete scoring run")
    queryset = universe_queryset(design=design, universe=universe, run=run)
    rows = read_universe(queryset, design.channel, arm_names[1:], with_uplift=run is not None)
    choice = _choice(design, run, arm_names) if design.policy == PERSONALIZED else None
    uplift = rows.uplift if run is not None else None
    draw = draw_program(
        unit=rows.unit,
        stratum=rows.stratum,
        design=design_of(design),
        uplift=uplift,
        backlash=rows.backlash if universe.exclude_backlash and run is not None else None,
        choice=choice,
    )
    summed = unit_uplift(uplift, draw.voter_unit, len(draw.keys), len(arm_names) - 1)
    return Plan(design, arm_names, rows, draw, run, draw.expected_net_votes(summed))


def design_of(design: ProgramDesign) -> Design:
    return Design(
        arms=design.arm_variants.count(),
        control_share=design.control_share,
        policy=design.policy,
        exploration_share=design.exploration_share,
        budget=design.budget,
        seed=design.seed,
    )


def _arm_names(design: ProgramDesign) -> list[str]:
    arms = design.arm_variants.select_related("arm").order_by("position")
    return [CONTROL_ARM, *(pin.arm.name for pin in arms)]


def _latest_run(campaign_id: int) -> ScoringRun | None:
    return (
        ScoringRun.objects.complete()
        .filter(campaign_id=campaign_id)
        .select_related("persuasion_model")
        .order_by("-finished_at")
        .first()
    )


def _choice(design: ProgramDesign, run: ScoringRun, arm_names: list[str]) -> Choice:
    model = run.persuasion_model
    if model is None:
        raise SpecError("policy", "personalized needs an approved persuasion model's scores")
    metrics = model.metrics or {}
    known = metrics.get("arms") or {}
    unknown = [name for name in arm_names[1:] if known and name not in known]
    if unknown:
        raise SpecError(
            "arms",
            f"the persuasion model {model.pk} predicts no uplift for {', '.join(unknown)}: "
            "a personalized program's arms are the model's",
        )
    best = metrics.get("best_single_arm")
    # The model's best single arm when it is one of the program's; else the program's first.
    default = arm_names.index(best) if best in arm_names[1:] else 1
    margin = metrics.get("margin")
    return Choice(default_arm=default, margin=np.inf if margin is None else float(margin))


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
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
    ):
        for block in copy:
            buffer.write(block)
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    # CSV spells booleans t/f: read as text, then compared.
    as_read = {k: (pl.Utf8 if v == pl.Boolean else v) for k, v in schema.items()}
    frame = pl.read_csv(
        buffer.getvalue(), has_header=False, new_columns=list(schema), schema_overrides=as_read
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
    unit_keys = frame["unit"].unique().sort()
    uplift = None
    if arms:
        uplift = frame.select(f"uplift_{i}" for i in range(arms)).to_numpy().astype(np.float64)
    return UniverseRows(
        voter_pk=frame["pk"].to_numpy(),
        # Dense ranks of the sorted keys: the same codes whatever order the rows came in.
        unit=(frame["unit"].rank("dense") - 1).cast(pl.Int64).to_numpy(),
        unit_keys=unit_keys.to_numpy(),
        stratum=(frame["stratum"].rank("dense") - 1).cast(pl.Int64).to_numpy(),
        uplift=uplift,
        backlash=frame["backlash_flag"].fill_null(False).to_numpy() if arms else None,
        counts={
            "voters": len(frame),
            "households": frame.filter(pl.col("household_id") > 0)["household_id"].n_unique(),
            "phones": frame.filter(pl.col("phone") != "")["phone"].n_unique(),
            "emails": frame.filter(pl.col("email") != "")["email"].n_unique(),
            "units": len(unit_keys),
        },
    )


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


# --------------------------------------------------------------------------------------------
# Preview and commit
# --------------------------------------------------------------------------------------------


def preview_program(*, design: ProgramDesign) -> dict:
    """Counts in the universe and per arm after the draw, and expected net votes; no writes."""
    return plan_program(design=design).summary()


def commit_program(
    *, design: ProgramDesign, by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> ProgramDesign:
    """Draw and write the assignments, in one transaction, once (ProgramStateError after)."""
    with transaction.atomic():
        design = (
            ProgramDesign.objects.select_for_update(of=("self",))
            .select_related("program", "campaign")
            .get(pk=design.pk)
        )
        if design.status != ProgramStatus.DRAFT:
            raise ProgramStateError(
                f"program {design.program.name!r} is {design.status}: a program is committed once"
            )
        plan = plan_program(design=design)
        if not (plan.draw.arm != OUT).any():
            raise SpecError("universe", "no voter is left to assign: nothing to commit")
        _pin_current_versions(design)
        now = timezone.now()
        written = write_assignments(plan, at=now)
        design.status = ProgramStatus.COMMITTED
        design.summary = plan.summary()
        design.scoring_run = plan.run
        design.persuasion_model = plan.run.persuasion_model if plan.run else None
        design.committed_by = _user(by)
        design.committed_at = design.status_changed_at = now
        design.save()
        record_audit_event(
            action=AuditAction.PROGRAM_COMMIT,
            campaign=design.campaign_id,
            user=by,
            obj=design.program,
            row_count=written,
            client_ip=client_ip,
            detail={"seed": design.seed, "policy": design.policy},
        )
    logger.info("program %s committed: %s assignments", design.program_id, written)
    return design


def _pin_current_versions(design: ProgramDesign) -> None:
    pins = list(design.arm_variants.select_related("variant"))
    current = {
        v.name: v
        for v in MessageVariant.objects.current().filter(
            campaign_id=design.campaign_id, name__in=[p.variant.name for p in pins]
        )
    }
    for pin in pins:
        variant = current.get(pin.variant.name, pin.variant)
        if variant.pk != pin.variant_id:
            pin.variant = variant
            pin.save(update_fields=["variant"])
        mark_variant_used(variant=variant)


ASSIGNMENT_COLUMNS = (
    "campaign_id", "program_id", "arm_id", "voter_id", "assigned_at", "propensity",
    "propensities", "unit", "created_at",
)  # fmt: skip


def write_assignments(plan: Plan, *, at: dt.datetime) -> int:
    """One assignment per voter drawn into an arm: COPY on PostgreSQL, batches elsewhere."""
    frame = assignment_frame(plan, _arm_ids(plan.design, plan.arm_names), at)
    if connection.vendor != "postgresql":
        return _bulk_create(frame)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY voters_assignment ({', '.join(ASSIGNMENT_COLUMNS)}) FROM STDIN (FORMAT csv)"
        ) as copy,
    ):
        copy.write(buffer.getbuffer())
    return len(frame)


def assignment_frame(plan: Plan, arm_ids: list[int], at: dt.datetime) -> pl.DataFrame:
    """The assignment rows, column by column (no object per row)."""
    draw = plan.draw
    voters = np.flatnonzero(draw.voter_unit >= 0)
    units = draw.voter_unit[voters]
    drawn = draw.arm[units] != OUT
    voters, units = voters[drawn], units[drawn]
    # Units with the same policy arm share one propensity vector: encode each vector once.
    matrix = draw.propensities()
    policies = draw.policy_arm[units]
    vectors = {
        int(policy): _vector_json(plan.arm_names, matrix[units[policies == policy][0]])
        for policy in np.unique(policies)
    }
    stamp = at.isoformat()
    n = len(voters)
    return pl.DataFrame(
        {
            "campaign_id": np.full(n, plan.design.campaign_id, dtype=np.int64),
            "program_id": np.full(n, plan.design.program_id, dtype=np.int64),
            "arm_id": np.asarray(arm_ids, dtype=np.int64)[draw.arm[units]],
            "voter_id": plan.rows.voter_pk[voters],
            "assigned_at": [stamp] * n,
            "propensity": draw.propensity[units],
            "propensities": [vectors[int(p)] for p in policies],
            "unit": plan.rows.unit_keys[draw.keys[units]],
            "created_at": [stamp] * n,
        },
        schema_overrides={"unit": pl.Utf8},
    )


def _vector_json(arm_names: list[str], row: np.ndarray) -> str:
    return json.dumps({name: round(float(p), 9) for name, p in zip(arm_names, row, strict=True)})


def _arm_ids(design: ProgramDesign, arm_names: list[str]) -> list[int]:
    arms = ProgramArm.objects.filter(program_id=design.program_id)
    by_name = dict(arms.values_list("name", "pk"))
    return [by_name[name] for name in arm_names]


def _bulk_create(frame: pl.DataFrame) -> int:
    written = 0
    for batch in frame.iter_slices(SQLITE_BATCH):
        objects = [
            Assignment(
                campaign_id=row["campaign_id"],
                program_id=row["program_id"],
                arm_id=row["arm_id"],
                voter_id=row["voter_id"],
                assigned_at=dt.datetime.fromisoformat(row["assigned_at"]),
                propensity=row["propensity"],
                propensities=json.loads(row["propensities"]),
                unit=row["unit"],
            )
            for row in batch.iter_rows(named=True)
        ]
        written += len(Assignment.objects.bulk_create(objects))
    return written


# --------------------------------------------------------------------------------------------
# Pause, resume, cancel
# --------------------------------------------------------------------------------------------

TRANSITIONS = {
    AuditAction.PROGRAM_PAUSE: ((ProgramStatus.COMMITTED,), ProgramStatus.PAUSED),
    AuditAction.PROGRAM_RESUME: ((ProgramStatus.PAUSED,), ProgramStatus.COMMITTED),
    AuditAction.PROGRAM_CANCEL: (
        (ProgramStatus.DRAFT, ProgramStatus.COMMITTED, ProgramStatus.PAUSED),
        ProgramStatus.CANCELLED,
    ),
}


def pause_program(
    *, design: ProgramDesign, by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> ProgramDesign:
    """Stop sending (what has not gone out waits); `resume_program` goes on."""
    return _change_status(design, AuditAction.PROGRAM_PAUSE, by, client_ip)


def resume_program(
    *, design: ProgramDesign, by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> ProgramDesign:
    return _change_status(design, AuditAction.PROGRAM_RESUME, by, client_ip)


def cancel_program(
    *, design: ProgramDesign, by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> ProgramDesign:
    """Stop for good: what has not gone out stays unsent; assignments stay (history)."""
    return _change_status(design, AuditAction.PROGRAM_CANCEL, by, client_ip)


def _change_status(
    design: ProgramDesign, action: str, by: AbstractBaseUser | None, client_ip: str | None
) -> ProgramDesign:
    allowed, target = TRANSITIONS[action]
    with transaction.atomic():
        design = (
            ProgramDesign.objects.select_for_update(of=("self",))
            .select_related("program")
            .get(pk=design.pk)
        )
        if design.status not in allowed:
            raise ProgramStateError(
                f"program {design.program.name!r} is {design.status}; cannot "
                f"{action.removeprefix('program_')} it"
            )
        previous = design.status
        design.status, design.status_changed_at = target, timezone.now()
        design.save(update_fields=["status", "status_changed_at"])
        record_audit_event(
            action=action,
            campaign=design.campaign_id,
            user=by,
            obj=design.program,
            client_ip=client_ip,
            detail={"from": previous, "to": target},
        )
    return design


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

EXPORT_HEADER = ("voter_id", "household", "arm", "variant", "propensity")


def assignment_export_rows(*, design: ProgramDesign) -> Iterator[tuple]:
    """(voter id, household, arm, variant version, propensity) of each assignment, by voter."""
    variants = {
        pin.arm_id: str(pin.variant) for pin in design.arm_variants.select_related("variant")
    }
    rows = (
        Assignment.objects.filter(program_id=design.program_id)
        .order_by("voter_id")
        .values_list("voter__voter_id", "voter__household_id", "arm_id", "arm__name", "propensity")
    )
    for voter_id, household, arm_id, arm, propensity in rows.iterator(chunk_size=READ_CHUNK):
        yield voter_id, household or "", arm, variants.get(arm_id, ""), propensity


def write_csv(out: TextIO, header: Iterable[str], rows: Iterable[Iterable]) -> int:
    """CSV for vendors. One place to switch to the project's formula-escaping writer."""
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def export_assignments(
    *,
    design: ProgramDesign,
    out: TextIO,
    by: AbstractBaseUser | None = None,
    actor: str = "",
    client_ip: str | None = None,
) -> int:
    """The assignments as CSV into `out` (audited as an export of voter data)."""
    count = write_csv(out, EXPORT_HEADER, assignment_export_rows(design=design))
    record_audit_event(
        action=AuditAction.EXPORT,
        campaign=design.campaign_id,
        user=by,
        actor=actor,
        object_type="voters.assignment",
        row_count=count,
        client_ip=client_ip,
        detail={"program": design.program_id},
    )
    return count
