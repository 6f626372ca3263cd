"""Programs: create from a spec, preview, commit (the randomized assignment), pause, cancel.

Every write to a program's design goes through here. The program, its arms and its assignments
are `voters` rows (scoring reads them); the design on top (`ProgramDesign`, `ArmVariant`) is
messaging's. A preview and a commit run the same computation: select the universe in one query,
draw with `messaging.randomization` (pure numpy), and (commit only) write the assignments with
COPY in the same transaction that marks the program committed, so a commit is all or nothing and
happens once.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import polars as pl
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from campaign.lib import binary_copy, spreadsheet_csv
from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from messaging.models import (
    ArmVariant,
    EmailStatus,
    MessageVariant,
    ProgramDesign,
    ProgramStatus,
    SmsStatus,
)
from messaging.program_draw import DrawnBlock, Tally, drawn_blocks, materialize
from messaging.program_specs import ProgramSpec, SpecError, parse_universe
from messaging.randomization import OUT, PERSONALIZED, Choice, Design, Draw, propensity_vectors
from messaging.services import mark_variant_used
from messaging.universe import UniverseRows, UniverseTable, universe_queryset
from scoring.models import ScoringRun
from voters.models import Assignment, Channel, Program, ProgramArm

logger = logging.getLogger(__name__)

CONTROL_ARM = "control"
SQLITE_BATCH = 5_000


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
# The draw (what preview and commit share; the universe is messaging.universe)
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """A program's whole draw in memory (grading a plan and tests; commits stream instead)."""

    design: ProgramDesign
    arm_names: list[str]  # control first, then arms 1..K
    rows: UniverseRows
    draw: Draw
    run: ScoringRun | None
    summary_: dict | None = None

    def summary(self) -> dict:
        return self.summary_ or {}


@dataclass
class Drawing:
    """A program's universe, ready to be drawn block by block (inside `with drawing_of(...)`)."""

    design: ProgramDesign
    arm_names: list[str]
    table: UniverseTable
    randomization: Design
    choice: Choice | None
    run: ScoringRun | None
    with_uplift: bool
    counts: dict[str, int]  # the distinct contacts the units do not count

    def blocks(self) -> Iterator[DrawnBlock]:
        return drawn_blocks(
            self.table, self.randomization, self.choice, with_uplift=self.with_uplift
        )

    def universe_counts(self, tally: Tally) -> dict[str, int]:
        """Voters, households, phones, emails and units (the units count one of the three)."""
        counts = self.counts | {self.table.unit_count_name: tally.keyed_units}
        return {
            "voters": tally.voters_read,
            **{name: counts[name] for name in ("households", "phones", "emails")},
            "units": tally.units_read,
        }

    def summary(self, tally: Tally) -> dict:
        return {
            "universe": self.universe_counts(tally),
            "left_out": {
                "backlash_voters": tally.backlash_voters,
                "left_alone_units": tally.left_alone,
                "over_budget_units": tally.over_budget,
            },
            "arms": [
                {"arm": name, "units": int(tally.units[k]), "voters": int(tally.voters[k])}
                for k, name in enumerate(self.arm_names)
            ],
            "expected_net_votes": tally.value if self.with_uplift else None,
            "policy": self.design.policy,
            "seed": self.design.seed,
            "scoring_run": self.run.pk if self.run else None,
        }


@contextmanager
def drawing_of(design: ProgramDesign) -> Iterator[Drawing]:
    """The universe selected into a temporary table, for the length of the `with` block (in a
    transaction: the draw and the writes see one snapshot); SpecError when it cannot be."""
    arm_names = _arm_names(design)
    universe = parse_universe(design.universe, tuple(arm_names[1:]))
    run = _latest_run(design.campaign_id)
    if run is None and (universe.needs_scores or design.policy == PERSONALIZED):
        raise SpecError("universe", "needs scores, but the campaign has no complete scoring run")
    choice = _choice(design, run, arm_names) if design.policy == PERSONALIZED else None
    queryset = universe_queryset(design=design, universe=universe, run=run)
    with transaction.atomic():
        table = UniverseTable(
            queryset, design.channel, arm_names[1:], with_uplift=run is not None,
            exclude_backlash=universe.exclude_backlash,
        )  # fmt: skip
        with table:
            # No model predicts these arms: expected votes unknown, not zero.
            with_uplift = (
                run is not None and run.persuasion_model_id is not None and table.has_uplift()
            )
            if design.policy == PERSONALIZED and not with_uplift:
                raise SpecError("policy", "the persuasion model predicts no uplift for its voters")
            yield Drawing(
                design, arm_names, table, design_of(design), choice, run, with_uplift,
                table.counts(),
            )  # fmt: skip


