"""The DR-learner and policy evaluation, on hand cases and on a simulated program."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.uplift import (
    UPLIFT_PARAMS,
    backlash,
    best_arm,
    choose_margin,
    choose_uplift_size,
    cross_fitted_safe_policy,
    dr_pseudo_outcomes,
    explain_choice,
    fit_dr_learner,
    household_folds,
    policy_scores,
    qini_coefficient,
    safe_policy,
    uplift_at,
)


def test_pseudo_outcome_matches_the_formula_on_a_hand_case():
    arm = np.array([0, 1, 2])
    outcome = np.array([1.0, 0.0, 1.0])
    propensity = np.full((3, 3), 0.5)
    pred = np.array([[0.5, 0.6, 0.4], [0.5, 0.6, 0.4], [0.2, 0.3, 0.4]])
    pseudo = dr_pseudo_outcomes(arm, outcome, propensity, pred)
    # Voter 0 (control, voted): mu1 - mu0 - (1 - 0.5)/0.5 = 0.1 - 1.0; mu2 - mu0 - 1.0.
    # Voter 1 (arm 1, did not vote): mu1 + (0 - 0.6)/0.5 - mu0 = 0.1 - 1.2; arm 2: -0.1.
    # Voter 2 (arm 2, voted): arm 1: 0.1; arm 2: 0.2 + (1 - 0.4)/0.5 = 1.4.
    assert pseudo == pytest.approx(np.array([[-0.9, -1.1], [-1.1, -0.1], [0.1, 1.4]]))


def test_policy_scores_weight_only_voters_whose_arm_the_policy_picks():
    arm = np.array([0, 1, 1, 0])
    outcome = np.array([1.0, 1.0, 0.0, 0.0])
    propensity = np.full((4, 2), 0.5)
    pred = np.full((4, 2), 0.5)
    ips, dr = policy_scores(np.array([1, 1, 1, 1]), arm, outcome, propensity, pred)
    assert ips == pytest.approx([0.0, 2.0, 0.0, 0.0])
    assert dr == pytest.approx([0.5, 1.5, -0.5, 0.5])


def test_best_arm_safe_policy_and_backlash_on_fixed_uplifts():
    uplift = np.array([[0.05, 0.01], [-0.02, 0.03], [-0.02, -0.04], [0.02, 0.021]])
    assert best_arm(uplift).tolist() == [1, 2, 0, 2]
    assert backlash(uplift).tolist() == [False, False, True, False]
    # Default arm 1 for all; switch only when another choice is better by more than 0.01.
    # Leaving the third voter alone beats arm 1 by 0.02 > 0.01: left alone.
    assert safe_policy(uplift, 1, 0.01).tolist() == [1, 2, 0, 1]
    # Leaving alone passes the same margin as any other departure: by 0.03 it does not (the
    # predicted harm of arm 1 is 0.02), so the third voter keeps the default.
    assert safe_policy(uplift, 1, 0.03).tolist() == [1, 2, 1, 1]
    # With no margin validated, nobody leaves the default, not even to be left alone.
    assert safe_policy(uplift, 1, float("inf")).tolist() == [1, 1, 1, 1]
    # Default arm 2: the third voter's harm from it (0.04) beats a 0.03 margin, not a 0.5 one.
    assert safe_policy(uplift, 2, 0.03).tolist() == [1, 2, 0, 2]
    assert safe_policy(uplift, 2, 0.5).tolist() == [2, 2, 2, 2]


def test_the_choice_is_explained_in_words_by_the_same_rule():
    backfire = {"one": -0.02, "two": -0.04}
    assert explain_choice(backfire, "control", "one", 0.01) == (
        "leave alone: every message is predicted to backfire, one by more than the safety "
        "margin (1.0 pp)"
    )
    # Predicted to backfire, but not beyond the margin: the default, explained as such.
    assert explain_choice(backfire, "one", "one", 0.05) == (
        "one, the best single message: no other choice beats it by more than the safety "
        "margin (5.0 pp)"
    )
    assert explain_choice({"one": 0.05, "two": 0.055}, "one", "one", 0.01) == (
        "one, the best single message: no other choice beats it by more than the safety "
        "margin (1.0 pp)"
    )
    assert explain_choice({"one": 0.05, "two": 0.01}, "one", "one", None) == (
        "one, the best single message: no personalization beat it beyond noise when tested"
    )
    assert explain_choice({"one": -0.02, "two": 0.03}, "two", "one", 0.01) == (
        "two is predicted to beat one, the best single message, by 5.0 pp, more than the "
        "safety margin (1.0 pp)"
    )
    # Staff read arms by label: the page passes one.
    assert explain_choice({"one": 0.05}, "one", "one", None, label=str.upper) == (
        "ONE, the best single message: no personalization beat it beyond noise when tested"
    )


def test_qini_and_top_share_uplift_reward_a_ranking_that_finds_responders():
    treated = np.array([1, 0] * 50)
    # The first 40 voters respond only when treated; the rest vote at 50% either way.
    outcome = np.array([1 if (i < 40 and t) else (i % 4 < 2) * (i >= 40) for i, t in
                        enumerate(treated)])  # fmt: skip
    perfect = -np.arange(100.0)
    reversed_ = np.arange(100.0)
    assert qini_coefficient(perfect, treated, outcome) > 0.1
    assert qini_coefficient(reversed_, treated, outcome) < 0
    assert uplift_at(perfect, treated, outcome, 0.2) == pytest.approx(1.0)
    assert uplift_at(perfect, np.ones(100), outcome, 0.2) is None


@pytest.fixture(scope="module")
def simulated_program():
    """A 3-arm program: arm 1 helps the high-x half and hurts the rest, arm 2 the reverse."""
    rng = np.random.default_rng(11)
    n = 9_000
    x = rng.random((n, 3))
    arm = rng.integers(0, 3, n)
    truth = np.column_stack(
        [np.where(x[:, 0] > 0.5, 0.20, -0.08), np.where(x[:, 0] > 0.5, -0.05, 0.15)]
    )
    base = 0.3 + 0.3 * x[:, 1]
    p = base + np.column_stack([np.zeros(n), truth])[np.arange(n), arm]
    outcome = (rng.random(n) < p).astype(float)
    propensity = np.full((n, 3), 1 / 3)
    fit = fit_dr_learner(
        x, arm, outcome, propensity, arm_names=["control", "one", "two"], folds=3, seed=3,
        params={"n_estimators": 80, "max_depth": 3},
    )  # fmt: skip
    return x, arm, outcome, propensity, truth, fit


def test_cross_fitted_uplift_recovers_the_true_effects(simulated_program):
    _, _, _, _, truth, fit = simulated_program
    assert fit.uplift_oof.shape == (9_000, 2)
    for k in range(2):
        assert np.corrcoef(fit.uplift_oof[:, k], truth[:, k])[0, 1] > 0.6
        # The mean pseudo-outcome is an unbiased estimate of the average effect.
        assert fit.pseudo[:, k].mean() == pytest.approx(truth[:, k].mean(), abs=0.03)
    assert len(fit.final_models) == 2


def test_personalized_policy_beats_every_single_arm(simulated_program):
    _, arm, outcome, propensity, truth, fit = simulated_program
    clusters = np.arange(len(arm))
    values = {}
    for a in range(3):
        _, dr = policy_scores(np.full(len(arm), a), arm, outcome, propensity, fit.outcome_oof)
        values[a] = dr.mean()
    best_single = max(values, key=values.get)
    margin = choose_margin(
        fit.uplift_oof, best_single, arm, outcome, propensity, fit.outcome_oof, clusters
    )
    chosen = safe_policy(fit.uplift_oof, best_single, margin)
    _, dr = policy_scores(chosen, arm, outcome, propensity, fit.outcome_oof)
    assert fit.nested
    assert margin < float("inf")
    assert dr.mean() > max(values.values()) + 0.03
    # Against the truth: the oracle gains mean(max(0, t1, t2)) over control.
    oracle = np.column_stack([np.zeros(len(arm)), truth]).max(axis=1).mean()
    achieved = np.column_stack([np.zeros(len(arm)), truth])[np.arange(len(arm)), chosen].mean()
    assert achieved / oracle > 0.8


def test_the_cross_fitted_policy_recovers_most_of_the_oracle(simulated_program):
    _, arm, _, _, truth, fit = simulated_program
    chosen = cross_fitted_safe_policy(fit.uplift_oof, fit.fold, fit.fold_policy)
    assert sorted(fit.fold_policy) == [0, 1, 2]
    assert all(np.isfinite(p.margin) for p in fit.fold_policy.values())
    oracle = np.column_stack([np.zeros(len(arm)), truth]).max(axis=1).mean()
    achieved = np.column_stack([np.zeros(len(arm)), truth])[np.arange(len(arm)), chosen].mean()
    assert achieved / oracle > 0.8


def _flip_fold_zero(simulated_program, *, nested: bool):
    """Fit on the program, then again with every outcome of fold 0 flipped."""
    x, arm, outcome, propensity, _, _ = simulated_program
    x, arm, outcome, propensity = x[:4_500], arm[:4_500], outcome[:4_500], propensity[:4_500]
    households = np.arange(len(arm)) // 2  # pairs of voters, as a door program randomizes
    kwargs = {
        "arm_names": ["control", "one", "two"],
        "clusters": households,
        "folds": 3,
        "seed": 3,
        "params": {"n_estimators": 40, "max_depth": 3},
        "sizes": ((1, 60), (2, 80)),
        "nested": nested,
    }
    fit = fit_dr_learner(x, arm, outcome, propensity, **kwargs)
    flipped = np.where(fit.fold == 0, 1 - outcome, outcome)
    refit = fit_dr_learner(x, arm, flipped, propensity, **kwargs)
    assert np.array_equal(refit.fold, fit.fold)
    return fit, refit


def test_flipping_one_folds_outcomes_changes_nothing_that_fold_is_scored_or_judged_by(
    simulated_program,
):
    fit, refit = _flip_fold_zero(simulated_program, nested=True)
    zero = fit.fold == 0
    # Its uplifts, and the default arm, margin and size of the policy it is evaluated under,
    # owe nothing to its own outcomes: bit for bit the same.
    assert np.array_equal(refit.uplift_oof[zero], fit.uplift_oof[zero])
    assert refit.fold_policy[0] == fit.fold_policy[0]
    assert np.array_equal(refit.outcome_oof[zero], fit.outcome_oof[zero])
    # The other folds learned from fold 0's outcomes, so theirs move.
    assert not np.array_equal(refit.uplift_oof[~zero], fit.uplift_oof[~zero])


def test_plain_cross_fitting_leaks_a_folds_outcomes_into_its_uplifts(simulated_program):
    """Why nesting: without it, fold 0's 'out-of-fold' uplifts move with fold 0's outcomes."""
    fit, refit = _flip_fold_zero(simulated_program, nested=False)
    zero = fit.fold == 0
    moved = np.abs(refit.uplift_oof[zero] - fit.uplift_oof[zero]).max()
    assert moved > 0.005, moved


def test_folds_keep_households_whole_and_balanced():
    households = np.repeat(np.arange(3_000), np.random.default_rng(2).integers(1, 5, 3_000))
    fold = household_folds(households, 5, seed=1)
    per_household = [np.unique(fold[households == h]) for h in range(0, 3_000, 7)]
    assert all(len(folds) == 1 for folds in per_household)
    assert sorted(np.unique(fold).tolist()) == [0, 1, 2, 3, 4]
    # Households (not voters) are dealt out evenly: 600 each.
    first_members = np.unique(households, return_index=True)[1]
    assert np.bincount(fold[first_members]).tolist() == [600] * 5
    assert np.array_equal(household_folds(households, 5, seed=1), fold)


def test_nested_cross_fitting_needs_three_folds(simulated_program):
    x, arm, outcome, propensity, _, _ = simulated_program
    with pytest.raises(ValueError, match="at least 3 folds"):
        fit_dr_learner(
            x[:300], arm[:300], outcome[:300], propensity[:300],
            arm_names=["control", "one", "two"], folds=2,
        )  # fmt: skip


def test_the_uplift_size_is_the_cheapest_within_one_standard_error_of_the_best():
    rng = np.random.default_rng(5)
    n = 12_000
    x = rng.random((n, 3))
    # An effect only where both x0 and x1 are high: a depth-1 (additive) model cannot draw it.
    effect = np.where((x[:, 0] > 0.5) & (x[:, 1] > 0.5), 0.6, -0.2)
    pseudo = (effect + rng.normal(0, 1.0, n))[:, None]
    fold = np.arange(n) % 3

    size, candidates, oof = choose_uplift_size(
        x, pseudo, fold, UPLIFT_PARAMS, ((1, 100), (2, 120), (3, 150)), seed=0
    )

    assert [(c["max_depth"], c["n_estimators"]) for c in candidates] == [
        (1, 100), (2, 120), (3, 150)
    ]  # fmt: skip
    assert min(c["above_best"] for c in candidates) == 0.0
    first_within = next(c for c in candidates if c["above_best"] <= c["se"])
    assert size == {k: first_within[k] for k in ("max_depth", "n_estimators")}
    assert size["max_depth"] >= 2
    assert candidates[0]["above_best"] > candidates[0]["se"]  # depth 1 really lost
    assert oof.shape == (n, 1)
    assert np.corrcoef(oof[:, 0], effect)[0, 1] > 0.8


def test_fixed_uplift_params_skip_the_size_search(simulated_program):
    x, arm, outcome, propensity, _, _ = simulated_program
    fit = fit_dr_learner(
        x[:3000], arm[:3000], outcome[:3000], propensity[:3000],
        arm_names=["control", "one", "two"], folds=3, seed=0,
        params={"n_estimators": 20, "max_depth": 2},
        uplift_params={"max_depth": 3, "n_estimators": 40},
    )  # fmt: skip
    assert fit.size == {"max_depth": 3, "n_estimators": 40}
    assert {p.size["max_depth"] for p in fit.fold_policy.values()} == {3}
    assert len(fit.size_candidates) == 1
    assert fit.final_models[0].get_params()["max_depth"] == 3
