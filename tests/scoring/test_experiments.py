"""The experiment report's numbers on experiments small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from scoring.experiments import ExperimentError, analyze_by_band, analyze_experiment, holm

CONTROL_Y = [0, 1, 0, 1]
ARM_Y = [1, 1, 1, 0]


def tiny(clusters: list[int] | None = None):
    outcome = np.array(CONTROL_Y + ARM_Y)
    arm = np.array(["control"] * 4 + ["door"] * 4)
    return outcome, arm, np.array(clusters if clusters is not None else range(8))


def test_lift_is_difference_of_means_with_hc1_interval_when_every_voter_is_own_household():
    result = analyze_experiment(*tiny())
    control, door = result.arms
    # By hand: residual variance sums over n^2 per arm, times G/(G-1) * (N-1)/(N-p) = 8/6.
    variance = ((3 * 0.25**2 + 0.75**2) / 16 + (4 * 0.5**2) / 16) * 8 / 6
    half_width = stats.t.ppf(0.975, df=7) * math.sqrt(variance)
    assert (control.arm, control.n, control.rate, control.lift) == ("control", 4, 0.5, 0.0)
    assert control.p_value is None
    assert (door.arm, door.n, door.rate) == ("door", 4, 0.75)
    assert door.lift == pytest.approx(0.25)
    assert door.std_error == pytest.approx(math.sqrt(variance))
    assert door.ci_low == pytest.approx(0.25 - half_width)
    assert door.ci_high == pytest.approx(0.25 + half_width)
    expected_p = 2 * stats.t.sf(0.25 / math.sqrt(variance), df=7)
    assert door.p_value == pytest.approx(expected_p)
    assert (result.n, result.clusters) == (8, 8)


def test_households_of_identical_twins_give_the_interval_of_the_undoubled_experiment():
    outcome, arm, _ = tiny()
    doubled = analyze_experiment(
        np.repeat(outcome, 2), np.repeat(arm, 2), np.repeat(np.arange(8), 2)
    )
    naive = analyze_experiment(np.repeat(outcome, 2), np.repeat(arm, 2), np.arange(16))
    # Clustering on the household undoes the fake precision of counting each twin twice.
    expected = (3 * 0.25**2 + 0.75**2) / 16 + (4 * 0.5**2) / 16
    assert doubled.arm("door").std_error == pytest.approx(math.sqrt(expected * 8 / 7 * 15 / 14))
    assert naive.arm("door").std_error < doubled.arm("door").std_error * 0.75
    assert doubled.arm("door").lift == pytest.approx(0.25)


def test_holm_adjustment_steps_down_and_stays_monotone():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])


def test_p_values_are_adjusted_across_all_treated_arms():
    rng = np.random.default_rng(7)
    arm = np.array(["control", "a", "b", "c"] * 500)
    outcome = (rng.random(2000) < np.where(arm == "a", 0.6, 0.4)).astype(int)
    result = analyze_experiment(outcome, arm, np.arange(2000))
    raw = [result.arm(name).p_value_unadjusted for name in ("a", "b", "c")]
    assert [result.arm(name).p_value for name in ("a", "b", "c")] == pytest.approx(holm(raw))
    assert [a.arm for a in result.arms] == ["control", "a", "b", "c"]
    assert result.arm("a").p_value < 0.001


def test_an_experiment_without_control_is_refused():
    with pytest.raises(ExperimentError, match="control"):
        analyze_experiment(np.array([1, 0]), np.array(["a", "b"]), np.array([1, 2]))


def test_bands_are_analyzed_separately_and_thin_bands_skipped():
    outcome, arm, clusters = tiny()
    band = np.array(["young", "young", "old", "old", "young", "young", "old", "old"])
    band[0] = "lonely"  # a band with only one control voter and no treated voter
    results = analyze_by_band(outcome, arm, clusters, band)
    assert sorted(results) == ["old", "young"]
    assert results["old"].arm("door").n == 2
    assert results["old"].arm("door").rate == 0.5
    assert results["old"].arm("control").rate == 0.5


def test_a_band_with_as_many_voters_as_arms_is_skipped_not_a_crash():
    results = analyze_by_band(
        np.array([1, 0, 1, 0, 1]),
        np.array(["control", "door", "control", "door", "door"]),
        np.arange(5),
        np.array(["a", "a", "b", "b", "b"]),
    )
    assert sorted(results) == ["b"]
    assert results["b"].arm("door").n == 2
