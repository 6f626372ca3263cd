"""Who gets which arm of a program: the seeded, stratified draw and its propensities (no Django).

Voters come in as arrays, one entry per voter of the universe: the unit they are randomized with
(a household, a phone number, an email address), their stratum (precinct and turnout band) and,
when a persuasion model scored them, their predicted uplift per arm. Out come each unit's arm
(0 is control, 1..K the program's arms, -1 left out) and the probability that the design gave the
unit that arm, which is what keeps lift estimates and the next model's training unbiased when the
policy is personalized.

The order of the draw is fixed, so the same inputs and seed give the same draw:
1. voters flagged as backlash (every message predicted to hurt, the persuasion model's default
   arm by more than its safety margin) are left out;
2. voters are grouped into units; a unit's uplift is its members' summed uplift;
3. each unit's policy arm: the single arm, or (personalized) the persuasion model's safe choice
   on the summed uplift (a unit every arm is predicted to hurt, the default by more than the
   margin per member, is left alone, out);
4. the budget keeps the units with the highest expected net votes under the design (with no
   uplift known, a seeded random subset of the units);
5. control is drawn first, within each stratum exactly floor(c·n) units plus one more with
   probability frac(c·n), so every unit is control with probability c and strata are balanced;
6. treated units get their policy arm, except an exploration share drawn uniformly among the arms
   (uniform policy: every treated unit is drawn uniformly).

Propensities follow: P(control) = c and, for arm a, (1 - c)·(ε/K + (1 - ε)·[a = policy arm]).
Units outside the budget are not in the experiment at all (their inclusion did not depend on the
draw), so the propensities hold for every unit that was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGLE, UNIFORM, PERSONALIZED = "single", "uniform", "personalized"
POLICIES = (SINGLE, UNIFORM, PERSONALIZED)
CONTROL = 0
OUT = -1


@dataclass(frozen=True)
class Design:
    """The program's design: K treated arms (numbered 1..K), shares, policy, budget, seed."""

    arms: int
    control_share: float
    policy: str
    exploration_share: float = 0.0
    budget: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.arms < 1 or (self.policy == SINGLE and self.arms != 1):
            raise ValueError("a single-variant program has one arm; the others one or more")
        if not 0 < self.control_share < 1:
            raise ValueError("control_share must be strictly between 0 and 1")
        if not 0 <= self.exploration_share <= 1:
            raise ValueError("exploration_share must be between 0 and 1")
        if self.budget is not None and self.budget < 1:
            raise ValueError("budget must be at least 1 (or none)")

    @property
    def exploration(self) -> float:
        """The share of treated units drawn uniformly among the arms."""
        if self.policy == UNIFORM:
            return 1.0
        return self.exploration_share if self.policy == PERSONALIZED else 0.0


@dataclass(frozen=True)
class Choice:
    """What the persuasion model says: its best single arm (1..K) and its safety margin."""

    default_arm: int
    margin: float = np.inf


@dataclass
class Draw:
    """The draw, per unit (units are the sorted distinct keys of the voters kept)."""

    keys: np.ndarray  # each unit's key
    voter_unit: np.ndarray  # per voter: index of its unit, -1 for a voter left out
    stratum: np.ndarray  # per unit
    policy_arm: np.ndarray  # per unit: 1..K, or OUT when the policy leaves it alone
    value: np.ndarray  # per unit: expected net votes if treated under the design (NaN: unknown)
    arm: np.ndarray  # per unit: CONTROL, 1..K, or OUT (backlash, left alone, beyond the budget)
    propensity: np.ndarray  # per unit: P(its arm) under the design; NaN for units left out
    design: Design
    left_alone: int  # units every arm is predicted to hurt (personalized)
    over_budget: int  # units the budget left out
    backlash_voters: int

    def propensities(self) -> np.ndarray:
        """units x (K + 1) matrix of P(arm) for every arm, control first (NaN rows: left out)."""
        return propensity_matrix(self.policy_arm, self.arm != OUT, self.design)

    def voter_arm(self) -> np.ndarray:
        """Per voter: the arm of its unit (OUT for voters left out)."""
        return np.where(self.voter_unit >= 0, self.arm[self.voter_unit], OUT)

    def expected_net_votes(self, uplift_by_unit: np.ndarray | None) -> float | None:
        """Sum over treated units of their summed uplift for the arm they got (None: no model)."""
        if uplift_by_unit is None:
            return None
        treated = np.flatnonzero(self.arm > 0)
        return float(uplift_by_unit[treated, self.arm[treated] - 1].sum())


