"""The program draw (messaging.randomization): pure numpy, no database."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from messaging.randomization import (
    CONTROL,
    OUT,
    Choice,
    Design,
    draw_program,
    unique_inverse,
    unit_uplift,
)


def _households(n_households: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(unit per voter, stratum per voter): 1-3 voters a household, 12 strata."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, n_households)
    unit = np.repeat(np.arange(n_households), sizes)
    stratum = np.repeat(rng.integers(0, 12, n_households), sizes)
    return unit, stratum


def _binomial_interval(n: int, p: float, level: float = 0.999) -> tuple[int, int]:
    low, high = stats.binom.interval(level, n, p)
    return int(low), int(high)


# -- randomization ---------------------------------------------------------------------------


def test_control_share_is_within_its_binomial_interval():
    unit, stratum = _households(20_000)
    draw = draw_program(
        unit=unit, stratum=stratum, design=Design(arms=3, control_share=0.1, policy="uniform")
    )

    control = int((draw.arm == CONTROL).sum())
    low, high = _binomial_interval(len(draw.keys), 0.1)
    assert low <= control <= high
    assert (draw.arm != OUT).all()


def test_strata_are_balanced():
    unit, stratum = _households(5_000)
    draw = draw_program(
        unit=unit,
        stratum=stratum,
        design=Design(arms=2, control_share=0.15, policy="uniform", seed=7),
    )

    for s in np.unique(draw.stratum):
        inside = draw.stratum == s
        n = int(inside.sum())
        control = int((draw.arm[inside] == CONTROL).sum())
        assert control in (int(np.floor(0.15 * n)), int(np.ceil(0.15 * n)))


def test_same_seed_gives_the_same_draw_and_another_seed_another():
    unit, stratum = _households(3_000)
    design = Design(arms=3, control_share=0.2, policy="uniform", seed=42)

    first = draw_program(unit=unit, stratum=stratum, design=design)
    again = draw_program(unit=unit[::-1], stratum=stratum[::-1], design=design)
    other = draw_program(
        unit=unit, stratum=stratum, design=Design(arms=3, control_share=0.2, policy="uniform")
    )

    assert np.array_equal(first.keys, again.keys)
    assert np.array_equal(first.arm, again.arm)  # the voters' order does not matter
    assert not np.array_equal(first.arm, other.arm)


def test_control_households_get_nothing():
    unit, stratum = _households(2_000)
    draw = draw_program(
        unit=unit,
        stratum=stratum,
        design=Design(arms=2, control_share=0.3, policy="uniform", seed=1),
    )

    voter_arm = draw.voter_arm()
    for household in np.flatnonzero(draw.arm == CONTROL):
        assert set(voter_arm[unit == draw.keys[household]]) == {CONTROL}
    # Every household's voters share one arm.
    for household in range(len(draw.keys)):
        assert len(set(voter_arm[unit == draw.keys[household]])) == 1


# -- policies --------------------------------------------------------------------------------

# Voter by voter (each their own unit): uplift for arms 1, 2, 3; default arm 1, margin 0.01.
UPLIFT_TABLE = np.array(
    [
        [0.02, 0.05, 0.01],  # arm 2 beats the default by 0.03 > margin: 2
        [0.03, 0.035, 0.00],  # arm 2 beats it by 0.005 only: the default, 1
        [-0.02, 0.00, 0.04],  # arm 3 by 0.06: 3
        [-0.05, -0.01, 0.005],  # arm 3 by 0.055: 3
        [-0.03, 0.00, 0.00],  # no message beats nothing by more than the margin: left alone
        [0.01, 0.01, 0.01],  # a tie: the default
    ]
)


def test_personalized_choice_follows_a_hand_made_uplift_table():
    n = len(UPLIFT_TABLE)
    draw = draw_program(
        unit=np.arange(n),
        stratum=np.zeros(n),
        design=Design(arms=3, control_share=0.01, policy="personalized", seed=3),
        uplift=UPLIFT_TABLE,
        choice=Choice(default_arm=1, margin=0.01),
    )

    assert draw.policy_arm.tolist() == [2, 1, 3, 3, OUT, 1]
    assert draw.left_alone == 1
    treated = draw.arm > 0
    assert np.array_equal(draw.arm[treated], draw.policy_arm[treated])  # no exploration


def test_household_gets_the_arm_maximizing_its_members_summed_uplift():
    # Alone, the first voter would get arm 1 and the second arm 2; together, arm 2 (0.02 > 0.01).
    uplift = np.array([[0.05, 0.00], [-0.04, 0.02], [0.01, 0.00]])
    draw = draw_program(
        unit=np.array(["household:1", "household:1", "household:2"], dtype=object),
        stratum=np.zeros(3),
        design=Design(arms=2, control_share=0.01, policy="personalized"),
        uplift=uplift,
        choice=Choice(default_arm=1, margin=0.0),
    )

    assert draw.keys.tolist() == ["household:1", "household:2"]
    assert draw.policy_arm.tolist() == [2, 1]
    assert draw.voter_unit.tolist() == [0, 0, 1]


def test_budget_keeps_the_top_expected_net_votes():
    value = np.arange(1, 11) / 100  # unit i's uplift: 0.01 .. 0.10
    draw = draw_program(
        unit=np.arange(10),
        stratum=np.zeros(10),
        design=Design(arms=1, control_share=0.2, policy="single", budget=4, seed=5),
        uplift=value.reshape(-1, 1),
    )

    kept = np.flatnonzero(draw.arm != OUT)
    assert kept.tolist() == [5, 6, 7, 8, 9]  # the five best: 4 treated plus 1 control
    assert int((draw.arm > 0).sum()) == 4
    assert int((draw.arm == CONTROL).sum()) == 1
    assert draw.over_budget == 5
    assert draw.value.tolist() == pytest.approx(value.tolist())


def test_budget_without_scores_keeps_a_seeded_random_subset_within_the_budget():
    unit, stratum = _households(1_000)
    design = Design(arms=2, control_share=0.1, policy="uniform", budget=300, seed=9)

    draw = draw_program(unit=unit, stratum=stratum, design=design)
    again = draw_program(unit=unit, stratum=stratum, design=design)

    assert int((draw.arm > 0).sum()) <= 300
    assert int((draw.arm > 0).sum()) >= 300 - 12  # at most one unit per stratum short
    assert np.array_equal(draw.arm, again.arm)
    assert draw.over_budget == int((draw.arm == OUT).sum())


def test_backlash_voters_are_left_out():
    uplift = np.array([[-0.01, -0.02], [0.01, -0.01], [-0.03, -0.01]])
    backlash = (uplift < 0).all(axis=1)
    draw = draw_program(
        unit=np.array([1, 1, 2]),
        stratum=np.zeros(3),
        design=Design(arms=2, control_share=0.5, policy="personalized", seed=2),
        uplift=uplift,
        backlash=backlash,
        choice=Choice(default_arm=1),
    )

    assert draw.voter_unit.tolist() == [OUT, 0, OUT]
    assert draw.keys.tolist() == [1]  # household 2 had only a backlash voter
    assert draw.backlash_voters == 2
    assert draw.voter_arm()[[0, 2]].tolist() == [OUT, OUT]


def test_exploration_share_is_honoured():
    n = 40_000
    uplift = np.tile([0.05, 0.0, 0.0, 0.0], (n, 1))  # the policy gives everyone arm 1
    design = Design(
        arms=4, control_share=0.1, policy="personalized", exploration_share=0.2, seed=11
    )
    draw = draw_program(
        unit=np.arange(n),
        stratum=np.zeros(n),
        design=design,
        uplift=uplift,
        choice=Choice(default_arm=1, margin=0.0),
    )

    treated = draw.arm[draw.arm > 0]
    departed = int((treated != 1).sum())
    # An explored unit lands on another arm 3 times in 4.
    low, high = _binomial_interval(len(treated), 0.2 * 3 / 4)
    assert low <= departed <= high
    for a in (2, 3, 4):
        low, high = _binomial_interval(len(treated), 0.2 / 4)
        assert low <= int((treated == a).sum()) <= high
    expected = {CONTROL: 0.1, 1: 0.9 * (0.05 + 0.8), 2: 0.9 * 0.05}
    for a, p in expected.items():
        assert draw.propensity[draw.arm == a] == pytest.approx(np.full((draw.arm == a).sum(), p))


def test_propensity_vectors_sum_to_one_and_hold_the_arm_received():
    unit, stratum = _households(500)
    rng = np.random.default_rng(4)
    uplift = rng.normal(0.01, 0.03, (len(unit), 3))
    draw = draw_program(
        unit=unit,
        stratum=stratum,
        design=Design(arms=3, control_share=0.2, policy="personalized", exploration_share=0.3),
        uplift=uplift,
        choice=Choice(default_arm=2, margin=0.0),
    )

    drawn = draw.arm != OUT
    matrix = draw.propensities()
    assert matrix[drawn].sum(axis=1) == pytest.approx(np.ones(drawn.sum()))
    rows = np.flatnonzero(drawn)
    assert matrix[rows, draw.arm[rows]] == pytest.approx(draw.propensity[rows])
    assert np.isnan(matrix[~drawn]).all()


# -- propensities make the estimate unbiased -------------------------------------------------


def test_ips_estimate_of_each_arm_mean_equals_the_truth_within_its_ci():
    """Simulate a personalized program whose arms' true outcome rates are known.

    The policy sends most households the arm their (noisy) predicted uplift favours, which
    correlates with their true effect, so a plain mean of each arm is biased; weighting each voter
    by 1 / propensity recovers each arm's mean over the whole population.
    """
    rng = np.random.default_rng(2024)
    unit, stratum = _households(30_000, seed=5)
    n, k = len(unit), 3
    base = rng.uniform(0.2, 0.7, n)
    effect = rng.normal(0.0, 0.08, (n, k))
    truth_rate = np.clip(np.column_stack([base, base[:, None] + effect]), 0, 1)
    predicted = effect + rng.normal(0, 0.03, (n, k))
    design = Design(arms=k, control_share=0.2, policy="personalized", exploration_share=0.3, seed=8)
    draw = draw_program(
        unit=unit,
        stratum=stratum,
        design=design,
        uplift=predicted,
        choice=Choice(default_arm=1, margin=0.0),
    )

    voter_arm = draw.voter_arm()
    drawn = voter_arm != OUT
    outcome = rng.random(n) < truth_rate[np.arange(n), np.clip(voter_arm, 0, None)]
    matrix = draw.propensities()[draw.voter_unit]  # per voter
    naive_is_biased = False
    for a in range(k + 1):
        got = drawn & (voter_arm == a)
        weight = np.where(got, 1.0 / np.where(drawn, matrix[:, a], 1.0), 0.0)
        contribution = (weight * outcome)[drawn]
        # Households are the randomized units: the standard error sums within them.
        per_unit = np.bincount(draw.voter_unit[drawn], weights=contribution)
        size = np.bincount(draw.voter_unit[drawn])
        m = size.sum()
        estimate = per_unit.sum() / m
        residual = per_unit - estimate * size
        se = np.sqrt((residual**2).sum()) / m
        truth = truth_rate[drawn, a].mean()
        assert abs(estimate - truth) < 3.3 * se, (a, estimate, truth, se)
        naive_se = outcome[got].std() / np.sqrt(got.sum())
        naive_is_biased |= abs(outcome[got].mean() - truth) > 3.3 * naive_se
    assert naive_is_biased  # the test would catch propensities that did not matter


# -- speed without a change of result -------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        np.array([5, 0, 5, 2, 9, 0]),  # small codes: counted
        np.array([3, 10**12, 3]),  # sparse: sorted
        np.array([-1, 4, -1]),  # negative: sorted
        np.array(["b", "a", "b"]),  # any sortable keys
        np.array([], dtype=np.int64),
    ],
)
def test_unique_inverse_equals_numpy_unique(values):
    keys, inverse = unique_inverse(values)
    expected_keys, expected_inverse = np.unique(values, return_inverse=True)

    assert keys.tolist() == expected_keys.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()


def test_summed_uplift_equals_adding_row_by_row():
    rng = np.random.default_rng(3)
    voter_unit = rng.integers(-1, 50, 1_000)
    uplift = rng.normal(0, 0.01, (1_000, 3))
    uplift[rng.random((1_000, 3)) < 0.1] = np.nan
    expected = np.zeros((50, 3))
    for voter, unit in enumerate(voter_unit):
        if unit >= 0:
            expected[unit] += np.nan_to_num(uplift[voter])

    assert np.array_equal(unit_uplift(uplift, voter_unit, 50, 3), expected)
