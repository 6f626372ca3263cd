"""Training, approving and reporting on a generated county with a known truth."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest
import xgboost as xgb
from django.core.exceptions import PermissionDenied, ValidationError

from campaign.models import AuditEvent
from scoring import artifacts
from scoring.features import SPEC, build_context, build_features
from scoring.models import ModelStatus, ModelVersion
from scoring.services import (
    TrainingError,
    approve_model,
    experiment_report,
    train_persuasion_model,
    train_support_model,
    train_turnout_model,
)
from scoring.services.training import SUPPORT_EXCLUDED, age_bands
from tests.factories import MembershipFactory, SurveyResponseFactory, UserFactory
from voters.models import Assignment, SurveyQuestion, Voter

SMALL = ((2, 60), (3, 100))  # model sizes to choose from: enough to learn, quick to train


@pytest.mark.django_db
def test_turnout_model_is_trained_calibrated_and_approved_with_an_audit_row(
    campaign, other_campaign, staff_user, generated_county
):
    election = generated_county["election"]
    version = train_turnout_model(campaign=campaign, election=election, seed=2, sizes=SMALL)
    assert version.status == ModelStatus.DRAFT
    assert version.feature_spec == SPEC.as_dict()
    assert 0.70 < version.metrics["auc"] < 0.99
    assert version.metrics["auc_given_up"] < 0.005
    assert "Turnout model" in version.model_card
    bundle = artifacts.load(version.artifact)
    assert set(bundle.boosters) == {"model"}

    viewer = UserFactory(username="viewer")
    MembershipFactory(user=viewer, campaign=campaign, role="viewer")
    with pytest.raises(PermissionDenied):
        approve_model(version=version, user=viewer)
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.DRAFT

    approved = approve_model(version=version, user=staff_user, client_ip="10.0.0.1")
    assert (approved.status, approved.approved_by) == (ModelStatus.APPROVED, staff_user)
    event = AuditEvent.objects.get(action="model_approve")
    assert (event.campaign_id, event.user, event.object_id, event.client_ip) == (
        campaign.pk, staff_user, str(version.pk), "10.0.0.1",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="not a draft"):
        approve_model(version=approved, user=staff_user)

    successor = train_turnout_model(campaign=campaign, election=election, seed=3, sizes=SMALL)
    approve_model(version=successor, user=staff_user)
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.RETIRED
    assert ModelVersion.objects.filter(campaign=other_campaign).count() == 0


@pytest.mark.django_db
def test_experiment_report_lists_every_arm_with_control_at_zero_lift(campaign, generated_county):
    report = experiment_report(
        campaign=campaign,
        program=generated_county["program"],
        election=generated_county["election"],
    )
    arms = {a["arm"]: a for a in report["arms"]}
    counts = generated_county["files"].arm_counts
    assert {a: arms[a]["n"] for a in arms} == counts
    assert arms["control"]["lift"] == 0
    assert arms["control"]["p_value"] is None
    for name, arm in arms.items():
        if name != "control":
            assert arm["ci_low"] < arm["lift"] < arm["ci_high"]
            assert arm["lift"] == pytest.approx(arm["rate"] - arms["control"]["rate"])
    assert set(report["by_band"]) == {"turnout", "age"}


def ground_truth(path) -> dict[str, float]:
    with path.open() as handle:
        return {row["voter_id"]: float(row["p_support"]) for row in csv.DictReader(handle)}


@pytest.mark.django_db
def test_support_model_learns_the_hidden_support_propensity(campaign, county_with_answers):
    version = train_support_model(campaign=campaign, sizes=SMALL, seed=4)

    assert version.kind == "support"
    assert not set(SUPPORT_EXCLUDED) & set(version.feature_spec["names"])
    answers = version.metrics["answers"]
    assert answers["1"] + answers["2"] > 0
    assert answers["4"] + answers["5"] > 0
    assert version.metrics["auc"] > 0.7
    # Against the generator's hidden truth, for every voter (answered or not).
    bundle = artifacts.load(version.artifact)
    matrix = build_features(build_context(campaign_id=campaign.pk, as_of=version.features_as_of))
    names = version.feature_spec["names"]
    columns = [list(matrix.spec.names).index(n) for n in names]
    predicted = bundle.calibrators["model"].predict(
        bundle.boosters["model"].predict(xgb.DMatrix(matrix.values[:, columns]))
    )
    ids = dict(Voter.objects.filter(campaign=campaign).values_list("pk", "voter_id"))
    truth = ground_truth(county_with_answers["files"].ground_truth_csv)
    true_p = np.array([truth[ids[int(pk)]] for pk in matrix.voter_pks])
    assert np.corrcoef(predicted, true_p)[0, 1] > 0.6


@pytest.mark.django_db
def test_a_question_outcome_is_refused_when_only_the_treated_were_asked(
    campaign, county_with_answers
):
    """The generated program's answers come from its own door knocks: control was never asked."""
    program, question = (
        county_with_answers["program"],
        SurveyQuestion.objects.get(campaign=campaign, slug="support"),
    )
    versions = ModelVersion.objects.count()

    with pytest.raises(TrainingError, match="cannot measure this program") as refused:
        train_persuasion_model(campaign=campaign, program=program, question=question)
    with pytest.raises(TrainingError, match="cannot measure this program"):
        experiment_report(campaign=campaign, program=program, question=question)

    assert "0.8% of the control group answered it against 12.5% of the treated arms" in str(
        refused.value
    )
    assert ModelVersion.objects.count() == versions