def propensity_matrix(policy_arm: np.ndarray, drawn: np.ndarray, design: Design) -> np.ndarray:
    c, eps, k = design.control_share, design.exploration, design.arms
    matrix = np.full((len(policy_arm), k + 1), (1 - c) * eps / k)
    matrix[:, CONTROL] = c
    rows = np.flatnonzero(drawn & (policy_arm > 0))
    matrix[rows, policy_arm[rows]] += (1 - c) * (1 - eps)
    matrix[~drawn] = np.nan
    return matrix


def draw_program(
    *,
    unit: np.ndarray,
    stratum: np.ndarray,
    design: Design,
    uplift: np.ndarray | None = None,
    backlash: np.ndarray | None = None,
    choice: Choice | None = None,
) -> Draw:
    """The program's draw (see the module's docstring for its steps and their order).

    `unit` and `stratum` hold one key per voter (any sortable values); `uplift` is voters x K
    (NaN: not scored, counted as no effect); `backlash` flags voters to leave out. The
    personalized policy needs `uplift` and `choice`.
    """
    n = len(unit)
    kept = np.ones(n, dtype=bool) if backlash is None else ~np.asarray(backlash, dtype=bool)
    keys, inverse = unique_inverse(np.asarray(unit)[kept])
    voter_unit = np.full(n, OUT, dtype=np.int64)
    voter_unit[kept] = inverse
    unit_stratum = _unit_strata(np.asarray(stratum)[kept], inverse, len(keys))
    summed = unit_uplift(uplift, voter_unit, len(keys), design.arms)
    policy_arm = _policy_arms(summed, inverse, len(keys), design, choice)
    value = _expected_value(summed, policy_arm, design)
    rng = np.random.default_rng(design.seed)
    eligible = policy_arm != OUT
    in_budget = _within_budget(value, eligible, design, rng, unit_stratum)
    arm = _assign(in_budget, policy_arm, unit_stratum, design, rng)
    propensity = np.full(len(keys), np.nan)
    drawn = np.flatnonzero(arm != OUT)
    propensity[drawn] = propensity_matrix(policy_arm[drawn], np.ones(len(drawn), bool), design)[
        np.arange(len(drawn)), arm[drawn]
    ]
    return Draw(
        keys=keys,
        voter_unit=voter_unit,
        stratum=unit_stratum,
        policy_arm=policy_arm,
        value=value,
        arm=arm,
        propensity=propensity,
        design=design,
        left_alone=int((~eligible).sum()),
        over_budget=int((eligible & ~in_budget).sum()),
        backlash_voters=int(n - kept.sum()),
    )


