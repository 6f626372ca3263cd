"""Training and reports read a product-run program by its recorded propensities and units."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from messaging.program_specs import parse_spec
from messaging.programs import commit_program, create_program
from scoring.services.training import _program_dataset
from tests.factories import (
    AssignmentFactory,
    ElectionFactory,
    HouseholdFactory,
    MessageVariantFactory,
    ModelVersionFactory,
    ProgramArmFactory,
    ScoringRunFactory,
    VoteRecordFactory,
    VoterFactory,
    VoterScoreFactory,
)
from voters.models import Assignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def personalized(campaign):
    """A committed personalized program over 30 two-voter households."""
    for name in ("health", "economy"):
        MessageVariantFactory(campaign=campaign, name=name)
    model = ModelVersionFactory(
        campaign=campaign, kind="persuasion", status="approved",
        metrics={"best_single_arm": "health", "margin": 0.0},
    )  # fmt: skip
    run = ScoringRunFactory(campaign=campaign, persuasion_model=model)
    election = ElectionFactory(campaign=campaign, election_on=dt.date(2030, 11, 5))
    for h in range(30):
        household = HouseholdFactory(campaign=campaign)
        for _ in range(2):
            voter = VoterFactory(campaign=campaign, household=household)
            uplift = {"health": 0.02, "economy": 0.05 if h % 2 else 0.0}
            VoterScoreFactory(run=run, voter=voter, uplift=uplift, turnout=0.5)
            if h % 3 == 0:
                VoteRecordFactory(voter=voter, election=election)
    design = create_program(
        campaign=campaign,
        spec=parse_spec(
            {"name": "Doors", "channel": "door", "arms": ["health", "economy"],
             "policy": "personalized", "control_share": 0.2, "exploration_share": 0.5,
             "seed": 4}
        ),
    )  # fmt: skip
    commit_program(design=design)
    return design, election


def test_a_product_program_uses_its_recorded_propensities_and_units(campaign, personalized):
    design, election = personalized

    data = _program_dataset(campaign, design.program, election, None)

    recorded = {
        voter: (vector, unit)
        for voter, vector, unit in Assignment.objects.filter(program=design.program).values_list(
            "voter_id", "propensities", "unit"
        )
    }
    assert len(data.voter_pks) == 60
    expected = np.array(
        [[recorded[int(pk)][0][name] for name in data.arm_names] for pk in data.voter_pks]
    )
    assert data.arm_names == ["control", "economy", "health"]
    assert np.allclose(data.propensity, expected)
    # Personalized: households the model sends economy hold it with 0.8 * (0.25 + 0.5).
    assert sorted({round(float(p), 6) for p in data.propensity[:, 1]}) == [0.2, 0.6]
    # Clusters are the randomized households: two voters each.
    assert np.bincount(data.clusters).tolist() == [2] * 30
    units = [recorded[int(pk)][1] for pk in data.voter_pks]
    for c in range(30):
        assert len({units[i] for i in np.flatnonzero(data.clusters == c)}) == 1


def test_an_imported_program_keeps_using_its_recorded_shares(campaign):
    election = ElectionFactory(campaign=campaign, election_on=dt.date(2030, 11, 5))
    control = ProgramArmFactory(program__campaign=campaign, control=True)
    treated = ProgramArmFactory(program=control.program, name="door")
    for i in range(8):
        voter = VoterFactory(campaign=campaign)
        AssignmentFactory(voter=voter, program=control.program, arm=control if i < 2 else treated)

    data = _program_dataset(campaign, control.program, election, None)

    assert np.allclose(data.propensity, np.tile([0.25, 0.75], (8, 1)))
    assert len(np.unique(data.clusters)) == 8  # no households: each voter alone
