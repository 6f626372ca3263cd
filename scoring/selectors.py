"""Read queries of the scoring app that the staff console (`scoring.admin`) presents: the approved
version a draft would replace, a run's progress, a voter's latest scores. None of them writes."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import BigIntegerField, FloatField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from scoring.models import ModelStatus, ModelVersion, ScoringChunk, ScoringRun, VoterScore
from voters.models import ProgramArm, Voter


def approved_peer(version: ModelVersion) -> ModelVersion | None:
    """The campaign's approved version of the same kind (and program) that this one would replace.

    Kept on the instance, since several fields of one change page ask for it.
    """
    if not hasattr(version, "_approved_peer"):
        peer = None
        if version.status != ModelStatus.APPROVED:
            peer = (
                ModelVersion.objects.filter(
                    campaign=version.campaign_id,
                    kind=version.kind,
                    program=version.program_id,
                    status=ModelStatus.APPROVED,
                )
                .defer("artifact")
                .order_by("-approved_at", "-id")
                .first()
            )
        version._approved_peer = peer
    return version._approved_peer


def voters_done() -> Coalesce:
    """Voters in the run's finished chunks, counted through the chunk table's (run, …) index."""
    done = (
        ScoringChunk.objects.filter(run=OuterRef("pk"), done_at__isnull=False)
        .order_by()
        .values("run")
        .annotate(total=Sum("voters"))
        .values("total")
    )
    return Coalesce(Subquery(done, output_field=BigIntegerField()), 0)


def latest_voter_score(voter_id: int) -> VoterScore | None:
    """The voter's score from the latest complete run that scored them (with the run and its
    persuasion model), or None if none did."""
    # Through the unique (run, voter) index, one probe per complete run of the voter's campaign:
    # scores have no index on the voter alone (it would be written for every score of every run).
    runs = ScoringRun.objects.complete().filter(
        campaign_id=Subquery(Voter.objects.filter(pk=voter_id).values("campaign_id"))
    )
    return (
        VoterScore.objects.filter(voter_id=voter_id, run__in=runs)
        .select_related("run__persuasion_model")
        .order_by("-run__finished_at", "-run_id")
        .first()
    )


# --------------------------------------------------------------------------------------------
# The voter list: latest scores per voter, score bands, best message
# --------------------------------------------------------------------------------------------

# Bands of a probability score, [low, high): the top band includes 1.0.
SCORE_BANDS: dict[str, tuple[float, float]] = {
    "0-20": (0.0, 0.2),
    "20-40": (0.2, 0.4),
    "40-60": (0.4, 0.6),
    "60-80": (0.6, 0.8),
    "80-100": (0.8, 1.0),
}
SCORE_FIELDS = ("turnout", "support")


def latest_complete_runs(campaign_ids: Collection[int] | None) -> dict[int, int]:
    """{campaign id: its latest complete scoring run's id} for these campaigns (None: all).

    A campaign has a handful of runs a year, so reading them all and keeping the newest is one
    small query, and later filters get a literal list of run ids (the (run, voter) key's prefix).
    """
    runs = ScoringRun.objects.complete()
    if campaign_ids is not None:
        runs = runs.filter(campaign_id__in=list(campaign_ids))
    latest: dict[int, int] = {}
    for campaign_id, run_id in runs.order_by("campaign_id", "-finished_at", "-id").values_list(
        "campaign_id", "id"
    ):
        latest.setdefault(campaign_id, run_id)
    return latest


def latest_score(run_ids: Collection[int], field: str) -> Subquery:
    """The outer voter's `field` in the latest run of their campaign, for `annotate`.

    A voter belongs to one campaign and `run_ids` holds one run per campaign, so at most one
    score matches: a probe of the unique (run, voter) key per run.
    """
    scores = VoterScore.objects.filter(run_id__in=list(run_ids), voter=OuterRef("pk"))
    output = FloatField() if field in SCORE_FIELDS else VoterScore._meta.get_field(field)
    return Subquery(scores.values(field)[:1], output_field=output)


def scored_in_band(run_ids: Collection[int], field: str, band: str) -> QuerySet[VoterScore]:
    """Voter ids whose `field` score in these runs falls in `band` (a key of SCORE_BANDS), for
    `filter(pk__in=…)`: one pass over the runs' scores, no per-voter probe."""
    low, high = SCORE_BANDS[band]
    scores = VoterScore.objects.filter(run_id__in=list(run_ids), **{f"{field}__gte": low})
    scores = scores.filter(**{f"{field}__lte" if high >= 1.0 else f"{field}__lt": high})
    return scores.values("voter_id")


def scored_in_runs(run_ids: Collection[int]) -> QuerySet[VoterScore]:
    """Voter ids with a score row in these runs."""
    return VoterScore.objects.filter(run_id__in=list(run_ids)).values("voter_id")


def unscored(run_ids: Collection[int], field: str) -> QuerySet[VoterScore]:
    """Voter ids with a score row but no `field` value in these runs (the model was missing)."""
    return VoterScore.objects.filter(run_id__in=list(run_ids), **{f"{field}__isnull": True}).values(
        "voter_id"
    )


def with_best_arm(run_ids: Collection[int], arm: str) -> QuerySet[VoterScore]:
    """Voter ids whose best arm in these runs is `arm`, for `filter(pk__in=…)`."""
    return VoterScore.objects.filter(run_id__in=list(run_ids), best_arm=arm).values("voter_id")


def best_arm_choices(run_ids: Collection[int]) -> list[str]:
    """The arms a run's persuasion model could pick (its program's arms, control first), read
    from the programs rather than from millions of scores."""
    programs = ScoringRun.objects.filter(
        pk__in=list(run_ids), persuasion_model__isnull=False
    ).values("persuasion_model__program_id")
    names = ProgramArm.objects.filter(program_id__in=programs).order_by("-is_control", "name")
    return list(dict.fromkeys(names.values_list("name", flat=True)))
