"""A program's universe drawn a block of whole strata at a time, in memory that does not grow.

`messaging.universe.UniverseTable` hands out blocks of voters sorted by stratum, unit and voter;
here each block becomes units (`messaging.randomization.Units`), which are scored and drawn.
Without a budget that is one pass over the table. With one, a first pass keeps the best units
the budget could keep (`BudgetCandidates`: memory in proportion to the budget) to find where it
cuts, and a second pass draws. Callers consume the drawn blocks one by one: a commit writes each
block's assignments and forgets it, a preview only counts (`Tally`), and `materialize` joins
them into whole-universe arrays for the few callers that want them (grading a plan against the
truth, tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from messaging.randomization import (
    OUT,
    BlockDraw,
    BudgetCandidates,
    BudgetCut,
    Choice,
    Design,
    Draw,
    Scored,
    Units,
    draw_units,
    run_boundaries,
    score_units,
    unit_uplift,
)
from messaging.universe import UniverseBlock, UniverseRows, UniverseTable


@dataclass
class DrawnBlock:
    """A block of the universe, its units and their draw."""

    block: UniverseBlock
    voter_unit: np.ndarray  # per voter: its unit's index in the block, OUT when left out
    unit_keys: pl.Series  # per unit
    units: Units
    scored: Scored
    drawn: BlockDraw | None = None

    def treated_value(self) -> float:
        """Expected net votes of the block's treated units (0 without a model)."""
        if self.units.summed is None or self.drawn is None:
            return 0.0
        treated = np.flatnonzero(self.drawn.arm > 0)
        return float(self.units.summed[treated, self.drawn.arm[treated] - 1].sum())


def units_of(
    block: UniverseBlock, arms: int, with_uplift: bool
) -> tuple[np.ndarray, pl.Series, Units]:
    """Group a block's kept voters into units: the rows come sorted by stratum and unit, so a
    unit is a run of one key (a backlash voter between two of its members does not split it)."""
    kept = np.flatnonzero(~block.backlash)
    keys = block.unit_key.gather(kept)
    starts = run_boundaries(keys.to_numpy())
    unit_of_kept = np.cumsum(starts) - 1
    voter_unit = np.full(len(block), OUT, dtype=np.int64)
    voter_unit[kept] = unit_of_kept
    first_rows = kept[starts]
    unit_strata = block.stratum_key.gather(first_rows).to_numpy()
    stratum_starts = run_boundaries(unit_strata)
    units = Units(
        stratum=np.cumsum(stratum_starts) - 1,
        stratum_keys=unit_strata[stratum_starts].tolist(),
        members=np.bincount(unit_of_kept, minlength=len(first_rows)),
        summed=unit_uplift(block.uplift, voter_unit, len(first_rows), arms)
        if with_uplift
        else None,
    )
    return voter_unit, block.unit_key.gather(first_rows), units


def drawn_blocks(
    table: UniverseTable, design: Design, choice: Choice | None, *, with_uplift: bool
) -> Iterator[DrawnBlock]:
    """The universe's blocks, drawn, in the table's order."""
    cut = _budget_cut(table, design, choice, with_uplift) if design.budget is not None else None
    for scored in _scored_blocks(table, design, choice, with_uplift):
        scored.drawn = draw_units(scored.units, scored.scored, design, cut)
        yield scored


def _scored_blocks(
    table: UniverseTable, design: Design, choice: Choice | None, with_uplift: bool
) -> Iterator[DrawnBlock]:
    for block in table.blocks():
        voter_unit, unit_keys, units = units_of(block, design.arms, with_uplift)
        yield DrawnBlock(block, voter_unit, unit_keys, units, score_units(units, design, choice))


def _budget_cut(
    table: UniverseTable, design: Design, choice: Choice | None, with_uplift: bool
) -> BudgetCut:
    candidates = BudgetCandidates.empty(design.kept_at_most)
    numbers: dict[str, int] = {}  # stratum key -> a number across blocks (strata are few)
    for scored in _scored_blocks(table, design, choice, with_uplift):
        units = scored.units
        number = np.array(
            [numbers.setdefault(key, len(numbers)) for key in units.stratum_keys], dtype=np.int64
        )
        candidates.add(scored.scored, number[units.stratum])
    return candidates.cut(design)


