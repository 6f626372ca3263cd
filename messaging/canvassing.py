"""Turfs of a door program: cut, re-cut, rank and assign to organizers (their progress is read
by `messaging.field_progress`).

Every write to `Turf` and `TurfDoor` goes through here. The geometry is `messaging.turfs` (pure
numpy); this module reads a program's treated households in a few set-based queries, hands them
to it, and writes what comes back with bulk inserts in one transaction.

Which doors: the households of the program's voters assigned to a treated arm. Control households
are in no turf (the control group receives nothing, on any channel), and voters without a
household have no door to knock. A door program randomizes households, so a household has one arm;
its expected net votes are its voters' summed uplift for that arm, from the scoring run the
program was committed with (unknown when that run had no persuasion model).

Results recorded at a door are contact attempts of the voters and the program, never of a turf:
re-cutting one turf and reassigning turfs leave them as they are. Re-cutting the whole program
starts again from nothing, so it is refused once any result has been recorded on the program.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from campaign.models import AuditAction, Membership, Role
from campaign.services import record_audit_event
from messaging import turfs as geometry
from messaging.models import ProgramDesign, ProgramStatus, Turf, TurfDoor, TurfMethod
from scoring.models import VoterScore
from voters.models import Assignment, Channel, ContactAttempt

logger = logging.getLogger(__name__)

# Programs whose turfs may be cut: committed, or paused (its canvass resumes later).
CUTTABLE = (ProgramStatus.COMMITTED, ProgramStatus.PAUSED)
# Who may be given a turf: its organizer, or staff who walk or lead canvassers themselves.
ASSIGNABLE_ROLES = (Role.ORGANIZER, Role.STAFF, Role.ADMIN)
WRITE_BATCH = 5_000
READ_CHUNK = 20_000


class TurfError(Exception):
    """A turf operation the program's state or the input does not allow; the message says why."""


# --------------------------------------------------------------------------------------------
# Reading a program's doors
# --------------------------------------------------------------------------------------------


@dataclass
class ProgramDoors:
    """A program's treated households as `messaging.turfs.Doors`, with their arm ids."""

    doors: geometry.Doors
    arm_id: np.ndarray  # per door
    voters_without_household: int


DOOR_COLUMNS = {
    "voter_pk": pl.Int64,
    "household_id": pl.Int64,
    "arm_id": pl.Int64,
    "precinct": pl.Utf8,
    "address_key": pl.Utf8,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
}


def program_doors(design: ProgramDesign) -> ProgramDoors:
    """The treated households of the program, one door each (two or three queries)."""
    treated = Assignment.objects.filter(
        campaign_id=design.campaign_id, program_id=design.program_id, arm__is_control=False
    )
    rows = treated.filter(voter__household__isnull=False).values_list(
        "voter_id",
        "voter__household_id",
        "arm_id",
        "voter__precinct",
        "voter__household__address_key",
        "voter__household__latitude",
        "voter__household__longitude",
    )
    frame = pl.DataFrame(
        list(rows.iterator(chunk_size=READ_CHUNK)), schema=DOOR_COLUMNS, orient="row"
    )
    frame = frame.with_columns(net_votes=_voter_uplift(design, frame))
    households = (
        frame.sort("voter_pk")
        .group_by("household_id")
        .agg(
            # A household's voters share a precinct; the smallest is a fixed rule if they do not.
            pl.col("precinct").fill_null("").min(),
            pl.col("arm_id").min(),
            pl.col("address_key").first(),
            pl.col("latitude").first(),
            pl.col("longitude").first(),
            pl.len().alias("voters"),
            pl.col("net_votes").sum().alias("net_votes"),
            pl.col("net_votes").is_nan().all().alias("unknown"),
        )
        .sort("household_id")
    )
    net_votes = households["net_votes"].to_numpy().astype(np.float64)
    net_votes[households["unknown"].to_numpy()] = np.nan
    doors = geometry.doors_from_address_keys(
        household_id=households["household_id"].to_numpy(),
        precinct=households["precinct"].to_numpy(),
        address_key=households["address_key"].to_list(),
        latitude=households["latitude"].to_numpy().astype(np.float64),
        longitude=households["longitude"].to_numpy().astype(np.float64),
        voters=households["voters"].to_numpy(),
        net_votes=net_votes,
    )
    homeless = treated.filter(voter__household__isnull=True).count()
    return ProgramDoors(doors, households["arm_id"].to_numpy(), homeless)


