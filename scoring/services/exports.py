"""Exports of scores: one CSV row per voter, audited (they are voter data)."""

from __future__ import annotations

from typing import TextIO

from django.contrib.auth.models import AbstractBaseUser

from campaign.lib import spreadsheet_csv
from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from scoring import artifacts
from scoring.models import ModelKind, ModelStatus, ModelVersion, VoterScore
from scoring.reasons import by_model
from scoring.services.runs import latest_complete_run
from scoring.uplift import explain_choice
from voters.models import Program, Voter

REASONS = 3


class ExportError(ValueError):
    """Nothing to export (no complete run, no persuasion model)."""


def export_scores(
    *,
    campaign: Campaign,
    out: TextIO,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    client_ip: str | None = None,
) -> int:
    """The latest complete run: voter_id, turnout, support, uplift_<arm>…, best_arm (control:
    leave alone), why (the safe policy's choice in words), reasons.

    The reasons are the persuasion model's for the voter's best arm when there is one, else the
    turnout model's. Returns the number of voters written.
    """
    run = latest_complete_run(campaign)
    if run is None:
        raise ExportError(f"{campaign.slug} has no complete scoring run: run `score` first")
    arms = _arms(run.persuasion_model)
    policy = run.persuasion_model.metrics if run.persuasion_model else {}
    default, margin = policy.get("best_single_arm"), policy.get("margin")
    writer = spreadsheet_csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["voter_id", "turnout", "support", *[f"uplift_{a}" for a in arms], "best_arm", "why"]
        + [f"reason_{i}" for i in range(1, REASONS + 1)]
    )
    rows = (
        VoterScore.objects.filter(run=run)
        .order_by("voter_id")
        .values_list("voter__voter_id", "turnout", "support", "uplift", "best_arm", "reasons")
    )
    written = 0
    for voter_id, turnout, support, uplift, best, reasons in rows.iterator(chunk_size=5_000):
        upl = [_num(uplift.get(a)) for a in arms]
        why = explain_choice(uplift, best, default, margin) if best else ""
        writer.writerow(
            [voter_id, _num(turnout), _num(support), *upl, best, why, *_reason_cells(reasons)]
        )
        written += 1
    record_audit_event(
        action=AuditAction.EXPORT,
        campaign=campaign,
        user=user,
        actor=actor,
        obj=run,
        row_count=written,
        client_ip=client_ip,
        detail={"format": "csv", "what": "scores"},
    )
    return written


def export_out_of_fold(
    *,
    campaign: Campaign,
    program: Program,
    out: TextIO,
    user: AbstractBaseUser | None = None,
    actor: str = "",
) -> int:
    """The cross-fitted uplifts of a persuasion model's training voters, so its evaluation can
    be checked outside the product: voter_id, assigned_arm, uplift_<arm>…, chosen_arm."""
    version = _persuasion_model(campaign, program)
    bundle = artifacts.load(version.artifact)
    names = bundle.meta["arm_names"]
    pks = bundle.arrays["voter_pks"]
    ids = dict(Voter.objects.filter(pk__in=pks.tolist()).values_list("pk", "voter_id"))
    writer = spreadsheet_csv.writer(out, lineterminator="\n")
    writer.writerow(["voter_id", "assigned_arm", *[f"uplift_{n}" for n in names[1:]], "chosen_arm"])
    uplift, assigned, chosen = (
        bundle.arrays["uplift_oof"],
        bundle.arrays["assigned_arm"],
        bundle.arrays["chosen_arm"],
    )
    for i, pk in enumerate(pks.tolist()):
        writer.writerow(
            [ids[pk], names[assigned[i]], *[_num(v) for v in uplift[i]], names[chosen[i]]]
        )
    record_audit_event(
        action=AuditAction.EXPORT,
        campaign=campaign,
        user=user,
        actor=actor,
        obj=version,
        row_count=len(pks),
        detail={"format": "csv", "what": "out-of-fold uplift"},
    )
    return len(pks)


def _persuasion_model(campaign: Campaign, program: Program) -> ModelVersion:
    versions = ModelVersion.objects.filter(
        campaign=campaign, kind=ModelKind.PERSUASION, program=program
    ).exclude(status=ModelStatus.RETIRED)
    # The approved one if there is one, else the latest draft.
    version = versions.order_by("status", "-created_at").first()
    if version is None:
        raise ExportError(f"no persuasion model for program {program.name!r}: train one first")
    return version


def _arms(version: ModelVersion | None) -> list[str]:
    if version is None:
        return []
    return artifacts.load(version.artifact).meta["arm_names"][1:]


def _num(value) -> str:
    return "" if value is None else f"{value:.5f}"


def _reason_cells(reasons: dict | list) -> list[str]:
    grouped = by_model(reasons)
    uplift = next((items for model, items in grouped.items() if model.startswith("uplift")), None)
    chosen = (uplift or grouped.get("turnout") or [])[:REASONS]
    # Points vs the average voter: of uplift for a message, of calibrated probability otherwise.
    cells = [f"{text}: {100 * value:+.1f} pts" for text, value in chosen]
    return cells + [""] * (REASONS - len(cells))