def plan_program(*, design: ProgramDesign) -> Plan:
    """The universe selected and drawn, whole, in memory; nothing written."""
    with drawing_of(design) as drawing:
        tally = Tally(drawing.randomization.arms)
        blocks = []
        for block in drawing.blocks():
            tally.add(block)
            blocks.append(block)
        rows, draw = materialize(blocks, drawing.randomization, drawing.universe_counts(tally))
        return Plan(design, drawing.arm_names, rows, draw, drawing.run, drawing.summary(tally))


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


# --------------------------------------------------------------------------------------------
# Preview and commit
# --------------------------------------------------------------------------------------------


def preview_program(*, design: ProgramDesign) -> dict:
    """Counts in the universe and per arm after the draw, and expected net votes; no writes."""
    with drawing_of(design) as drawing:
        tally = Tally(drawing.randomization.arms)
        for block in drawing.blocks():
            tally.add(block)
        return drawing.summary(tally)


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
        if design.status not in (ProgramStatus.DRAFT, ProgramStatus.COMMITTING):
            raise ProgramStateError(
                f"program {design.program.name!r} is {design.status}: a program is committed once"
            )
        _pin_current_versions(design)
        now = timezone.now()
        with drawing_of(design) as drawing:
            tally = Tally(drawing.randomization.arms)
            written = write_assignments(drawing, tally, at=now)
            summary = drawing.summary(tally)
            run = drawing.run
        if not tally.drawn_units:
            raise SpecError("universe", "no voter is left to assign: nothing to commit")
        design.status = ProgramStatus.COMMITTED
        design.summary = summary
        design.scoring_run = run
        design.persuasion_model = run.persuasion_model if run else None
        design.committed_by = _user(by)
        design.committed_at = design.status_changed_at = now
        design.commit_error = ""
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
        if design.channel in (Channel.SMS, Channel.EMAIL):
            _fill_outbox_on_commit(design.pk)
    logger.info("program %s committed: %s assignments", design.program_id, written)
    return design


def _fill_outbox_on_commit(design_id: int) -> None:
    from messaging.tasks import fill_outbox_task  # the task module imports this one

    transaction.on_commit(lambda: fill_outbox_task.delay(design_id))


def request_commit(
    *, design: ProgramDesign, by: AbstractBaseUser | None = None, client_ip: str | None = None
) -> ProgramDesign:
    """Ask a worker to commit (what the admin and the API do: a state's universe takes longer
    than a web request may). The program is `committing` until the worker is done; a commit that
    cannot happen returns it to a draft, saying why in `commit_error`."""
    from messaging.tasks import commit_program_task  # the task module imports this one

    with transaction.atomic():
        design = (
            ProgramDesign.objects.select_for_update(of=("self",))
            .select_related("program")
            .get(pk=design.pk)
        )
        if design.status != ProgramStatus.DRAFT:
            raise ProgramStateError(
                f"program {design.program.name!r} is {design.status}: a program is committed once"
            )
        design.status = ProgramStatus.COMMITTING
        design.commit_requested_at = design.status_changed_at = timezone.now()
        design.commit_error = ""
        design.save(
            update_fields=["status", "commit_requested_at", "status_changed_at", "commit_error"]
        )
        user_id = by.pk if by is not None and by.is_authenticated else None
        transaction.on_commit(lambda: commit_program_task.delay(design.pk, user_id, client_ip))
    logger.info("program %s commit requested", design.program_id)
    return design