def unit_uplift(
    uplift: np.ndarray | None, voter_unit: np.ndarray, units: int, arms: int
) -> np.ndarray | None:
    """units x K: the members' summed uplift per arm (a voter's unknown uplift counts as 0)."""
    if uplift is None:
        return None
    uplift = np.asarray(uplift, dtype=np.float64).reshape(len(voter_unit), arms)
    kept = voter_unit >= 0
    members, values = voter_unit[kept], np.nan_to_num(uplift[kept])
    # bincount adds in row order, as np.add.at did: the same sums, several times faster.
    return np.column_stack(
        [np.bincount(members, weights=values[:, a], minlength=units) for a in range(arms)]
    ).reshape(units, arms)


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True); by counting, not sorting, for small codes."""
    values = np.asarray(values)
    small = values.dtype.kind in "iu" and len(values) and values.min() >= 0
    if not small or values.max() > 4 * len(values):
        keys, inverse = np.unique(values, return_inverse=True)
        return keys, inverse.ravel()
    present = np.zeros(int(values.max()) + 1, dtype=bool)
    present[values] = True
    return np.flatnonzero(present).astype(values.dtype), np.cumsum(present)[values] - 1


# --------------------------------------------------------------------------------------------


def _unit_strata(stratum: np.ndarray, inverse: np.ndarray, units: int) -> np.ndarray:
    # A unit's stratum is its first member's in key order: members of one household share a
    # precinct; a phone shared across precincts needs one stratum, and any fixed rule will do.
    codes, voter_code = unique_inverse(stratum)
    unit_code = np.full(units, len(codes), dtype=np.int64)
    np.minimum.at(unit_code, inverse, voter_code.ravel())
    return unit_code


def _policy_arms(
    summed: np.ndarray | None,
    inverse: np.ndarray,
    units: int,
    design: Design,
    choice: Choice | None,
) -> np.ndarray:
    if design.policy != PERSONALIZED:
        return np.ones(units, dtype=np.int64) if design.policy == SINGLE else np.zeros(units, int)
    if summed is None or choice is None:
        raise ValueError("a personalized program needs the persuasion model's uplift per arm")
    # The model's margin is a per-voter advantage; a household must beat it for each member.
    members = np.bincount(inverse, minlength=units).astype(np.float64)
    with_control = np.column_stack([np.zeros(units), summed])
    best = with_control.argmax(axis=1)
    rows = np.arange(units)
    advantage = with_control[rows, best] - with_control[rows, choice.default_arm]
    # Leaving the unit alone is one of the choices and must beat the default by the margin too.
    chosen = np.where(advantage > choice.margin * members, best, choice.default_arm)
    return np.where(chosen == CONTROL, OUT, chosen).astype(np.int64)


def _expected_value(
    summed: np.ndarray | None, policy_arm: np.ndarray, design: Design
) -> np.ndarray:
    if summed is None:
        return np.full(len(policy_arm), np.nan)
    explored = summed.mean(axis=1)
    if design.policy == UNIFORM:
        return explored
    chosen = summed[np.arange(len(policy_arm)), np.clip(policy_arm, 1, None) - 1]
    eps = design.exploration
    return (1 - eps) * chosen + eps * explored


def _within_budget(
    value: np.ndarray,
    eligible: np.ndarray,
    design: Design,
    rng: np.random.Generator,
    stratum: np.ndarray,
) -> np.ndarray:
    """The units kept: all eligible ones, or the best ones so that at most `budget` are treated."""
    tie_break = rng.random(len(value))
    if design.budget is None:
        return eligible
    # Best first; ties (and every unit when no value is known) in a seeded random order.
    order = np.lexsort((tie_break, -np.nan_to_num(value, nan=0.0)))
    order = order[eligible[order]]
    keep = min(len(order), int(design.budget / (1 - design.control_share)))
    while True:
        kept = np.zeros(len(value), dtype=bool)
        kept[order[:keep]] = True
        # The control count per stratum is random only in its last unit, so the treated
        # count is known before the draw up to one unit per stratum: shrink until it fits.
        most_treated = _most_treated(kept, stratum, design.control_share)
        if most_treated <= design.budget or keep == 0:
            return kept
        keep = max(0, keep - (most_treated - design.budget))


def _most_treated(kept: np.ndarray, stratum: np.ndarray, c: float) -> int:
    sizes = np.bincount(stratum[kept], minlength=stratum.max(initial=0) + 1)
    return int((sizes - np.floor(c * sizes)).sum())


def _assign(
    kept: np.ndarray,
    policy_arm: np.ndarray,
    stratum: np.ndarray,
    design: Design,
    rng: np.random.Generator,
) -> np.ndarray:
    units = len(kept)
    arm = np.full(units, OUT, dtype=np.int64)
    control = _draw_control(kept, stratum, design.control_share, rng)
    explore = rng.random(units) < design.exploration
    uniform = rng.integers(1, design.arms + 1, size=units)
    treated = kept & ~control
    arm[treated] = np.where(explore, uniform, policy_arm)[treated]
    arm[control] = CONTROL
    return arm


def _draw_control(
    kept: np.ndarray, stratum: np.ndarray, c: float, rng: np.random.Generator
) -> np.ndarray:
    """Within each stratum, floor(c·n) units plus one with probability frac(c·n), at random."""
    shuffle = rng.random(len(kept))
    strata = stratum.max(initial=0) + 1
    sizes = np.bincount(stratum[kept], minlength=strata)
    extra = rng.random(strata) < (c * sizes - np.floor(c * sizes))
    counts = np.floor(c * sizes).astype(np.int64) + extra
    rows = np.flatnonzero(kept)
    rows = rows[np.lexsort((shuffle[rows], stratum[rows]))]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(rows)) - starts[stratum[rows]]
    control = np.zeros(len(kept), dtype=bool)
    control[rows[rank < counts[stratum[rows]]]] = True
    return control
