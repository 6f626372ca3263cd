"""Model cards: what a model predicts, from what, how well, its limits, and the learner and why."""

from __future__ import annotations

from campaign.models import Election
from voters.models import Program, SurveyQuestion

LIMITS = (
    "Households and precincts are today's, not as they were on the features' date (voter files "
    "keep no address history). Voters who moved out of the file are not in the training data. "
    "Scores describe groups of similar voters; they are not facts about a person."
)


NOT_FEATURES = (
    "Never a feature: registration status (active, inactive, removed). List maintenance sets it "
    "after missed elections, so the very election a model learns from can cause it, and a model "
    "would learn that inactive voters stay home because staying home made them inactive. For "
    "the same reason household size counts every member on the file, whatever their status."
)


def features_line(names: tuple[str, ...] | list[str]) -> str:
    """The model's features, by name, and what is left out and why."""
    return f"**Features** ({len(names)}): {', '.join(names)}.\n\n{NOT_FEATURES}\n\n"


def _metrics_lines(metrics: dict) -> str:
    raw = metrics.get("uncalibrated", {})
    return (
        f"- held-out AUC {metrics['auc']:.3f}, log loss {metrics['log_loss']:.3f}, "
        f"Brier {metrics['brier']:.3f} (before calibration: AUC {raw.get('auc', 0):.3f}, "
        f"log loss {raw.get('log_loss', 0):.3f}, Brier {raw.get('brier', 0):.3f})\n"
        f"- {metrics['n_train']:,} voters trained, {metrics['n_validation']:,} validated and "
        f"calibrated, {metrics['n_test']:,} tested; split by household\n"
        f"- AUC given up for a smaller model: {metrics['auc_given_up']:.4f}"
    )


def _learner(params: dict) -> str:
    return (
        f"XGBoost, depth {params['max_depth']} x {params['trees']} trees, chosen as the cheapest "
        "size within 0.005 validation AUC of the best (exact SHAP reasons cost grows with "
        "size); isotonic calibration on the validation part so that a score of 0.6 means about "
        "6 in 10 such voters."
    )


def turnout_card(election: Election, metrics: dict, params: dict, features: tuple[str, ...]) -> str:
    return (
        f"## Turnout model\n\n**Predicts** the probability that a voter casts a ballot, trained "
        f"on who voted in {election}.\n\n**Data**: every voter registered and 18 or older by "
        f"{election.election_on:%Y-%m-%d}; features use only history before that day.\n\n"
        f"{features_line(features)}"
        f"**Metrics**\n{_metrics_lines(metrics)}\n\n**Learner**: {_learner(params)}\n\n"
        f"**Limits**: {LIMITS} A model trained on one election predicts another of the same "
        "kind best (a midterm model is weaker for a presidential year)."
    )


def support_card(metrics: dict, params: dict, features: tuple[str, ...]) -> str:
    answers = metrics.get("answers", {})
    return (
        "## Support model\n\n**Predicts** the probability that a voter supports us: answers 1-2 "
        "on the support question count as support, 4-5 as opposition; 3 (undecided) is left out "
        f"of the labels and scored like everyone else.\n\n**Data**: latest answers per voter "
        f"({', '.join(f'{k}: {v:,}' for k, v in answers.items())}). The model does not see past "
        "answers or contact counts (every labelled voter was reached).\n\n"
        f"{features_line(features)}"
        f"**Metrics**\n{_metrics_lines(metrics)}\n\n**Learner**: {_learner(params)}\n\n"
        f"**Limits**: {LIMITS} Voters who answered a canvasser differ from those who did not; "
        "the model learns from the first group and is applied to both."
    )


def _margin(value: float | None) -> str:
    return "none: no margin gained beyond noise" if value is None else f"{value:.4f}"


def _fold_margins(evaluation: dict) -> str:
    folds = evaluation.get("margin_by_fold") or []
    return "; ".join(f"fold {f['fold']}: {_margin(f['margin'])}" for f in folds) or "n/a"


def _uplift_size(evaluation: dict) -> str:
    """The second stage's size chosen by validation, and what each candidate scored."""
    size, candidates = evaluation.get("uplift_size"), evaluation.get("uplift_sizes") or []
    if not size:
        return ""
    rows = "\n".join(
        f"- depth {c['max_depth']} x {c['n_estimators']} trees: DR loss {c['dr_mse']:.5f} "
        f"(+{c['above_best']:.5f} ± {c['se']:.5f} over the best)"
        for c in candidates
    )
    chosen = next(
        (c for c in candidates if (c["max_depth"], c["n_estimators"]) == tuple(size.values())),
        None,
    )
    given_up = f"; loss given up against the best size {chosen['above_best']:.5f}" if chosen else ""
    return (
        f"**Uplift model size**: depth {size['max_depth']} x {size['n_estimators']} trees per "
        "arm, the cheapest size whose cross-fitted loss (squared error against the "
        "doubly-robust pseudo-outcome, whose differences between sizes are differences in "
        "error against the true effects) is within one standard error of the best size's"
        f"{given_up}. Exact SHAP of every scored voter grows with depth x trees, so a bigger "
        "model must earn its keep. The size is chosen on the same out-of-fold predictions "
        f"the evaluation uses, a mild optimism among {len(candidates)} sizes.\n{rows}\n\n"
    )