def fail_commit(*, design: ProgramDesign, reason: str) -> ProgramDesign:
    """A background commit that cannot happen: back to a draft, with the reason (ids only)."""
    with transaction.atomic():
        design = ProgramDesign.objects.select_for_update(of=("self",)).get(pk=design.pk)
        if design.status == ProgramStatus.COMMITTING:
            design.status, design.status_changed_at = ProgramStatus.DRAFT, timezone.now()
            design.commit_error = reason
            design.save(update_fields=["status", "status_changed_at", "commit_error"])
    logger.warning("program %s commit failed: %s", design.program_id, reason)
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


# Fixed-width columns first: the binary rows are a packed record then the varying values.
ASSIGNMENT_COLUMNS = (
    "campaign_id", "program_id", "arm_id", "voter_id", "assigned_at", "created_at", "propensity",
    "propensities", "unit",
)  # fmt: skip
# Rows encoded and sent at a time: the encoding's working arrays stay a few tens of MB, and the
# server ingests one chunk while the next is encoded (psycopg's queued writer sends from a thread).
COPY_CHUNK = 20_000
READ_CHUNK = 20_000  # assignments exported at a time


@dataclass
class AssignmentRows:
    """The assignment rows, column by column (no object per row).

    The unit's key and the propensity vector repeat across rows, so each row holds an index
    into `unit_keys` and `vectors`, and each distinct value is encoded once.
    """

    voter_id: np.ndarray
    arm_id: np.ndarray
    propensity: np.ndarray
    unit: np.ndarray  # per row: index into unit_keys
    unit_keys: pl.Series
    vector: np.ndarray  # per row: index into vectors
    vectors: list[dict[str, float]]  # {arm name: P(arm)}, one per policy arm drawn

    def __len__(self) -> int:
        return len(self.voter_id)


def write_assignments(drawing: Drawing, tally: Tally, *, at: dt.datetime) -> int:
    """One assignment per voter drawn into an arm, a block at a time: binary COPY on PostgreSQL,
    batches elsewhere. Each block is counted into `tally` as it is written."""
    arm_ids = _arm_ids(drawing.design, drawing.arm_names)
    vectors = [_vector(drawing.arm_names, row) for row in propensity_vectors(drawing.randomization)]
    write = _copy_assignments if connection.vendor == "postgresql" else _bulk_create
    written = 0
    for block in drawing.blocks():
        tally.add(block)
        written += write(assignment_rows(block, arm_ids, vectors), drawing.design, at)
    return written


def assignment_rows(
    block: DrawnBlock, arm_ids: list[int], vectors: list[dict[str, float]]
) -> AssignmentRows:
    voters = np.flatnonzero(block.voter_unit >= 0)
    units = block.voter_unit[voters]
    drawn = block.drawn.arm[units] != OUT
    voters, units = voters[drawn], units[drawn]
    # In voter order: the indexes on the voter take their new entries in order, not at random.
    in_order = np.argsort(block.block.voter_pk[voters], kind="stable")
    voters, units = voters[in_order], units[in_order]
    return AssignmentRows(
        voter_id=block.block.voter_pk[voters],
        arm_id=np.asarray(arm_ids, dtype=np.int64)[block.drawn.arm[units]],
        propensity=block.drawn.propensity[units],
        unit=units,
        unit_keys=block.unit_keys,
        # Units with the same policy arm share one propensity vector (row 0: uniform's).
        vector=np.clip(block.scored.policy_arm[units], 0, None),
        vectors=vectors,
    )


def _vector(arm_names: list[str], row: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 9) for name, p in zip(arm_names, row, strict=True)}


