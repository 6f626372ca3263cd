"""How honest is the persuasion model's evaluation? Nested against plain cross-fitting, graded
against the generated county's stored truth.

    python bench/uplift_eval.py [--voters 100000] [--folds 5] [--seed 11]

On a fresh scratch database (`segment_one_bench_uplift`), generates a county, imports its voters,
history and the program's assignments through the real import services, builds the program's
data as training does, and fits the DR-learner twice on the same folds: nested (what the product
does) and plain cross-fitting. For each it prints

- per arm: the Qini coefficient of the out-of-fold uplifts (as the model card reports it) and
  their correlation with the true effects;
- the personalized policy's estimated gain over the best single arm (doubly robust, with its
  household-clustered 95% CI), and its true gain on the same voters from the stored effects,
  with the share of the oracle's gain it recovers: an honest estimate sits near the truth;
- the leak: how far fold 0's out-of-fold uplifts move when only fold 0's outcomes are flipped
  (nothing may move if "out of fold" holds);
- fit times, nested against plain (the ratio is the cost of honesty).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import recreate_database, setup_django  # noqa: E402
from voters import synthetic  # noqa: E402

BENCH_DB = "segment_one_bench_uplift"


def say(message: str) -> None:
    print(message, flush=True)


def load_program(county: synthetic.CountyFiles):
    """The program's data exactly as `train_persuasion_model` reads it."""
    from campaign.models import Election
    from campaign.services import create_campaign
    from scoring.services.training import _program_dataset
    from voters.models import Program
    from voters.services import import_program_assignments, import_vote_history, import_voter_file

    campaign, _ = create_campaign(slug="uplift", name="Uplift evaluation", state="NC")
    common = {"campaign": campaign, "mode": "quarantine"}
    import_voter_file(paths=[county.voters_csv], full=True, **common)
    import_vote_history(paths=[county.history_csv], **common)
    import_program_assignments(
        program=county.program_name, paths=[county.assignments_csv], **common
    )
    program = Program.objects.get(campaign=campaign, name=county.program_name)
    election = Election.objects.get(
        campaign=campaign, election_on=county.program_election.on, election_type="general"
    )
    return campaign, _program_dataset(campaign, program, election, None)


def true_effects(county: synthetic.CountyFiles, campaign, data) -> np.ndarray:
    """n x (K+1) true effects of each arm (control: 0) for the program's voters, in order."""
    from voters.models import Voter

    with county.ground_truth_csv.open() as handle:
        truth = {row["voter_id"]: row for row in csv.DictReader(handle)}
    ids = dict(Voter.objects.filter(campaign=campaign).values_list("pk", "voter_id"))
    return np.array(
        [
            [0.0]
            + [
                float(truth[ids[int(pk)]][f"true_effect_{a}"] or 0) / 100
                for a in data.arm_names[1:]
            ]
            for pk in data.voter_pks
        ]
    )


def fit(data, *, nested: bool, folds: int, seed: int, outcome=None):
    from scoring.uplift import fit_dr_learner

    started = time.perf_counter()
    result = fit_dr_learner(
        data.features,
        data.arm,
        data.outcome if outcome is None else outcome,
        data.propensity,
        arm_names=data.arm_names,
        clusters=data.clusters,
        folds=folds,
        seed=seed,
        nested=nested,
    )
    return result, time.perf_counter() - started