def _voter_uplift(design: ProgramDesign, frame: pl.DataFrame) -> pl.Series:
    """Per voter: their predicted uplift for their own arm; NaN when the program's scoring run
    had no persuasion model (unknown, not zero), 0 for a voter that run did not score."""
    unknown = pl.Series("net_votes", [math.nan] * len(frame), dtype=pl.Float64)
    if design.scoring_run_id is None or design.persuasion_model_id is None or frame.is_empty():
        return unknown
    pins = list(design.arm_variants.select_related("arm").order_by("position"))
    uplift = {f"uplift_{i}": pin.arm.name for i, pin in enumerate(pins)}
    scores = VoterScore.objects.filter(
        run_id=design.scoring_run_id,
        voter_id__in=Assignment.objects.filter(
            campaign_id=design.campaign_id, program_id=design.program_id, arm__is_control=False
        ).values("voter_id"),
    ).annotate(
        **{
            alias: Cast(KeyTextTransform(arm, "uplift"), models.FloatField())
            for alias, arm in uplift.items()
        }
    )
    by_voter = {
        voter: values
        for voter, *values in scores.values_list("voter_id", *uplift).iterator(
            chunk_size=READ_CHUNK
        )
    }
    column = {pin.arm_id: i for i, pin in enumerate(pins)}
    values = [
        _own_uplift(by_voter.get(voter), column.get(arm))
        for voter, arm in zip(frame["voter_pk"].to_list(), frame["arm_id"].to_list(), strict=True)
    ]
    return pl.Series("net_votes", values, dtype=pl.Float64)


def _own_uplift(values: list | None, index: int | None) -> float:
    if values is None or index is None or values[index] is None:
        return 0.0  # unscored: counted as no effect, as the program's draw counts it
    return float(values[index])


# --------------------------------------------------------------------------------------------
# Cutting
# --------------------------------------------------------------------------------------------


def check_cuttable(design: ProgramDesign) -> None:
    """TurfError unless the program is a committed (or paused) door program."""
    name = design.program.name
    if design.channel != Channel.DOOR:
        raise TurfError(f"program {name!r} is a {design.channel} program: only doors have turfs")
    if design.status not in CUTTABLE:
        raise TurfError(
            f"program {name!r} is {design.status}: only a committed door program is cut into turfs"
        )


def has_results(design: ProgramDesign) -> bool:
    """Whether any contact result has been recorded on the program."""
    return ContactAttempt.objects.filter(
        campaign_id=design.campaign_id, program_id=design.program_id
    ).exists()


def cut_program_turfs(
    *,
    design: ProgramDesign,
    min_doors: int = 40,
    max_doors: int = 80,
    by: AbstractBaseUser | None = None,
    client_ip: str | None = None,
) -> list[Turf]:
    """The program's treated households cut into turfs of `min_doors`-`max_doors` doors within
    each precinct, walked in order and ranked by expected net votes per door (best first).

    Cutting again replaces the program's turfs (and their organizers), which is refused once a
    result has been recorded on the program. Returns the turfs by rank.
    """
    if not 1 <= min_doors <= max_doors:
        raise TurfError(f"turf sizes need 1 <= min <= max (got {min_doors}-{max_doors})")
    with transaction.atomic():
        design = _locked(design)
        check_cuttable(design)
        replaced = design.turfs.count()
        if replaced and has_results(design):
            raise TurfError(
                f"results have been recorded on program {design.program.name!r}: its turfs are "
                "kept (re-cut single turfs instead)"
            )
        read = program_doors(design)
        if not len(read.doors):
            raise TurfError(f"program {design.program.name!r} has no treated household to visit")
        cut = geometry.cut_turfs(read.doors, min_doors=min_doors, max_doors=max_doors)
        TurfDoor.objects.filter(design=design).delete()
        design.turfs.all().delete()
        created = _write_cut(design, read, cut, by)
        record_audit_event(
            action=AuditAction.TURF_CUT,
            campaign=design.campaign_id,
            user=by,
            obj=design.program,
            row_count=len(created),
            client_ip=client_ip,
            detail={
                "doors": len(read.doors),
                "min_doors": min_doors,
                "max_doors": max_doors,
                "replaced": replaced,
                "voters_without_household": read.voters_without_household,
            },
        )
    logger.info(
        "program %s cut into %s turfs (%s doors)", design.program_id, len(created), len(read.doors)
    )
    return created


