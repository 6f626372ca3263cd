"""Who gets which arm of a program: the seeded, stratified draw and its propensities (no Django).

Voters come in one entry per voter: the unit they are randomized with (a household, a phone
number, an email address), their stratum (precinct and turnout band) and, when a persuasion model
scored them, their predicted uplift per arm. Out come each unit's arm (0 is control, 1..K the
program's arms, -1 left out) and the probability that the design gave the unit that arm, which is
what keeps lift estimates and the next model's training unbiased when the policy is personalized.

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

Every random number comes from a stream of its stratum's own, seeded by the program's seed and
the stratum's key, and is taken by the stratum's units in key order. So a universe can be drawn
a block of whole strata at a time, in as many blocks as memory asks for, and the draw is the
same as in one piece: only the budget looks across strata, and it needs one number per unit it
may keep (`BudgetCut`), never one per voter of the universe.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
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
        if self.seed < 0:
            raise ValueError("seed must be 0 or more")

    @property
    def exploration(self) -> float:
        """The share of treated units drawn uniformly among the arms."""
        if self.policy == UNIFORM:
            return 1.0
        return self.exploration_share if self.policy == PERSONALIZED else 0.0

    @property
    def kept_at_most(self) -> int | None:
        """Units the budget can keep, control included (None: no budget)."""
        return None if self.budget is None else int(self.budget / (1 - self.control_share))


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


def propensity_vectors(design: Design) -> np.ndarray:
    """(K + 1) x (K + 1): row a is P(every arm) for a unit whose policy arm is a (row 0: the
    uniform policy's, which has none); what each assignment records, one row per policy arm."""
    policy_arm = np.arange(design.arms + 1)
    return propensity_matrix(policy_arm, np.ones(len(policy_arm), dtype=bool), design)


# --------------------------------------------------------------------------------------------
# A block of units, grouped by stratum: the draw's working set
# --------------------------------------------------------------------------------------------


@dataclass
class Units:
    """Units of whole strata, ordered by stratum then key (the order their randomness follows)."""

    stratum: np.ndarray  # per unit: index into stratum_keys, non-decreasing
    stratum_keys: Sequence  # the block's strata, in order
    members: np.ndarray  # per unit: how many of its voters are kept
    summed: np.ndarray | None  # units x K: the members' summed uplift (None: no model)

    def __len__(self) -> int:
        return len(self.stratum)


@dataclass
class Scored:
    """Per unit of a block: what the policy says, and the unit's random numbers."""

    policy_arm: np.ndarray
    value: np.ndarray
    tie: np.ndarray  # orders units of equal value for the budget
    shuffle: np.ndarray  # orders a stratum's units for the control draw
    explore: np.ndarray  # below the exploration share: drawn uniformly
    uniform_arm: np.ndarray  # 1..K, the arm if drawn uniformly
    extra: np.ndarray  # per stratum: below frac(c·n), one more control unit

    @property
    def eligible(self) -> np.ndarray:
        return self.policy_arm != OUT


def stratum_seed(seed: int, stratum_key: object) -> list[int]:
    """The seed of a stratum's stream: the program's seed and a stable hash of the key (a
    stratum's numbers do not depend on which other strata the universe holds)."""
    return [seed, zlib.crc32(str(stratum_key).encode())]


def score_units(units: Units, design: Design, choice: Choice | None) -> Scored:
    """Policy arm, expected value and random numbers of each unit of a block."""
    policy_arm = _policy_arms(units.summed, units.members, design, choice)
    value = _expected_value(units.summed, policy_arm, design)
    n = len(units)
    tie, shuffle, explore = np.empty(n), np.empty(n), np.empty(n)
    uniform_arm = np.empty(n, dtype=np.int64)
    extra = np.empty(len(units.stratum_keys))
    bounds = np.searchsorted(units.stratum, np.arange(len(units.stratum_keys) + 1))
    for s, key in enumerate(units.stratum_keys):
        lo, hi = bounds[s], bounds[s + 1]
        rng = np.random.default_rng(stratum_seed(design.seed, key))
        extra[s] = rng.random()
        tie[lo:hi], shuffle[lo:hi], explore[lo:hi] = rng.random((3, hi - lo))
        uniform_arm[lo:hi] = rng.integers(1, design.arms + 1, size=hi - lo)
    return Scored(policy_arm, value, tie, shuffle, explore, uniform_arm, extra)


# --------------------------------------------------------------------------------------------
# The budget: the only step that looks across strata
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetCut:
    """The last unit the budget keeps, in its order (best value first, then tie); None keeps
    none. A unit is kept when it is eligible and does not come after it."""

    value: float | None
    tie: float = 0.0

    def keeps(self, scored: Scored) -> np.ndarray:
        if self.value is None:
            return np.zeros(len(scored.policy_arm), dtype=bool)
        value = _budget_value(scored.value)
        before = (value > self.value) | ((value == self.value) & (scored.tie <= self.tie))
        return scored.eligible & before


@dataclass
class BudgetCandidates:
    """The best units seen so far, at most as many as the budget can keep: one pass over the
    blocks gathers them, and their memory is the budget's, not the universe's."""

    limit: int
    value: np.ndarray
    tie: np.ndarray
    stratum: np.ndarray  # global stratum numbers

    @classmethod
    def empty(cls, limit: int) -> BudgetCandidates:
        return cls(limit, np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))

    def add(self, scored: Scored, global_stratum: np.ndarray) -> None:
        """Add a block's eligible units (global_stratum: per unit, its stratum's number)."""
        eligible = scored.eligible
        value = np.concatenate([self.value, _budget_value(scored.value[eligible])])
        tie = np.concatenate([self.tie, scored.tie[eligible]])
        stratum = np.concatenate([self.stratum, global_stratum[eligible]])
        best = np.lexsort((tie, -value))[: self.limit]
        self.value, self.tie, self.stratum = value[best], tie[best], stratum[best]

    def cut(self, design: Design) -> BudgetCut:
        """The last unit kept so that at most `budget` units are treated."""
        keep = min(len(self.value), self.limit)
        while keep > 0:
            # The control count per stratum is random only in its last unit, so the treated
            # count is known before the draw up to one unit per stratum: shrink until it fits.
            most_treated = _most_treated(self.stratum[:keep], design.control_share)
            if most_treated <= design.budget:
                return BudgetCut(float(self.value[keep - 1]), float(self.tie[keep - 1]))
            keep = max(0, keep - (most_treated - design.budget))
        return BudgetCut(None)