@dataclass
class Tally:
    """What a preview shows and a commit records, added up block by block."""

    arms: int
    units: np.ndarray = field(init=False)  # per arm, control first
    voters: np.ndarray = field(init=False)
    value: float = 0.0
    voters_read: int = 0
    units_read: int = 0  # every unit, backlash voters' included
    keyed_units: int = 0  # units that are a household, a phone or an address (not a lone voter)
    left_alone: int = 0
    over_budget: int = 0
    backlash_voters: int = 0

    def __post_init__(self) -> None:
        self.units = np.zeros(self.arms + 1, dtype=np.int64)
        self.voters = np.zeros(self.arms + 1, dtype=np.int64)

    def add(self, drawn: DrawnBlock) -> None:
        keys = drawn.block.unit_key
        firsts = keys.filter(pl.Series(run_boundaries(keys.to_numpy())))
        self.voters_read += len(keys)
        self.units_read += len(firsts)
        self.keyed_units += int(((firsts != "") & ~firsts.str.starts_with("voter:")).sum())
        arm = drawn.drawn.arm
        self.units += np.bincount(arm[arm != OUT], minlength=self.arms + 1)
        voter_arm = per_voter(arm, drawn.voter_unit)
        self.voters += np.bincount(voter_arm[voter_arm != OUT], minlength=self.arms + 1)
        self.value += drawn.treated_value()
        self.left_alone += int((~drawn.scored.eligible).sum())
        self.over_budget += drawn.drawn.over_budget
        self.backlash_voters += int(drawn.block.backlash.sum())

    @property
    def drawn_units(self) -> int:
        return int(self.units.sum())


def materialize(
    blocks: Iterable[DrawnBlock], design: Design, counts: dict[str, int]
) -> tuple[UniverseRows, Draw]:
    """Whole-universe arrays from the drawn blocks (memory in proportion to the universe: for
    grading and tests, not for commits)."""
    blocks = list(blocks)
    arms = design.arms
    voter_pk, unit, keys, stratum, uplift, backlash = [], [], [], [], [], []
    voter_unit, draw_keys, unit_stratum, policy, value, arm, propensity = ([] for _ in range(7))
    units_seen = voters_units_seen = strata_seen = 0
    for b in blocks:
        block = b.block
        starts = run_boundaries(block.unit_key.to_numpy())
        unit.append(np.cumsum(starts) - 1 + voters_units_seen)
        keys.append(block.unit_key.filter(pl.Series(starts)))
        voters_units_seen += int(starts.sum())
        voter_pk.append(block.voter_pk)
        stratum.append(per_voter(b.units.stratum + strata_seen, b.voter_unit))
        uplift.append(
            block.uplift if block.uplift is not None else np.full((len(block), arms), np.nan)
        )
        backlash.append(block.backlash)
        voter_unit.append(np.where(b.voter_unit >= 0, b.voter_unit + units_seen, OUT))
        draw_keys.append(b.unit_keys)
        unit_stratum.append(b.units.stratum + strata_seen)
        policy.append(b.scored.policy_arm)
        value.append(b.scored.value)
        arm.append(b.drawn.arm)
        propensity.append(b.drawn.propensity)
        units_seen += len(b.units)
        strata_seen += len(b.units.stratum_keys)
    rows = UniverseRows(
        voter_pk=_joined(voter_pk, np.int64),
        unit=_joined(unit, np.int64),
        unit_keys=pl.concat(keys) if keys else pl.Series([], dtype=pl.Utf8),
        stratum=_joined(stratum, np.int64),
        uplift=np.concatenate(uplift) if uplift else np.empty((0, arms)),
        backlash=_joined(backlash, bool),
        counts=counts,
    )
    tally = Tally(arms)
    for b in blocks:
        tally.add(b)
    draw = Draw(
        keys=(pl.concat(draw_keys) if draw_keys else pl.Series([], dtype=pl.Utf8)).to_numpy(),
        voter_unit=_joined(voter_unit, np.int64),
        stratum=_joined(unit_stratum, np.int64),
        policy_arm=_joined(policy, np.int64),
        value=_joined(value, np.float64),
        arm=_joined(arm, np.int64),
        propensity=_joined(propensity, np.float64),
        design=design,
        left_alone=tally.left_alone,
        over_budget=tally.over_budget,
        backlash_voters=tally.backlash_voters,
    )
    return rows, draw


def per_voter(values: np.ndarray, voter_unit: np.ndarray) -> np.ndarray:
    """Per voter: its unit's value (OUT for a voter left out)."""
    out = np.full(len(voter_unit), OUT, dtype=values.dtype)
    inside = voter_unit >= 0
    out[inside] = values[voter_unit[inside]]
    return out


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)