def _locked(design: ProgramDesign) -> ProgramDesign:
    # One cut or re-cut of a program at a time: they read and replace the same rows.
    return (
        ProgramDesign.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=design.pk)
    )


def _write_cut(
    design: ProgramDesign, read: ProgramDoors, cut: geometry.TurfCut, by: AbstractBaseUser | None
) -> list[Turf]:
    now = timezone.now()
    ranks = {index: rank for rank, index in enumerate(geometry.rank_turfs(cut), start=1)}
    turfs = Turf.objects.bulk_create(
        _turf_row(design, summary, ranks[index], cut, now, by)
        for index, summary in enumerate(cut.turfs)
    )
    _write_doors(design, read, cut, dict(enumerate(turfs)))
    return sorted(turfs, key=lambda t: t.rank)


def _turf_row(
    design: ProgramDesign,
    summary: geometry.Turf,
    rank: int,
    cut: geometry.TurfCut,
    now,
    by: AbstractBaseUser | None,
) -> Turf:
    return Turf(
        campaign_id=design.campaign_id,
        design=design,
        name=summary.name,
        precinct=summary.precinct,
        method=TurfMethod.GEOGRAPHY if summary.method == geometry.GEOGRAPHY else TurfMethod.STREET,
        rank=rank,
        doors=summary.doors,
        voters=summary.voters,
        walking_m=summary.walking_m,
        net_votes=None if math.isnan(summary.net_votes) else summary.net_votes,
        min_doors=cut.min_doors,
        max_doors=cut.max_doors,
        cut_at=now,
        cut_by=_user(by),
    )


def _write_doors(
    design: ProgramDesign,
    read: ProgramDoors,
    cut: geometry.TurfCut,
    turf_of: dict[int, Turf],
    only: Iterable[int] | None = None,
) -> None:
    """TurfDoor rows of the cut's turfs (of the indices `only`, when given), in batches."""
    doors = read.doors
    indices = range(len(cut.turfs)) if only is None else only
    rows = (
        TurfDoor(
            turf=turf_of[index],
            design=design,
            household_id=int(doors.household_id[door]),
            position=int(cut.stop[door]) + 1,
            arm_id=int(read.arm_id[door]),
            voters=int(doors.voters[door]),
            net_votes=None if math.isnan(doors.net_votes[door]) else float(doors.net_votes[door]),
            is_position_imputed=bool(cut.is_position_imputed[door]),
        )
        for index in indices
        for door in cut.members(index)
    )
    TurfDoor.objects.bulk_create(rows, batch_size=WRITE_BATCH)