def persuasion_card(
    program: Program,
    election: Election | None,
    question: SurveyQuestion | None,
    evaluation: dict,
    folds: int,
    features: tuple[str, ...],
) -> str:
    outcome = f"voting in {election}" if election else f"answering 1-2 to '{question.slug}'"
    policies = "\n".join(
        f"- {p['policy']}: DR {p['dr']:.4f} [{p['dr_ci'][0]:.4f}, {p['dr_ci'][1]:.4f}], "
        f"IPS {p['ips']:.4f}"
        for p in evaluation["policies"]
    )
    arms = "\n".join(
        f"- {name}: average effect {a['ate_dr']:+.4f}, Qini {a['qini']:.4f}"
        for name, a in evaluation["arms"].items()
    )
    return (
        f"## Persuasion model: {program.name}\n\n**Predicts**, per message arm, the change in "
        f"the chance of {outcome} if the voter gets that message instead of nothing.\n\n"
        f"**Data**: {_kept(evaluation)}; features as of its assignment date, so nothing the "
        "program changed is used.\n\n"
        f"{features_line(features)}"
        f"**Learner**: DR-learner on XGBoost, cross-fitted over {folds} folds of whole "
        "households (the unit a door program randomizes), and nested: each fold's uplifts come "
        "from a second stage trained on pseudo-outcomes whose outcome models were themselves "
        "cross-fitted without that fold, so no model behind a voter's reported uplift saw that "
        "voter's outcome. The program's assignment probabilities are known, so the "
        "doubly-robust pseudo-outcome of each arm against control is unbiased whatever the "
        "outcome models' errors; the X-learner would lean on those models instead. Reasons are "
        "exact TreeSHAP of the chosen arm's uplift model (the DR-learner's second stage), not of "
        "a surrogate.\n\n"
        f"**Arms**\n{arms}\n\n**Policy values** (estimated outcome rate if applied to these "
        f"voters; 95% CIs clustered by household)\n{policies}\n\n"
        f"{_uplift_size(evaluation)}"
        f"**Personalization**: a voter gets the best single arm ({evaluation['best_single_arm']}) "
        "unless another choice's predicted advantage exceeds a margin "
        f"({_margin(evaluation.get('margin'))}); leaving the voter alone is one of the choices, "
        "taken when every message is predicted to hurt and the best single arm by more than the "
        "margin. The margin is "
        "chosen on the cross-fitted predictions of every program voter; that is the rule scoring "
        "applies. The personalized policy value above is honest about that choice: each fold's "
        "voters are evaluated under the default arm and margin chosen without that fold's "
        f"outcomes ({_fold_margins(evaluation)}). "
        f"{evaluation['share_departing']:.1%} of voters leave the best single arm "
        f"({evaluation.get('share_left_alone', 0):.1%} are left alone); "
        f"{evaluation['backlash_share']:.1%} are predicted to react against every message.\n\n"
        f"**Limits**: {LIMITS} Effects are learned from one program's voters, messages and "
        "season; they transfer to others only as far as those resemble them."
    )


def _kept(evaluation: dict) -> str:
    """How many assigned voters the data kept, and why the others were left out."""
    kept = f"the {evaluation['n']:,} voters of the randomized program"
    dropped = {reason: n for reason, n in (evaluation.get("dropped") or {}).items() if n}
    if not evaluation.get("assigned"):
        return kept
    left_out = "; ".join(f"{n:,} {reason}" for reason, n in dropped.items()) or "none"
    return f"{kept} ({evaluation['assigned']:,} assigned; left out: {left_out})"


def persuasion_summary(metrics: dict) -> str:
    """One line on a persuasion model's evaluation, for the train and demo commands."""
    best = metrics["best_single_arm"]
    single = next(p for p in metrics["policies"] if p["policy"] == f"everyone: {best}")
    personalized = next(p for p in metrics["policies"] if p["policy"] == "personalized")
    line = (
        f"best single arm {best} (DR value {single['dr']:.4f}); personalized "
        f"{personalized['dr']:.4f}"
    )
    gain = metrics.get("personalized_gain")
    if gain:
        low, high = gain["dr_ci"]
        line += f" (gain {gain['dr']:+.4f}, 95% CI [{low:+.4f}, {high:+.4f}])"
    line += (
        f"; {metrics['share_departing']:.1%} of voters get another arm; "
        f"{metrics['backlash_share']:.1%} flagged as backlash"
    )
    size = metrics.get("uplift_size")
    if size:
        line += f"; uplift models depth {size['max_depth']} x {size['n_estimators']} trees"
    return line