def _budget_value(value: np.ndarray) -> np.ndarray:
    # Unknown values rank as no effect; with none known, the ties (all) go by the seeded tie.
    return np.nan_to_num(value, nan=0.0)


def _most_treated(stratum: np.ndarray, c: float) -> int:
    _, sizes = np.unique(stratum, return_counts=True)
    return int((sizes - np.floor(c * sizes)).sum())


# --------------------------------------------------------------------------------------------
# The draw of a block
# --------------------------------------------------------------------------------------------


@dataclass
class BlockDraw:
    """A block's units' arms and propensities, and what the budget left out."""

    arm: np.ndarray
    propensity: np.ndarray
    over_budget: int


def draw_units(
    units: Units, scored: Scored, design: Design, cut: BudgetCut | None = None
) -> BlockDraw:
    """Control first, then each treated unit's arm (steps 5 and 6), for units kept by the cut."""
    kept = scored.eligible if cut is None else cut.keeps(scored)
    arm = np.full(len(units), OUT, dtype=np.int64)
    control = _draw_control(kept, units.stratum, design.control_share, scored)
    explored = scored.explore < design.exploration
    treated = kept & ~control
    arm[treated] = np.where(explored, scored.uniform_arm, scored.policy_arm)[treated]
    arm[control] = CONTROL
    propensity = np.full(len(units), np.nan)
    drawn = np.flatnonzero(arm != OUT)
    propensity[drawn] = propensity_vectors(design)[
        np.clip(scored.policy_arm[drawn], 0, None), arm[drawn]
    ]
    return BlockDraw(arm, propensity, int((scored.eligible & ~kept).sum()))