def _user(by: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return by if by is not None and by.is_authenticated else None


# --------------------------------------------------------------------------------------------
# Re-cutting one turf
# --------------------------------------------------------------------------------------------


def recut_turf(
    *,
    turf: Turf,
    min_doors: int | None = None,
    max_doors: int | None = None,
    by: AbstractBaseUser | None = None,
    client_ip: str | None = None,
) -> list[Turf]:
    """A turf too big or too small made to fit the bounds (default: those it was cut with).

    Too big: split; the first part keeps the turf (its name and organizer), the others are new
    turfs. Too small: merged into the nearest turf of its precinct, which keeps its name and
    organizer; the small turf is deleted. Other turfs keep their doors and order; the program's
    turfs are ranked again. Results recorded at the doors stay with the voters. Returns the
    turfs that were changed or created (empty when the turf already fits, or is alone in its
    precinct and too small)."""
    with transaction.atomic():
        design = _locked(turf.design)
        check_cuttable(design)
        saved = list(design.turfs.order_by("name"))
        index = next((i for i, t in enumerate(saved) if t.pk == turf.pk), None)
        if index is None:
            raise TurfError(f"turf {turf.pk} is no longer one of the program's turfs")
        read, cut = _saved_cut(design, saved)
        low = saved[index].min_doors if min_doors is None else min_doors
        high = saved[index].max_doors if max_doors is None else max_doors
        if not 1 <= low <= high:
            raise TurfError(f"turf sizes need 1 <= min <= max (got {low}-{high})")
        recut = geometry.recut_turf(read.doors, cut, index, min_doors=low, max_doors=high)
        if recut is cut:
            return []
        changed = _apply_recut(design, read, cut, recut, saved, by)
        record_audit_event(
            action=AuditAction.TURF_RECUT,
            campaign=design.campaign_id,
            user=by,
            obj=saved[index],
            row_count=len(changed),
            client_ip=client_ip,
            detail={
                "program": design.program_id,
                "min_doors": low,
                "max_doors": high,
                "turfs": [t.pk for t in changed],
            },
        )
    return changed


def _saved_cut(design: ProgramDesign, saved: list[Turf]) -> tuple[ProgramDoors, geometry.TurfCut]:
    """The program's turfs as stored, as the `Doors` and `TurfCut` that `recut_turf` takes."""
    index_of = {t.pk: i for i, t in enumerate(saved)}
    rows = list(
        TurfDoor.objects.filter(design=design)
        .order_by("household_id")
        .values_list(
            "household_id",
            "turf_id",
            "position",
            "arm_id",
            "voters",
            "net_votes",
            "is_position_imputed",
            "household__address_key",
            "household__latitude",
            "household__longitude",
        )
    )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 10
    household, turf_id, position, arm, voters, net, imputed, key, lat, lon = columns
    turf_index = np.array([index_of[t] for t in turf_id], dtype=np.int64)
    doors = geometry.doors_from_address_keys(
        household_id=np.array(household, dtype=np.int64),
        precinct=np.array([saved[i].precinct for i in turf_index], dtype=object),
        address_key=list(key),
        latitude=np.array([math.nan if v is None else v for v in lat], dtype=float),
        longitude=np.array([math.nan if v is None else v for v in lon], dtype=float),
        voters=np.array(voters, dtype=np.int64),
        net_votes=np.array([math.nan if v is None else v for v in net], dtype=float),
    )
    summaries = [_summary(t) for t in saved]
    first = saved[0] if saved else None
    cut = geometry.TurfCut(
        turf=turf_index,
        stop=np.array(position, dtype=np.int64) - 1,
        turfs=summaries,
        is_position_imputed=np.array(imputed, dtype=bool),
        min_doors=first.min_doors if first else 1,
        max_doors=first.max_doors if first else 1,
        target_doors=(first.min_doors + first.max_doors) / 2 if first else 1.0,
    )
    return ProgramDoors(doors, np.array(arm, dtype=np.int64), 0), cut


def _summary(turf: Turf) -> geometry.Turf:
    return geometry.Turf(
        name=turf.name,
        precinct=turf.precinct,
        method=geometry.GEOGRAPHY if turf.method == TurfMethod.GEOGRAPHY else geometry.STREET,
        doors=turf.doors,
        voters=turf.voters,
        walking_m=turf.walking_m,
        net_votes=math.nan if turf.net_votes is None else turf.net_votes,
        is_undersized=turf.is_undersized,
        is_oversized=turf.is_oversized,
    )


def _apply_recut(
    design: ProgramDesign,
    read: ProgramDoors,
    before: geometry.TurfCut,
    after: geometry.TurfCut,
    saved: list[Turf],
    by: AbstractBaseUser | None,
) -> list[Turf]:
    """Write the turfs `recut_turf` changed: update kept names, create new ones, delete the
    merged one, replace the changed turfs' doors, and rank every turf again."""
    by_name = {t.name: t for t in saved}
    old_members = {t.name: set(before.members(i)) for i, t in enumerate(before.turfs)}
    changed_index = [
        i
        for i, summary in enumerate(after.turfs)
        if set(after.members(i)) != old_members.get(summary.name)
    ]
    gone = [t for t in saved if t.name not in {s.name for s in after.turfs}]
    now = timezone.now()
    kept = [after.turfs[i].name for i in changed_index]
    touched = [by_name[name] for name in kept if name in by_name]
    TurfDoor.objects.filter(turf__in=[*touched, *gone]).delete()
    Turf.objects.filter(pk__in=[t.pk for t in gone]).delete()
    turf_of: dict[int, Turf] = {}
    for i in changed_index:
        summary = after.turfs[i]
        row = _turf_row(design, summary, 1, after, now, by)
        existing = by_name.get(summary.name)
        if existing is not None:
            row.pk, row.organizer_id = existing.pk, existing.organizer_id
            row.assigned_at, row.assigned_by_id = existing.assigned_at, existing.assigned_by_id
            row.rank, row.status = existing.rank, existing.status
            row.save()
        else:
            row.save()
        turf_of[i] = row
    _write_doors(design, read, after, turf_of, only=changed_index)
    _rerank(design, after)
    return [turf_of[i] for i in changed_index]


def _rerank(design: ProgramDesign, cut: geometry.TurfCut) -> None:
    names = [cut.turfs[i].name for i in geometry.rank_turfs(cut)]
    turfs = {t.name: t for t in design.turfs.all()}
    for rank, name in enumerate(names, start=1):
        turfs[name].rank = rank
    Turf.objects.bulk_update(turfs.values(), ["rank"], batch_size=WRITE_BATCH)


# --------------------------------------------------------------------------------------------
# Assigning
# --------------------------------------------------------------------------------------------


def assignable_users(campaign_id: int) -> models.QuerySet:
    """Users who may be given the campaign's turfs: its organizers, staff and admins."""
    members = Membership.objects.filter(campaign_id=campaign_id, role__in=ASSIGNABLE_ROLES)
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=members.values("user_id"))
        .order_by("username")
    )


