"""On the generated county's stored truth, the personalized policy recovers a clear share of the
oracle's gain over the best single arm (issue 4 §4). Slow: it needs a county big enough for
heterogeneous effects of a few points to rise above the noise of a binary outcome."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from campaign.models import Election
from scoring import artifacts
from scoring.services import train_persuasion_model
from tests.scoring.conftest import load_assignments
from voters.models import Voter
from voters.services import import_vote_history, import_voter_file
from voters.synthetic import generate_county

pytestmark = pytest.mark.slow

COUNTY_VOTERS = 100_000  # about 76,000 in the program; at 40,000 no personalization beats noise


def true_effects(path) -> dict[str, dict[str, float]]:
    with path.open() as handle:
        return {
            row["voter_id"]: {
                k.removeprefix("true_effect_"): float(v or 0) / 100
                for k, v in row.items()
                if k.startswith("true_effect_")
            }
            for row in csv.DictReader(handle)
        }


@pytest.mark.django_db
def test_personalized_policy_recovers_a_clear_share_of_the_oracle_gain(campaign, tmp_path):
    files = generate_county(tmp_path / "county", voters=COUNTY_VOTERS, seed=11)
    import_voter_file(campaign=campaign, paths=[files.voters_csv])
    import_vote_history(campaign=campaign, paths=[files.history_csv])
    program = load_assignments(campaign, files.assignments_csv, files.program_name)
    election = Election.objects.get(
        campaign=campaign, election_on=files.program_election.on, election_type="general"
    )

    version = train_persuasion_model(
        campaign=campaign, program=program, election=election, folds=3, seed=1,
        params={"n_estimators": 150, "max_depth": 4},
    )  # fmt: skip

    bundle = artifacts.load(version.artifact)
    names = bundle.meta["arm_names"]
    ids = dict(Voter.objects.filter(campaign=campaign).values_list("pk", "voter_id"))
    truth = true_effects(files.ground_truth_csv)
    effects = np.array(
        [[0.0] + [truth[ids[int(pk)]][arm] for arm in names[1:]]
         for pk in bundle.arrays["voter_pks"]]
    )  # fmt: skip
    chosen = bundle.arrays["chosen_arm"]
    best_single = effects.mean(axis=0).max()
    oracle = effects.max(axis=1).mean()
    achieved = effects[np.arange(len(chosen)), chosen].mean()
    share = (achieved - best_single) / (oracle - best_single)
    # Measured: 0.128 to 0.164 of the oracle's gain over the best single arm, with the uplift size
    # chosen by validation and each fold's margin chosen on the other folds (0.23 when the margin
    # was chosen on the very voters it was scored on). The spread is the household folds: they
    # are drawn over household ids, which depend on what the test database created before.
    assert share > 0.11, share
    assert version.metrics["share_departing"] > 0.05
    # Never estimated worse than the best single arm beyond noise: the gain's 95% CI reaches 0.
    gain = version.metrics["personalized_gain"]
    assert gain["dr_ci"][1] >= 0, gain
    personalized = next(p for p in version.metrics["policies"] if p["policy"] == "personalized")
    best = next(
        p for p in version.metrics["policies"]
        if p["policy"] == f"everyone: {version.metrics['best_single_arm']}"
    )  # fmt: skip
    assert gain["dr"] == pytest.approx(personalized["dr"] - best["dr"])