def grade(data, result, effects: np.ndarray) -> dict:
    from scoring.services.training import evaluate_uplift

    evaluation = evaluate_uplift(data, result)
    chosen = evaluation["chosen"]
    best = data.arm_names.index(evaluation["best_single_arm"])
    rows = np.arange(len(chosen))
    true_best_single = effects.mean(axis=0).max()
    oracle = effects.max(axis=1).mean()
    achieved = effects[rows, chosen].mean()
    return {
        "qini": {name: evaluation["arms"][name]["qini"] for name in data.arm_names[1:]},
        "corr": {
            name: float(np.corrcoef(result.uplift_oof[:, k - 1], effects[:, k])[0, 1])
            for k, name in enumerate(data.arm_names[1:], start=1)
        },
        "estimated_gain": evaluation["personalized_gain"]["dr"],
        "estimated_ci": evaluation["personalized_gain"]["dr_ci"],
        "true_gain": float(achieved - effects[:, best].mean()),
        "true_gain_over_true_best": float(achieved - true_best_single),
        "oracle_share": float((achieved - true_best_single) / (oracle - true_best_single)),
        "departing": evaluation["share_departing"],
        "left_alone": evaluation["share_left_alone"],
    }


def leak(data, result, *, nested: bool, folds: int, seed: int) -> float:
    flipped = np.where(result.fold == 0, 1 - data.outcome, data.outcome)
    again, _ = fit(data, nested=nested, folds=folds, seed=seed, outcome=flipped)
    zero = result.fold == 0
    return float(np.abs(again.uplift_oof[zero] - result.uplift_oof[zero]).max())


def report(graded: dict, seconds: dict, leaks: dict) -> None:
    say("\n| | nested | plain |\n|---|---|---|")
    for name in graded["nested"]["qini"]:
        cells = [f"{g['qini'][name]:.4f} (r = {g['corr'][name]:.2f})" for g in graded.values()]
        say(f"| Qini of {name} (correlation with the true effects) | " + " | ".join(cells) + " |")
    lines = (
        ("estimated gain over the best single arm, DR [95% CI]", lambda g: (
            f"{100 * g['estimated_gain']:+.2f} pts [{100 * g['estimated_ci'][0]:+.2f}, "
            f"{100 * g['estimated_ci'][1]:+.2f}]")),
        ("true gain over the same arm", lambda g: f"{100 * g['true_gain']:+.2f} pts"),
        ("true gain over the truly best single arm (share of the oracle's gain)", lambda g: (
            f"{100 * g['true_gain_over_true_best']:+.2f} pts ({g['oracle_share']:.1%})")),
        ("voters given another arm / left alone", lambda g: (
            f"{g['departing']:.1%} / {g['left_alone']:.1%}")),
    )  # fmt: skip
    for label, cell in lines:
        say(f"| {label} | " + " | ".join(cell(g) for g in graded.values()) + " |")
    say(
        "| fold 0's uplifts moved by flipping only fold 0's outcomes (max) | "
        + " | ".join(f"{leaks[k]:.4f}" for k in graded)
        + " |"
    )
    say(
        f"| fit time | {seconds['nested']:.0f} s | {seconds['plain']:.0f} s |"
        f"\n\nnested / plain fit time: {seconds['nested'] / seconds['plain']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=100_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--no-leak", action="store_true", help="skip the refits with flipped outcomes"
    )
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/segment_one")
    setup_django(recreate_database(base, BENCH_DB))
    with tempfile.TemporaryDirectory() as tmp:
        say(f"generating and importing a county of {args.voters:,} voters")
        county = synthetic.generate_county(Path(tmp), voters=args.voters, seed=args.seed)
        campaign, data = load_program(county)
        effects = true_effects(county, campaign, data)
    say(f"program: {len(data.arm):,} voters, arms {', '.join(data.arm_names)}")
    graded, seconds, leaks = {}, {}, {}
    for nested in (True, False):
        key = "nested" if nested else "plain"
        result, seconds[key] = fit(data, nested=nested, folds=args.folds, seed=args.seed)
        graded[key] = grade(data, result, effects)
        say(f"  {key}: fitted in {seconds[key]:.0f} s")
        leaks[key] = (
            float("nan")
            if args.no_leak
            else leak(data, result, nested=nested, folds=args.folds, seed=args.seed)
        )
    report(graded, seconds, leaks)


if __name__ == "__main__":
    main()