def assign_turfs(
    *,
    turfs: Iterable[Turf],
    organizer: AbstractBaseUser,
    by: AbstractBaseUser | None = None,
    client_ip: str | None = None,
) -> int:
    """Give the turfs to `organizer` (audited per turf). Their doors, order and any results
    recorded at them stay as they are. TurfError if the user may not walk one of the campaigns'
    turfs. Returns how many turfs changed hands (a turf already theirs is left alone)."""
    turfs = list(turfs)
    campaigns = {t.campaign_id for t in turfs}
    allowed = set(
        Membership.objects.filter(
            user_id=organizer.pk, campaign_id__in=campaigns, role__in=ASSIGNABLE_ROLES
        ).values_list("campaign_id", flat=True)
    )
    if not organizer.is_active or campaigns - allowed:
        raise TurfError(
            f"user {organizer.pk} is not an organizer, staff member or admin of the turfs' "
            "campaign: nothing was assigned"
        )
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        locked = Turf.objects.select_for_update().filter(pk__in=[t.pk for t in turfs])
        for turf in locked:
            if turf.organizer_id == organizer.pk:
                continue
            previous = turf.organizer_id
            turf.organizer_id, turf.assigned_at, turf.assigned_by = organizer.pk, now, _user(by)
            turf.save(update_fields=["organizer", "assigned_at", "assigned_by"])
            record_audit_event(
                action=AuditAction.TURF_ASSIGN,
                campaign=turf.campaign_id,
                user=by,
                obj=turf,
                client_ip=client_ip,
                detail={"organizer": organizer.pk, "previous": previous},
            )
            changed += 1
    return changed
