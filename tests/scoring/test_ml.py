"""Training, metrics and SHAP on small simulated data (no database)."""

from __future__ import annotations

import numpy as np
import pytest
import shap
import xgboost as xgb

from scoring.ml import (
    calibrated_points,
    classification_metrics,
    household_split,
    reliability_bins,
    shap_values,
    top_contributions,
    top_reasons,
    train_classifier,
)


@pytest.fixture(scope="module")
def voters():
    rng = np.random.default_rng(5)
    n = 6_000
    household = rng.integers(0, 2_500, n)
    x = np.column_stack([rng.random(n), rng.random(n), rng.integers(0, 2, n), rng.random(n)])
    logit = -1 + 3 * x[:, 0] + 1.5 * x[:, 2] + rng.normal(0, 0.3, 2_500)[household]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x.astype(np.float32), y, household


@pytest.fixture(scope="module")
def trained(voters):
    x, y, household = voters
    return train_classifier(x, y, household, seed=1, sizes=((2, 60), (4, 120)))


def test_split_keeps_each_household_in_one_part():
    groups = np.repeat(np.arange(300), 3)
    parts = household_split(groups, (0.6, 0.2, 0.2), seed=4)
    assert sum(p.sum() for p in parts) == 900
    for part in parts:
        inside = set(groups[part])
        assert all(set(groups[other]).isdisjoint(inside) for other in parts if other is not part)


def test_metrics_on_a_hand_case():
    labels = np.array([0, 0, 1, 1])
    probability = np.array([0.1, 0.6, 0.4, 0.9])
    metrics = classification_metrics(labels, probability)
    assert metrics["auc"] == pytest.approx(0.75)  # 3 of 4 (positive, negative) pairs ordered
    assert metrics["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    expected_log_loss = -(np.log(0.9) + np.log(0.4) + np.log(0.4) + np.log(0.9)) / 4
    assert metrics["log_loss"] == pytest.approx(expected_log_loss)
    bins = reliability_bins(labels, probability, bins=2)
    assert bins == [
        {"bin": 0, "predicted": pytest.approx(0.25), "observed": 0.5, "n": 2},
        {"bin": 1, "predicted": pytest.approx(0.75), "observed": 0.5, "n": 2},
    ]


def test_training_picks_the_cheapest_size_within_tolerance_and_reports_held_out_metrics(trained):
    metrics = trained.metrics
    assert [(s["max_depth"], s["trees"]) for s in metrics["sizes"]] == [(2, 60), (4, 120)]
    best = max(s["auc"] for s in metrics["sizes"])
    chosen = next(s for s in metrics["sizes"] if s["auc"] >= best - 0.005)
    assert (trained.params["max_depth"], trained.params["trees"]) == (
        chosen["max_depth"],
        chosen["trees"],
    )
    assert metrics["auc_given_up"] < 0.005
    assert 0.70 < metrics["auc"] < 0.95
    assert metrics["n_train"] + metrics["n_validation"] + metrics["n_test"] == 6_000
    assert sum(b["n"] for b in trained.reliability) == metrics["n_test"]


def test_calibrated_probabilities_are_within_a_few_points_of_observed_rates(trained):
    for b in trained.reliability:
        if b["n"] >= 100:
            assert abs(b["predicted"] - b["observed"]) < 0.08


def test_shap_values_equal_shap_tree_explainer_and_sum_to_the_raw_margin(trained, voters):
    x = voters[0][:300]
    contributions, base = shap_values(trained.booster, x)
    reference = shap.TreeExplainer(trained.booster).shap_values(x)
    assert np.abs(contributions - reference).max() < 1e-4
    margin = trained.booster.predict(xgb.DMatrix(x), output_margin=True)
    assert np.abs(base + contributions.sum(axis=1) - margin).max() < 1e-4


def test_reasons_in_calibrated_points_add_up_to_the_voters_difference_from_the_average(
    trained, voters
):
    x = voters[0][:500]
    contributions, base = shap_values(trained.booster, x)
    calibrated = trained.predict(x)

    points = (
        contributions
        * calibrated_points(contributions, base, calibrated, trained.calibrator)[:, None]
    )

    average = trained.calibrator.predict(1 / (1 + np.exp(-base.astype(np.float64))))
    assert np.abs(points.sum(axis=1) - (calibrated - average)).max() < 1e-6
    # Signs follow the log-odds contributions where the calibration rises with the score.
    moved = np.abs(calibrated - average) > 0.01
    assert (np.sign(points[moved]) == np.sign(contributions[moved])).mean() > 0.99


def test_top_reasons_are_the_largest_contributions_in_plain_words():
    names = ("age", "general_voted", "party_dem", "tenure_years")
    describe = {
        "age": lambda v: f"age {v['age']:.0f}",
        "general_voted": lambda v: f"voted in {v['general_voted']:.0f} of the last 4 generals",
        "party_dem": lambda v: "registered DEM",
        "tenure_years": lambda v: "",
    }
    row = {"age": 23.0, "general_voted": 1.0, "party_dem": 1.0, "tenure_years": 2.0}
    reasons = top_reasons(np.array([-0.2, -0.5, 0.1, 0.3]), row, names, describe, scale=0.25)
    assert reasons == [
        ("voted in 1 of the last 4 generals", -0.125),
        ("tenure_years", 0.075),
        ("age 23", -0.05),
    ]


def test_bulk_top_contributions_agree_with_the_per_voter_ranking():
    contributions = np.random.default_rng(3).normal(size=(500, 12))

    top = top_contributions(contributions, 3)

    expected = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :3]
    assert top.shape == (500, 3)
    assert (top == expected).all()
