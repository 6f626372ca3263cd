"""Read queries of the scoring app that the staff console (`scoring.admin`) presents: the approved
version a draft would replace, a run's progress, a voter's latest scores. None of them writes."""

from __future__ import annotations

from django.db.models import BigIntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from scoring.models import ModelStatus, ModelVersion, ScoringChunk, ScoringRun, VoterScore
from voters.models import Voter


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
