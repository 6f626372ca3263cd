"""A universe drawn a block of whole strata at a time (messaging.program_draw and the universe
table): the same draw as in one piece, whatever the blocks' size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from messaging import universe
from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program, preview_program
from messaging.randomization import (
    OUT,
    BudgetCandidates,
    Choice,
    Design,
    Units,
    draw_program,
    draw_units,
    score_units,
)
from tests.factories import (
    HouseholdFactory,
    MessageVariantFactory,
    ModelVersionFactory,
    ScoringRunFactory,
    VoterFactory,
    VoterScoreFactory,
)
from voters.models import Assignment

# -- pure: blocks of strata against one piece ------------------------------------------------


def _units(n: int, strata: int, seed: int = 0) -> Units:
    rng = np.random.default_rng(seed)
    stratum = np.sort(rng.integers(0, strata, n))
    return Units(
        stratum=stratum,
        stratum_keys=[f"P{s:02d}|1" for s in range(strata)],
        members=rng.integers(1, 4, n),
        summed=rng.normal(0.01, 0.03, (n, 3)),
    )


def _split(units: Units, cuts: list[int]) -> list[Units]:
    """Blocks of whole strata: cut before the given stratum numbers."""
    blocks = []
    edges = [0, *cuts, len(units.stratum_keys)]
    for lo, hi in itertools.pairwise(edges):
        rows = (units.stratum >= lo) & (units.stratum < hi)
        blocks.append(
            Units(
                stratum=units.stratum[rows] - lo,
                stratum_keys=units.stratum_keys[lo:hi],
                members=units.members[rows],
                summed=units.summed[rows],
            )
        )
    return blocks


@pytest.mark.parametrize("budget", [None, 900])
def test_blocks_of_strata_draw_what_one_piece_draws(budget):
    design = Design(arms=3, control_share=0.2, policy="personalized", exploration_share=0.25,
                    budget=budget, seed=12)  # fmt: skip
    choice = Choice(default_arm=1, margin=0.005)
    whole = _units(3_000, 40)
    blocks = _split(whole, [7, 8, 25])

    one = score_units(whole, design, choice)
    scored = [score_units(b, design, choice) for b in blocks]
    cut = cut_of_blocks = None
    if budget:
        candidates = BudgetCandidates.empty(design.kept_at_most)
        candidates.add(one, whole.stratum)
        cut = candidates.cut(design)
        by_block = BudgetCandidates.empty(design.kept_at_most)
        offset = 0
        for block, s in zip(blocks, scored, strict=True):
            by_block.add(s, block.stratum + offset)
            offset += len(block.stratum_keys)
        cut_of_blocks = by_block.cut(design)
        assert cut_of_blocks == cut
    drawn = draw_units(whole, one, design, cut)
    in_blocks = [
        draw_units(b, s, design, cut_of_blocks) for b, s in zip(blocks, scored, strict=True)
    ]

    assert np.array_equal(np.concatenate([d.arm for d in in_blocks]), drawn.arm)
    assert np.allclose(
        np.concatenate([d.propensity for d in in_blocks]), drawn.propensity, equal_nan=True
    )
    assert sum(d.over_budget for d in in_blocks) == drawn.over_budget
    if budget:
        assert int((drawn.arm > 0).sum()) <= budget
        assert drawn.over_budget > 0  # the budget did cut


def test_a_stratum_draws_the_same_whatever_other_strata_the_universe_holds():
    design = Design(arms=2, control_share=0.3, policy="uniform", seed=5)
    unit = np.arange(600)
    stratum = np.where(unit < 300, "P1|2", "P2|2")

    both = draw_program(unit=unit, stratum=stratum, design=design)
    alone = draw_program(unit=unit[:300], stratum=stratum[:300], design=design)

    assert np.array_equal(both.arm[:300], alone.arm)


def test_the_budget_holds_only_as_many_candidates_as_it_can_keep_the_best_ones():
    design = Design(arms=1, control_share=0.5, policy="single", budget=10, seed=1)
    units = _units(5_000, 20)
    candidates = BudgetCandidates.empty(design.kept_at_most)

    for block in _split(units, [5, 10, 15]):
        candidates.add(score_units(block, design, None), block.stratum)
        assert len(candidates.value) <= 20  # 10 / (1 - 0.5): never more, whatever was read

    best = np.sort(units.summed[:, 0])[::-1][:20]
    assert np.allclose(np.sort(candidates.value)[::-1], best)


# -- the database: the commit reads its universe in blocks ------------------------------------


@pytest.fixture
def scored_county(campaign):
    """60 households of 1-3 voters over 6 precincts, scored (turnout across every band), and a
    persuasion model of two arms: 18 strata or so, a unit's members often in different bands."""
    for name in ("health", "economy"):
        MessageVariantFactory(campaign=campaign, name=name)
    model = ModelVersionFactory(
        campaign=campaign, kind="persuasion", status="approved",
        metrics={"arms": {"health": {}, "economy": {}}, "best_single_arm": "health",
                 "margin": 0.002},
    )  # fmt: skip
    run = ScoringRunFactory(campaign=campaign, persuasion_model=model)
    rng = np.random.default_rng(3)
    for h in range(60):
        household = HouseholdFactory(campaign=campaign)
        for _ in range(1 + h % 3):
            voter = VoterFactory(campaign=campaign, household=household, precinct=f"P{h % 6}")
            health, economy = rng.normal(0.01, 0.02, 2).round(4)
            VoterScoreFactory(
                run=run, voter=voter, turnout=float(rng.random()),
                uplift={"health": float(health), "economy": float(economy)},
                is_backlash=bool(health < -0.025 and economy < -0.025),
            )  # fmt: skip
    return run