def _copy_assignments(rows: AssignmentRows, design: ProgramDesign, at: dt.datetime) -> int:
    vectors = binary_copy.encode_values(binary_copy.jsonb_values(rows.vectors))
    # The keys' UTF-8 bytes back to back, in one string: no Python object per unit.
    units = binary_copy.encode_packed(
        rows.unit_keys.str.len_bytes().to_numpy(), rows.unit_keys.str.join("").item().encode()
    )
    campaign, program = design.campaign_id, design.program_id
    stamp = binary_copy.timestamptz(at)
    sql = f"COPY voters_assignment ({', '.join(ASSIGNMENT_COLUMNS)}) FROM STDIN (FORMAT binary)"
    with connection.cursor() as cursor:
        pg_cursor = cursor.cursor
        with pg_cursor.copy(sql, writer=QueuedLibpqWriter(pg_cursor)) as copy:
            copy.write(binary_copy.SIGNATURE)
            for start in range(0, len(rows), COPY_CHUNK):
                part = slice(start, start + COPY_CHUNK)
                n = len(rows.voter_id[part])
                fixed = [np.full(n, campaign), np.full(n, program), rows.arm_id[part],
                         rows.voter_id[part], np.full(n, stamp), np.full(n, stamp),
                         rows.propensity[part]]  # fmt: skip
                varying = [(vectors, rows.vector[part]), (units, rows.unit[part])]
                copy.write(memoryview(binary_copy.encode_rows(fixed, varying)))
            copy.write(binary_copy.TRAILER)
    return len(rows)


def _arm_ids(design: ProgramDesign, arm_names: list[str]) -> list[int]:
    arms = ProgramArm.objects.filter(program_id=design.program_id)
    by_name = dict(arms.values_list("name", "pk"))
    return [by_name[name] for name in arm_names]


def _bulk_create(rows: AssignmentRows, design: ProgramDesign, at: dt.datetime) -> int:
    columns = (rows.voter_id, rows.arm_id, rows.propensity, rows.unit, rows.vector)
    unit_keys = rows.unit_keys.to_list()
    written = 0
    for start in range(0, len(rows), SQLITE_BATCH):
        part = slice(start, start + SQLITE_BATCH)
        objects = [
            Assignment(
                campaign_id=design.campaign_id,
                program_id=design.program_id,
                arm_id=int(arm_id),
                voter_id=int(voter_id),
                assigned_at=at,
                propensity=float(propensity),
                propensities=rows.vectors[vector],
                unit=unit_keys[unit],
            )
            for voter_id, arm_id, propensity, unit, vector in zip(
                *(column[part] for column in columns), strict=True
            )
        ]
        written += len(Assignment.objects.bulk_create(objects))
    return written


# --------------------------------------------------------------------------------------------
# Pause, resume, cancel
# --------------------------------------------------------------------------------------------

CANCELLABLE = (
    ProgramStatus.DRAFT, ProgramStatus.COMMITTING, ProgramStatus.COMMITTED, ProgramStatus.PAUSED,
)  # fmt: skip
TRANSITIONS = {
    AuditAction.PROGRAM_PAUSE: ((ProgramStatus.COMMITTED,), ProgramStatus.PAUSED),
    AuditAction.PROGRAM_RESUME: ((ProgramStatus.PAUSED,), ProgramStatus.COMMITTED),
    AuditAction.PROGRAM_CANCEL: (CANCELLABLE, ProgramStatus.CANCELLED),
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
        if target == ProgramStatus.CANCELLED:
            _cancel_unsent(design, design.status_changed_at)
        record_audit_event(
            action=action,
            campaign=design.campaign_id,
            user=by,
            obj=design.program,
            client_ip=client_ip,
            detail={"from": previous, "to": target},
        )
    return design


# Not yet handed to anyone: a vendor holds a leased text and a batch a claimed email, and those
# end as their holder reports.
UNSENT_TEXTS = (SmsStatus.QUEUED, SmsStatus.HELD, SmsStatus.DUE)
UNSENT_EMAILS = (EmailStatus.QUEUED,)


def _cancel_unsent(design: ProgramDesign, now: dt.datetime) -> None:
    """A cancelled program's texts and emails that have not gone out become canceled (they
    would never go out anyway; now the outbox says so)."""
    for messages, unsent, canceled in (
        (design.sms_messages, UNSENT_TEXTS, SmsStatus.CANCELED),
        (design.email_messages, UNSENT_EMAILS, EmailStatus.CANCELED),
    ):
        messages.filter(status__in=unsent).update(
            status=canceled, cancel_reason="program_cancelled", finished_at=now
        )


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
    """CSV for vendors, through the product's one writer (spreadsheet formulas escaped)."""
    writer = spreadsheet_csv.writer(out)
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
