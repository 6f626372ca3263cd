"""Scoring runs in-process (eager Celery): every voter once, approved models only, exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from campaign.models import AuditEvent
from scoring.models import ModelVersion, RunStatus, ScoringRun, VoterScore
from scoring.services import (
    ScoringError,
    approve_model,
    export_out_of_fold,
    export_scores,
    run_progress,
    start_scoring_run,
    train_persuasion_model,
    train_turnout_model,
)
from scoring.services.runs import finish_scoring_run, run_context
from tests.factories import HouseholdFactory, ScoringRunFactory, VoterFactory, VoterScoreFactory
from voters.models import Voter

SMALL = ((2, 60), (3, 80))
QUICK_UPLIFT = {"n_estimators": 60, "max_depth": 3}


@pytest.fixture
def models(campaign, staff_user, generated_county):
    turnout = train_turnout_model(
        campaign=campaign, election=generated_county["election"], sizes=SMALL, seed=1
    )
    persuasion = train_persuasion_model(
        campaign=campaign,
        program=generated_county["program"],
        election=generated_county["election"],
        folds=3,
        params=QUICK_UPLIFT,
    )
    return {"turnout": turnout, "persuasion": persuasion, "staff": staff_user}


def run_scoring(campaign, capture, **kwargs) -> ScoringRun:
    with capture(execute=True):
        run = start_scoring_run(campaign=campaign, chunk_voters=2_500, **kwargs)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_only_approved_models_score(campaign, models, django_capture_on_commit_callbacks):
    with pytest.raises(ScoringError, match="no approved turnout model"):
        start_scoring_run(campaign=campaign)
    assert ScoringRun.objects.count() == 0

    approve_model(version=models["turnout"], user=models["staff"])
    run = run_scoring(campaign, django_capture_on_commit_callbacks)

    # The persuasion model is still a draft: the run scores turnout only.
    assert (run.turnout_model, run.persuasion_model) == (models["turnout"], None)
    assert run.status == RunStatus.COMPLETE
    assert set(VoterScore.objects.filter(run=run).values_list("best_arm", flat=True)) == {""}


@pytest.mark.django_db
def test_a_run_scores_every_voter_exactly_once_with_reasons(
    campaign, other_campaign, models, django_capture_on_commit_callbacks
):
    approve_model(version=models["turnout"], user=models["staff"])
    approve_model(version=models["persuasion"], user=models["staff"])

    run = run_scoring(campaign, django_capture_on_commit_callbacks)

    voters = Voter.objects.filter(campaign=campaign).count()
    scores = VoterScore.objects.filter(run=run)
    assert run.status == RunStatus.COMPLETE, run.error
    assert run.chunks_total == -(-voters // 2_500)
    assert scores.count() == voters == run.voters_total
    assert scores.values("voter").distinct().count() == voters
    progress = run_progress(run)
    assert (progress["chunks_done"], progress["voters_scored"]) == (run.chunks_total, voters)
    sample = scores.order_by("voter_id").first()
    assert 0 <= sample.turnout <= 1
    arms = {"civic_duty", "neighbors", "plan_making", "social_pressure"}
    assert set(sample.uplift) == arms
    assert sample.best_arm in arms | {"control"}
    turnout_reasons = sample.reasons["turnout"]
    assert len(turnout_reasons) == 3
    assert all(isinstance(text, str) and text for text, _ in turnout_reasons)
    sizes = [abs(value) for _, value in turnout_reasons]
    assert sizes == sorted(sizes, reverse=True)  # largest first
    assert {m for m in sample.reasons if m.startswith("uplift")} == (
        {f"uplift {sample.best_arm}"} if sample.best_arm != "control" else set()
    )
    assert VoterScore.objects.latest_complete(campaign).count() == voters
    assert VoterScore.objects.latest_complete(other_campaign).count() == 0

    # A chunk delivered again writes nothing new.
    from scoring.services import score_chunk

    chunk = run.chunks.first()
    assert score_chunk(run_id=run.pk, chunk_id=chunk.pk) == 0
    assert VoterScore.objects.filter(run=run).count() == voters

    out = io.StringIO()
    written = export_scores(campaign=campaign, out=out, actor="test")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == len(rows) == voters
    assert list(rows[0]) == [
        "voter_id", "turnout", "support", "uplift_civic_duty", "uplift_neighbors",
        "uplift_plan_making", "uplift_social_pressure", "best_arm", "why",
        "reason_1", "reason_2", "reason_3",
    ]  # fmt: skip
    assert AuditEvent.objects.filter(action="export", row_count=voters).count() == 1
    # One answer per voter: whom every message would hurt, the default arm by more than the
    # margin, is left alone, and the row says why.
    uplift_columns = [c for c in rows[0] if c.startswith("uplift_")]
    metrics = models["persuasion"].metrics
    default, margin = metrics["best_single_arm"], metrics["margin"] or float("inf")
    left_alone = 0
    for row in rows:
        every_arm_hurts = all(float(row[c]) < 0 for c in uplift_columns)
        leave_alone = every_arm_hurts and -float(row[f"uplift_{default}"]) > margin
        left_alone += leave_alone
        assert (row["best_arm"] == "control") == leave_alone, row
        assert row["why"].startswith("leave alone: every message") == leave_alone, row
        assert row["why"], row
        assert row["reason_1"].endswith(" pts"), row
    backlash = scores.filter(is_backlash=True)
    assert set(backlash.values_list("best_arm", flat=True)) <= {"control"}
    assert backlash.count() == left_alone


@pytest.mark.django_db
def test_a_model_of_another_feature_spec_fails_the_run_with_its_reason(
    campaign, models, django_capture_on_commit_callbacks
):
    approve_model(version=models["turnout"], user=models["staff"])
    ModelVersion.objects.filter(pk=models["turnout"].pk).update(
        feature_spec={"version": "0", "names": ["age"]}
    )

    with pytest.raises(Exception, match="feature spec 0"):
        run_scoring(campaign, django_capture_on_commit_callbacks)

    run = ScoringRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "feature spec 0" in run.error
    assert VoterScore.objects.count() == 0


@pytest.mark.django_db
def test_out_of_fold_export_lists_every_program_voter(campaign, models, generated_county):
    out = io.StringIO()

    written = export_out_of_fold(
        campaign=campaign, program=generated_county["program"], out=out, actor="test"
    )

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == len(rows) == models["persuasion"].metrics["n"]
    assert list(rows[0])[:2] == ["voter_id", "assigned_arm"]
    assert list(rows[0])[-1] == "chosen_arm"
    assert {r["assigned_arm"] for r in rows} == set(generated_county["files"].arm_counts)


@pytest.mark.django_db
def test_a_runs_figures_are_built_once_and_shared_until_the_run_ends(
    campaign, django_assert_num_queries
):
    home = HouseholdFactory(campaign=campaign)
    VoterFactory.create_batch(2, campaign=campaign, household=home)
    run = ScoringRunFactory(campaign=campaign, status=RunStatus.RUNNING, finished_at=None)

    built = run_context(run)
    with django_assert_num_queries(0):
        shared = run_context(run)  # what another worker process gets from the cache

    assert (built.households.ids.tolist(), built.households.members.tolist()) == ([home.pk], [2])
    assert (shared.households.ids.tolist(), shared.households.members.tolist()) == ([home.pk], [2])
    finish_scoring_run(run_id=run.pk)
    with CaptureQueriesContext(connection) as queries:
        run_context(run)
    assert len(queries) > 0  # the run's end dropped them


@pytest.mark.django_db
def test_a_scored_voter_cannot_be_deleted_and_a_deleted_run_takes_its_scores():
    score = VoterScoreFactory()

    with pytest.raises(ProtectedError):
        score.voter.delete()

    assert Voter.objects.filter(pk=score.voter_id).exists()
    score.run.delete()
    assert not VoterScore.objects.filter(pk=score.pk).exists()
    assert Voter.objects.filter(pk=score.voter_id).exists()