def _commit(campaign, name: str, **overrides) -> dict[int, tuple]:
    data = {"name": name, "channel": "door", "arms": ["health", "economy"],
            "policy": "personalized", "control_share": 0.2, "exploration_share": 0.2,
            "seed": 99, "universe": {"exclude_running_programs": False}, **overrides}  # fmt: skip
    design = commit_program(design=create_program(campaign=campaign, spec=parse_spec(data)))
    rows = Assignment.objects.filter(program_id=design.program_id).values_list(
        "voter_id", "arm__name", "propensity", "propensities", "unit"
    )
    return {voter: rest for voter, *rest in rows}, design.summary


@pytest.mark.django_db
@pytest.mark.parametrize("budget", [None, 25])
def test_a_commit_in_blocks_of_a_few_voters_equals_one_in_a_single_block(
    campaign, scored_county, monkeypatch, budget
):
    extra = {"budget": budget} if budget else {}
    single, single_summary = _commit(campaign, "one block", **extra)
    monkeypatch.setattr(universe, "BLOCK_ROWS", 4)
    blocks = []
    real_read = universe.UniverseTable._read_block
    monkeypatch.setattr(
        universe.UniverseTable, "_read_block",
        lambda self, first, last: blocks.append((first, last)) or real_read(self, first, last),
    )  # fmt: skip
    tiny, tiny_summary = _commit(campaign, "tiny blocks", **extra)

    assert len(blocks) >= 10  # it did read many blocks
    assert tiny == single
    assert tiny_summary["arms"] == single_summary["arms"]
    assert tiny_summary["universe"] == single_summary["universe"]
    assert tiny_summary["left_out"] == single_summary["left_out"]
    # Every household got one arm, whatever its members' turnout bands.
    by_unit: dict[str, set] = {}
    for arm, _p, _v, unit in single.values():
        by_unit.setdefault(unit, set()).add(arm)
    assert all(len(arms) == 1 for arms in by_unit.values())
    if budget:
        assert sum(a["units"] for a in single_summary["arms"] if a["arm"] != "control") <= 25


@pytest.mark.django_db
def test_a_phone_shared_across_precincts_is_one_unit_in_one_stratum(campaign):
    MessageVariantFactory(campaign=campaign, name="text", sms=True)
    shared = [
        VoterFactory(campaign=campaign, phone="+19195550001", precinct=p) for p in ("P9", "P1")
    ]
    others = [VoterFactory(campaign=campaign, phone=f"+1919555010{i}", precinct="P5")
              for i in range(6)]  # fmt: skip
    data = {"name": "Texts", "channel": "sms", "arms": ["text"], "policy": "single",
            "control_share": 0.5, "seed": 4}  # fmt: skip
    design = create_program(campaign=campaign, spec=parse_spec(data))

    preview = preview_program(design=design)
    commit_program(design=design)

    assert preview["universe"] == {
        "voters": 8, "households": 0, "phones": 7, "emails": 8, "units": 7,
    }  # fmt: skip
    rows = dict(
        Assignment.objects.filter(program_id=design.program_id).values_list("voter_id", "arm__name")
    )
    assert len(rows) == 8
    assert rows[shared[0].pk] == rows[shared[1].pk]
    assert {rows[v.pk] for v in others} <= {"control", "text"}
    assert sum(a["units"] for a in preview["arms"]) == 7
    assert OUT == -1