@pytest.mark.django_db
def test_a_question_outcome_is_measured_when_control_was_asked_too(campaign, county_with_answers):
    program = county_with_answers["program"]
    question = SurveyQuestion.objects.get(campaign=campaign, slug="support")
    start = Assignment.objects.filter(program=program).order_by("assigned_at")[0].assigned_at
    after = start + dt.timedelta(days=40)
    # A follow-up poll reaches every arm alike: one voter in three, control included.
    for i, assignment in enumerate(Assignment.objects.filter(program=program).order_by("pk")):
        if i % 3 == 0:
            SurveyResponseFactory(
                voter_id=assignment.voter_id, campaign=campaign, support="2", answered_at=after
            )

    report = experiment_report(campaign=campaign, program=program, question=question)

    shares = report["answered_share"]
    assert set(shares) == {"control", "civic_duty", "neighbors", "plan_making", "social_pressure"}
    assert 0.3 < shares["control"] < 0.37
    assert report["dropped"]["no answer to the question after the program's start"] == (
        report["assigned"] - report["dropped"]["not registered by the program's start"]
        - report["n"]
    )  # fmt: skip


@pytest.mark.django_db
def test_training_and_the_report_say_how_many_assigned_voters_were_left_out(
    campaign, generated_county
):
    program = generated_county["program"]
    late = Assignment.objects.filter(program=program).order_by("pk")[:7]
    start = Assignment.objects.order_by("assigned_at")[0].assigned_at.date()
    Voter.objects.filter(pk__in=[a.voter_id for a in late]).update(
        registered_on=start + dt.timedelta(days=1)
    )
    Voter.objects.filter(
        pk__in=Assignment.objects.filter(program=program).values("voter_id")[100:140]
    ).update(birth_date=None, birth_year=None)

    report = experiment_report(
        campaign=campaign, program=program, election=generated_county["election"]
    )

    assigned = sum(generated_county["files"].arm_counts.values())
    assert report["assigned"] == assigned
    assert report["dropped"] == {"not registered by the program's start": 7}
    assert report["n"] == assigned - 7
    unknown = sum(row["n"] for row in report["by_band"]["age"]["age unknown"])
    assert unknown == 40
    assert "65+" in report["by_band"]["age"]


def test_an_unknown_age_is_a_band_of_its_own():
    ages = np.array([22.0, 44.0, np.nan, 70.0, 64.9])
    assert age_bands(ages).tolist() == ["18-29", "30-44", "age unknown", "65+", "45-64"]
