"""The loop closed on the generated county's stored truth: a uniform program's outcomes train
the persuasion model, whose cross-fitted policy recovers a clear share of the oracle's gain (issue
4 §4); scoring applies it, and the personalized program committed from those scores is graded
against every voter's true effect of every variant (issue 12 §3). One test, because the county
and the model are the expensive part. Slow: below about 100,000 voters no personalization rises
above the noise of a binary outcome (the model then keeps everyone on the best single arm, which
the program's check would accept but not exercise)."""

from __future__ import annotations

import numpy as np
import pytest

from campaign.models import Election
from messaging.program_specs import parse_spec
from messaging.program_truth import grade_plan, read_true_effects
from messaging.programs import commit_program, create_program, plan_program
from messaging.services import create_variant
from scoring import artifacts
from scoring.services import (
    approve_model,
    start_scoring_run,
    train_persuasion_model,
    train_turnout_model,
)
from tests.scoring.conftest import load_assignments
from voters.models import Assignment, Voter
from voters.services import import_vote_history, import_voter_file
from voters.synthetic import VARIANTS, generate_county

pytestmark = pytest.mark.slow

COUNTY_VOTERS = 100_000


@pytest.mark.django_db
def test_the_personalized_program_is_not_worse_than_the_best_single_variant_in_truth(
    campaign, staff_user, tmp_path, django_capture_on_commit_callbacks
):
    files = generate_county(tmp_path / "county", voters=COUNTY_VOTERS, seed=11)
    import_voter_file(campaign=campaign, paths=[files.voters_csv])
    import_vote_history(campaign=campaign, paths=[files.history_csv])
    past = load_assignments(campaign, files.assignments_csv, files.program_name)
    election = Election.objects.get(
        campaign=campaign, election_on=files.program_election.on, election_type="general"
    )
    # Scoring needs a turnout model; its quality does not matter here, so one small size.
    turnout = train_turnout_model(campaign=campaign, election=election, seed=1, sizes=((2, 50),))
    persuasion = train_persuasion_model(
        campaign=campaign, program=past, election=election, folds=3, seed=1,
        params={"n_estimators": 150, "max_depth": 4},
    )  # fmt: skip
    truth = read_true_effects(files.ground_truth_csv, list(VARIANTS))
    check_cross_fitted_policy(campaign, persuasion, truth)

    for version in (turnout, persuasion):
        approve_model(version=version, user=staff_user)
    with django_capture_on_commit_callbacks(execute=True):
        start_scoring_run(campaign=campaign, chunk_voters=25_000)
    for name in VARIANTS:
        create_variant(campaign=campaign, name=name, channel="door", body="Hello.")
    spec = {
        "name": "next", "channel": "door", "arms": list(VARIANTS), "policy": "personalized",
        "control_share": 0.1, "exploration_share": 0.1, "seed": 5,
    }  # fmt: skip
    design = create_program(campaign=campaign, spec=parse_spec(spec))

    plan = plan_program(design=design)
    assert plan.arm_names[1:] == list(VARIANTS)
    grade = grade_plan(plan, truth)
    commit_program(design=design)

    print("\n".join(grade.lines()))
    best_name, best = grade.best_single
    # The model found something to personalize on (else this test exercises nothing) ...
    assert persuasion.metrics["margin"] is not None
    assert (plan.draw.policy_arm != plan.arm_names.index(best_name)).mean() > 0.02
    # ... and the policy it chose is not worse than the best single variant in truth.
    assert grade.policy_only >= best, grade
    assert Assignment.objects.filter(program=design.program).count() == sum(
        arm["voters"] for arm in plan.summary()["arms"]
    )


def check_cross_fitted_policy(campaign, version, truth: dict[str, np.ndarray]) -> None:
    """The model's own out-of-fold choices, graded on the program's voters."""
    bundle = artifacts.load(version.artifact)
    names = bundle.meta["arm_names"]
    ids = dict(Voter.objects.filter(campaign=campaign).values_list("pk", "voter_id"))
    columns = [list(VARIANTS).index(arm) for arm in names[1:]]
    effects = np.array([[0.0, *truth[ids[int(pk)]][columns]] for pk in bundle.arrays["voter_pks"]])
    chosen = bundle.arrays["chosen_arm"]
    best_single = effects.mean(axis=0).max()
    oracle = effects.max(axis=1).mean()
    achieved = effects[np.arange(len(chosen)), chosen].mean()
    share = (achieved - best_single) / (oracle - best_single)
    print(f"cross-fitted policy: {share:.3f} of the oracle's gain over the best single arm")
    # Measured 0.128 to 0.164 when voters every arm was predicted to hurt were left alone on the
    # point estimates; the spread is the household folds, drawn over household ids, which
    # depend on what the test database created before.
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
