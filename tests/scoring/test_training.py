"""Training, approving and reporting on a generated county with a known truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import xgboost as xgb
from django.core.exceptions import PermissionDenied, ValidationError

from campaign.models import AuditEvent
from scoring import artifacts
from scoring.features import SPEC, build_context, build_features
from scoring.models import ModelStatus, ModelVersion
from scoring.services import (
    approve_model,
    experiment_report,
    train_support_model,
    train_turnout_model,
)
from scoring.services.training import SUPPORT_EXCLUDED
from tests.factories import MembershipFactory, UserFactory
from voters.models import Voter

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
