"""A program's plan graded against true effects: what only a generated county can tell.

The demo's county records every voter's true effect of every variant (`ground_truth.csv`), so a
program drawn on it can be graded the way no real program can: the net votes it is expected to
win, against the same universe given the best single variant, a uniform draw, or each household
its truly best variant (the oracle). Expectations are taken over the design's own probabilities
(control share, exploration), not over one realized draw, so the figures carry no luck of the
draw; a unit's true effect is its members' summed effects, as the product sums their predictions.

Comparisons are over the whole universe, including the units the personalized policy left alone
(every arm predicted to hurt) and the voters it left out as backlash: leaving someone alone is one
of its choices. A budget would make the single-variant and oracle programs smaller too; the demo's
program has none, and grading a budgeted program is refused rather than compared unfairly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from messaging.programs import Plan
from messaging.randomization import OUT
from voters.models import Voter


@dataclass(frozen=True)
class TruthGrade:
    """Expected net votes of a program and of the programs it is compared with."""

    universe_voters: int
    deployed: float  # the program as designed: policy arms, exploration and control
    policy_only: float  # the same without exploration (every treated unit gets its policy arm)
    single: dict[str, float]  # every non-control unit given this one variant
    uniform: float  # every non-control unit given a variant drawn uniformly
    oracle: float  # every non-control unit given its truly best variant, or left alone

    @property
    def best_single(self) -> tuple[str, float]:
        name = max(self.single, key=self.single.__getitem__)
        return name, self.single[name]

    @property
    def oracle_share(self) -> float | None:
        """The share of the oracle's gain over the best single variant that the policy wins.

        The policy, not the program as deployed: exploration is a price paid on purpose for the
        next model's data, the same for any policy, and is reported on its own line."""
        gap = self.oracle - self.best_single[1]
        return (self.policy_only - self.best_single[1]) / gap if gap > 0 else None

    @property
    def exploration_cost(self) -> float:
        return self.policy_only - self.deployed

    def per_thousand(self, votes: float) -> float:
        return 1000 * votes / self.universe_voters if self.universe_voters else 0.0

    def lines(self) -> list[str]:
        """The grade in a few lines of text (net votes, and per 1,000 voters of the universe)."""
        best_name, best = self.best_single
        rows = [
            ("this program's policy", self.policy_only),
            ("  as deployed, with exploration", self.deployed),
            (f"best single variant ({best_name})", best),
            ("uniform among the variants", self.uniform),
            ("oracle (each household its truly best)", self.oracle),
        ]
        width = max(len(label) for label, _ in rows)
        text = [
            f"{label:<{width}}  {votes:>9,.1f} net votes  "
            f"({self.per_thousand(votes):+.2f} per 1,000)"
            for label, votes in rows
        ]
        text.append(
            f"exploration costs {self.exploration_cost:,.1f} net votes and buys the next model "
            "data on every variant"
        )
        share = self.oracle_share
        if share is not None:
            text.append(
                f"the policy wins {share:.1%} of the oracle's gain over the best single variant"
            )
        return text


def read_true_effects(path: Path, arm_names: list[str]) -> dict[str, np.ndarray]:
    """voter id -> true effect of each named arm, as a probability (the file has points)."""
    columns = [f"true_effect_{name}" for name in arm_names]
    frame = pl.read_csv(
        path, columns=["voter_id", *columns], schema_overrides={"voter_id": pl.Utf8}
    ).fill_null(0.0)
    effects = frame.select(columns).to_numpy() / 100.0
    return dict(zip(frame["voter_id"].to_list(), effects, strict=True))


def grade_plan(plan: Plan, truth: dict[str, np.ndarray]) -> TruthGrade:
    """Grade a program's plan (before or after it is committed: the draw is the same)."""
    if plan.design.budget is not None:
        raise ValueError("grading compares whole universes: a budgeted program is not graded")
    effects = _effects_by_voter(plan, truth)
    arms = plan.arm_names[1:]
    control = plan.design.control_share
    treated = 1 - control
    units = plan.rows.unit
    summed = np.zeros((len(plan.rows.unit_keys), len(arms)))
    np.add.at(summed, units, effects)
    return TruthGrade(
        universe_voters=len(effects),
        deployed=_deployed(plan, effects),
        policy_only=_policy_only(plan, effects, treated),
        single={name: treated * float(effects[:, k].sum()) for k, name in enumerate(arms)},
        uniform=treated * float(effects.mean(axis=1).sum()),
        oracle=treated * float(np.maximum(summed.max(axis=1), 0).sum()),
    )


def _effects_by_voter(plan: Plan, truth: dict[str, np.ndarray]) -> np.ndarray:
    """voters x K true effects in the plan's voter order (a voter the truth lacks: no effect)."""
    voter_ids = dict(
        Voter.objects.filter(pk__in=plan.rows.voter_pk.tolist()).values_list("pk", "voter_id")
    )
    none = np.zeros(len(plan.arm_names) - 1)
    return np.array(
        [truth.get(voter_ids[int(pk)], none) for pk in plan.rows.voter_pk], dtype=np.float64
    ).reshape(len(plan.rows.voter_pk), len(none))


def _deployed(plan: Plan, effects: np.ndarray) -> float:
    """Sum over voters of sum over arms of P(their unit gets the arm) x their effect of it."""
    draw = plan.draw
    in_draw = draw.voter_unit >= 0
    in_draw[in_draw] = draw.arm[draw.voter_unit[in_draw]] != OUT
    voters = np.flatnonzero(in_draw)
    probabilities = draw.propensities()[draw.voter_unit[voters], 1:]
    return float((probabilities * effects[voters]).sum())


def _policy_only(plan: Plan, effects: np.ndarray, treated: float) -> float:
    draw = plan.draw
    voters = np.flatnonzero(draw.voter_unit >= 0)
    units = draw.voter_unit[voters]
    chosen = draw.policy_arm[units]
    in_draw = (draw.arm[units] != OUT) & (chosen > 0)
    voters, chosen = voters[in_draw], chosen[in_draw]
    return treated * float(effects[voters, chosen - 1].sum())
