"""Grading a program's plan against true effects, on a hand-made universe whose every figure is
worked out by hand below."""

from __future__ import annotations

import numpy as np
import pytest

from messaging.models import ProgramDesign
from messaging.program_truth import grade_plan, read_true_effects
from messaging.programs import Plan
from messaging.randomization import Choice, Design, draw_program
from messaging.universe import UniverseRows
from tests.factories import VoterFactory

# Voter: household, true effect of arm A and arm B (as probabilities), flagged backlash.
VOTERS = {
    "a": ("H1", 0.02, 0.00, False),
    "b": ("H1", 0.01, 0.03, False),
    "c": ("H2", -0.01, 0.02, False),
    "e": ("H2", 0.01, 0.01, True),
    "d": ("H3", 0.04, -0.05, False),
}
CONTROL, EXPLORATION = 0.2, 0.5


def hand_made_plan(campaign, *, budget: int | None = None) -> tuple[Plan, dict]:
    voters = {name: VoterFactory(campaign=campaign, voter_id=name) for name in VOTERS}
    keys, unit = np.unique([VOTERS[n][0] for n in voters], return_inverse=True)
    effects = np.array([VOTERS[n][1:3] for n in voters])
    backlash = np.array([VOTERS[n][3] for n in voters])
    design = Design(
        arms=2, control_share=CONTROL, policy="personalized",
        exploration_share=EXPLORATION, seed=7,
    )  # fmt: skip
    # The model predicts the truth, and the margin is 0: the policy is the oracle's, except for
    # the backlash voter it leaves out.
    draw = draw_program(
        unit=unit, stratum=np.zeros(len(unit)), design=design, uplift=effects,
        backlash=backlash, choice=Choice(default_arm=1, margin=0.0),
    )  # fmt: skip
    rows = UniverseRows(
        voter_pk=np.array([v.pk for v in voters.values()]), unit=unit, unit_keys=keys,
        stratum=np.zeros(len(unit), dtype=np.int64), uplift=effects, backlash=backlash,
        counts={"voters": len(unit)},
    )  # fmt: skip
    program_design = ProgramDesign(control_share=CONTROL, budget=budget)
    plan = Plan(program_design, ["control", "A", "B"], rows, draw, None, None)
    truth = {name: np.array(VOTERS[name][1:3]) for name in voters}
    return plan, truth


@pytest.mark.django_db
def test_a_plan_is_graded_against_every_comparison_by_hand(campaign):
    plan, truth = hand_made_plan(campaign)
    assert plan.draw.policy_arm.tolist() == [1, 2, 1]  # H1 A (a tie goes to the default), H2 B

    grade = grade_plan(plan, truth)

    treated = 1 - CONTROL
    assert grade.universe_voters == 5
    # Every non-control unit given A: a + b + c + e + d = 0.02 + 0.01 - 0.01 + 0.01 + 0.04.
    assert grade.single["A"] == pytest.approx(treated * 0.07)
    assert grade.single["B"] == pytest.approx(treated * 0.01)
    assert grade.best_single == ("A", pytest.approx(0.056))
    assert grade.uniform == pytest.approx(treated * 0.04)
    # Households' best: H1 0.03 (either), H2 B 0.03 (with e), H3 A 0.04.
    assert grade.oracle == pytest.approx(treated * 0.10)
    # The policy leaves e out: H1 A 0.03, H2 B 0.02 (c alone), H3 A 0.04.
    assert grade.policy_only == pytest.approx(treated * 0.09)
    # Deployed: P(policy arm) = 0.8 x (0.25 + 0.5) = 0.6 and P(other) = 0.8 x 0.25 = 0.2;
    # H1 0.6 x 0.03 + 0.2 x 0.03, H2 0.6 x 0.02 + 0.2 x -0.01, H3 0.6 x 0.04 + 0.2 x -0.05.
    assert grade.deployed == pytest.approx(0.024 + 0.010 + 0.014)
    assert grade.exploration_cost == pytest.approx(0.072 - 0.048)
    assert grade.oracle_share == pytest.approx((0.072 - 0.056) / (0.080 - 0.056))
    assert grade.per_thousand(grade.oracle) == pytest.approx(1000 * 0.08 / 5)
    lines = grade.lines()
    assert lines[2].startswith("best single variant (A)")
    assert lines[-1] == "the policy wins 66.7% of the oracle's gain over the best single variant"


@pytest.mark.django_db
def test_a_budgeted_plan_is_refused_rather_than_compared_with_whole_universes(campaign):
    plan, truth = hand_made_plan(campaign, budget=2)

    with pytest.raises(ValueError, match="budgeted"):
        grade_plan(plan, truth)


def test_true_effects_are_read_as_probabilities_and_a_blank_is_no_effect(tmp_path):
    path = tmp_path / "ground_truth.csv"
    path.write_text(
        "voter_id,base_turnout_prob,true_effect_A,true_effect_B\n007,0.5,2.0,-1.5\n8,,,\n"
    )

    truth = read_true_effects(path, ["B", "A"])

    assert sorted(truth) == ["007", "8"]  # ids stay text: "007" is not 7
    assert truth["007"].tolist() == [-0.015, 0.02]
    assert truth["8"].tolist() == [0.0, 0.0]