def _draw_control(kept: np.ndarray, stratum: np.ndarray, c: float, scored: Scored) -> np.ndarray:
    """Within each stratum, floor(c·n) units plus one with probability frac(c·n), at random."""
    strata = len(scored.extra)
    sizes = np.bincount(stratum[kept], minlength=strata)
    extra = scored.extra < (c * sizes - np.floor(c * sizes))
    counts = np.floor(c * sizes).astype(np.int64) + extra
    rows = np.flatnonzero(kept)
    rows = rows[np.lexsort((scored.shuffle[rows], stratum[rows]))]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(rows)) - starts[stratum[rows]]
    control = np.zeros(len(kept), dtype=bool)
    control[rows[rank < counts[stratum[rows]]]] = True
    return control


# --------------------------------------------------------------------------------------------
# The whole universe in memory (tests, small programs, grading)
# --------------------------------------------------------------------------------------------


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
    stratum_keys, unit_stratum = _unit_strata(np.asarray(stratum)[kept], inverse, len(keys))
    summed = unit_uplift(uplift, voter_unit, len(keys), design.arms)
    # Units by stratum, then key: the order in which strata draw their numbers.
    order = np.argsort(unit_stratum, kind="stable")
    units = Units(
        stratum=unit_stratum[order],
        stratum_keys=list(stratum_keys),
        members=np.bincount(inverse, minlength=len(keys))[order],
        summed=None if summed is None else summed[order],
    )
    scored = score_units(units, design, choice)
    cut = None
    if design.budget is not None:
        candidates = BudgetCandidates.empty(design.kept_at_most)
        candidates.add(scored, units.stratum)
        cut = candidates.cut(design)
    block = draw_units(units, scored, design, cut)
    in_key_order = np.empty_like(order)
    in_key_order[order] = np.arange(len(order))
    return Draw(
        keys=keys,
        voter_unit=voter_unit,
        stratum=unit_stratum,
        policy_arm=scored.policy_arm[in_key_order],
        value=scored.value[in_key_order],
        arm=block.arm[in_key_order],
        propensity=block.propensity[in_key_order],
        design=design,
        left_alone=int((~scored.eligible).sum()),
        over_budget=block.over_budget,
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


def run_boundaries(values: Iterable) -> np.ndarray:
    """Per row of sorted values, True where a new run of equal values starts."""
    values = np.asarray(values)
    starts = np.ones(len(values), dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    return starts


# --------------------------------------------------------------------------------------------


def _unit_strata(
    stratum: np.ndarray, inverse: np.ndarray, units: int
) -> tuple[np.ndarray, np.ndarray]:
    # A unit's stratum is its smallest member's: members of one household share a precinct; a
    # phone shared across precincts needs one stratum, and any fixed rule will do.
    codes, voter_code = unique_inverse(stratum)
    unit_code = np.full(units, len(codes), dtype=np.int64)
    np.minimum.at(unit_code, inverse, voter_code.ravel())
    return codes, unit_code


def _policy_arms(
    summed: np.ndarray | None,
    members: np.ndarray,
    design: Design,
    choice: Choice | None,
) -> np.ndarray:
    units = len(members)
    if design.policy != PERSONALIZED:
        return np.ones(units, dtype=np.int64) if design.policy == SINGLE else np.zeros(units, int)
    if summed is None or choice is None:
        raise ValueError("a personalized program needs the persuasion model's uplift per arm")
    # The model's margin is a per-voter advantage; a household must beat it for each member.
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
