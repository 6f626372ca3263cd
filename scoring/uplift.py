"""Per-arm uplift from a randomized program, and honest evaluation of who-gets-what policies.

No Django here: arrays in, arrays and dataclasses out.

The learner is the DR-learner (Kennedy 2023) for K arms against control. Why this one:
- the assignment probabilities of a randomized program are *known* (read from the assignment
  record), so the doubly-robust pseudo-outcome is unbiased for each voter's effect whatever the
  quality of the outcome models; the X-learner's imputed effects lean on those models instead;
- the same pseudo-outcomes give the doubly-robust policy values the report needs, so the model
  and its evaluation share one estimator;
- it extends to K arms by one pseudo-outcome per arm, each against the common control.

Everything is cross-fitted over k folds of whole households (the unit a door program randomizes),
and nested: every voter's uplift, and the policy their fold is evaluated under, come from models
and choices that never saw that voter's outcome, nor any outcome of their fold. Plain
cross-fitting is not enough for a two-stage learner: the second stage of fold f trains on the
other folds' pseudo-outcomes, and those were built by outcome models that saw fold f.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: not at the start of every command (see ml.py)
    import xgboost as xgb

DEFAULT_PARAMS = {
    "max_depth": 4,
    "n_estimators": 200,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "min_child_weight": 20,
    "n_jobs": 2,
    "tree_method": "hist",
}
# The second stage regresses pseudo-outcomes whose noise dwarfs the effects (a binary outcome
# divided by a propensity of 0.2 has a variance above 1, effects are a few points): shallow trees,
# large leaves and slow learning keep it from fitting that noise.
UPLIFT_PARAMS = {
    "max_depth": 2,
    "n_estimators": 120,
    "learning_rate": 0.03,
    "subsample": 0.8,
    "min_child_weight": 300,
    "reg_lambda": 10.0,
    "n_jobs": 2,
    "tree_method": "hist",
}
# Sizes of the second stage tried by validation, cheapest first: exact TreeSHAP of the chosen arm
# is computed for every voter scored, and its cost grows with depth x trees.
UPLIFT_SIZES: tuple[tuple[int, int], ...] = ((1, 100), (2, 120), (3, 150), (4, 200))
# Outcome predictions are kept off 0 and 1: a pseudo-outcome divides residuals by propensities, and
# a model certain of a binary outcome would leave no room for the residual to correct it.
CLIP = 1e-3


@dataclass
class UpliftFit:
    """Cross-fitted outcome predictions and uplifts for the voters of one program."""

    arm_names: list[str]  # index 0 is control
    fold: np.ndarray  # fold of each voter (whole households share one)
    outcome_oof: np.ndarray  # n x (K+1): P(outcome | arm a, x), from models that never saw x's fold
    uplift_oof: np.ndarray  # n x K: uplift of treated arm k over control, out of fold
    pseudo: np.ndarray  # n x K: the doubly-robust pseudo-outcomes (of the outer cross-fit)
    final_models: list[xgb.XGBRegressor] = field(default_factory=list)  # one per treated arm
    # The second stage's size and how every candidate size validated (`choose_uplift_size`).
    size: dict = field(default_factory=dict)
    size_candidates: list[dict] = field(default_factory=list)
    # Fold -> (default arm, margin) of the safe policy applied to that fold's voters, chosen
    # without that fold's outcomes (`FoldPolicy`).
    fold_policy: dict[int, FoldPolicy] = field(default_factory=dict)
    nested: bool = True


@dataclass(frozen=True)
class FoldPolicy:
    default_arm: int
    margin: float  # infinity: never depart from the default arm
    size: dict = field(default_factory=dict)  # the second stage's size chosen for this fold


@dataclass(frozen=True)
class PolicyValue:
    policy: str
    ips: float
    ips_ci: tuple[float, float]
    dr: float
    dr_ci: tuple[float, float]


def household_folds(clusters: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each voter's fold, whole households together: the household is the unit a door or mail
    program randomizes, and members share habits, so a split by voter would let a household's
    outcome leak from training into the fold evaluated."""
    _, group = np.unique(clusters, return_inverse=True)
    order = np.random.default_rng(seed).permutation(int(group.max()) + 1 if len(group) else 0)
    return (order % folds)[group.ravel()].astype(np.int64)


def fit_dr_learner(
    features: np.ndarray,
    arm: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    *,
    arm_names: list[str],
    clusters: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
    params: dict | None = None,
    uplift_params: dict | None = None,
    fold: np.ndarray | None = None,
    sizes: tuple[tuple[int, int], ...] = UPLIFT_SIZES,
    nested: bool = True,
) -> UpliftFit:
    """Cross-fitted DR-learner. `arm` holds indices into `arm_names` (0 = control);
    `propensity` is n x (K+1), each voter's known probability of each arm; `clusters` the unit
    randomized (households; each voter alone when None), which folds never split. `params` tune
    the outcome models, `uplift_params` the second stage, whose depth and trees are chosen among
    `sizes` by validation unless `uplift_params` fixes them.

    Nested (the default): a fold's uplifts, and the default arm and margin of the policy
    evaluated on it, come only from models and choices that never saw that fold's outcomes (see
    `_nested_fold`). `nested=False` is the plain cross-fit, kept to measure what nesting changes:
    its second stage learns from pseudo-outcomes built by outcome models that did see the fold.
    """
    params = {**DEFAULT_PARAMS, **(params or {})}
    tau_params = {**UPLIFT_PARAMS, **(uplift_params or {})}
    if uplift_params and {"max_depth", "n_estimators"} <= set(uplift_params):
        sizes = ((tau_params["max_depth"], tau_params["n_estimators"]),)
    n = len(outcome)
    if fold is None:
        fold = household_folds(np.arange(n) if clusters is None else clusters, folds, seed)
    if clusters is None:
        clusters = np.arange(n)
    if nested and len(np.unique(fold)) < 3:
        raise ValueError("nested cross-fitting needs at least 3 folds")
    outcomes = OutcomeModels(features, arm, outcome, fold, len(arm_names), params, seed)
    outcome_oof = outcomes.outer()
    pseudo = dr_pseudo_outcomes(arm, outcome, propensity, outcome_oof)
    if nested:
        uplift_oof = np.zeros_like(pseudo)
        fold_policy, loss_sum, seen = {}, np.zeros((len(sizes), n)), np.zeros(n)
        for f in np.unique(fold).tolist():
            test = fold == f
            uplift_oof[test], fold_policy[f], losses = _nested_fold(
                f, features, arm, outcome, propensity, clusters, fold, outcomes, tau_params,
                sizes, seed,
            )  # fmt: skip
            loss_sum[:, ~test] += losses
            seen[~test] += 1
        # The deployed size: each voter's loss averaged over the folds that validated it, all of
        # them out of (inner) fold, so no extra round of fits is needed to choose it.
        chosen, candidates = pick_size(sizes, loss_sum / np.maximum(seen, 1))
        size = _size(sizes[chosen])
    else:
        size, candidates, uplift_oof = choose_uplift_size(
            features, pseudo, fold, tau_params, sizes, seed
        )
        fold_policy = policies_from_other_folds(
            uplift_oof, arm, outcome, propensity, outcome_oof, clusters, fold
        )
    # The deployed second stage: every program voter's pseudo-outcome.
    final = [
        _regressor({**tau_params, **size}, seed).fit(features, pseudo[:, k])
        for k in range(pseudo.shape[1])
    ]
    return UpliftFit(
        arm_names, fold, outcome_oof, uplift_oof, pseudo, final, size, candidates, fold_policy,
        nested,
    )  # fmt: skip


def _nested_fold(
    f, features, arm, outcome, propensity, clusters, fold, outcomes, tau_params, sizes, seed
) -> tuple[np.ndarray, FoldPolicy, np.ndarray]:
    """Fold f's uplifts and policy from the other folds alone, and the other folds' voters'
    losses under each second-stage size (sizes x voters outside f).

    Within the other folds, outcome models are cross-fitted again (each trained without f and
    without the inner fold it predicts), giving pseudo-outcomes that owe nothing to f's outcomes;
    the second stage's size is chosen, and the model fitted, on those; the default arm and the
    margin are chosen on the other folds' inner out-of-fold uplifts. Flipping every outcome of
    fold f changes none of what this returns.
    """
    train, test = fold != f, fold == f
    inner_mu = outcomes.without(f)[train]
    inner_pseudo = dr_pseudo_outcomes(arm[train], outcome[train], propensity[train], inner_mu)
    oofs, losses = size_losses(features[train], inner_pseudo, fold[train], tau_params, sizes, seed)
    chosen, _ = pick_size(sizes, losses)
    size, inner_uplift = _size(sizes[chosen]), oofs[chosen]
    uplift = np.column_stack(
        [
            _regressor({**tau_params, **size}, seed)
            .fit(features[train], inner_pseudo[:, k])
            .predict(features[test])
            for k in range(inner_pseudo.shape[1])
        ]
    )
    y, e = outcome[train], propensity[train]
    default = best_single_arm(arm[train], y, e, inner_mu)
    margin = choose_margin(inner_uplift, default, arm[train], y, e, inner_mu, clusters[train])
    return uplift, FoldPolicy(default, margin, size), losses


class OutcomeModels:
    """Per-arm outcome models cross-fitted over the folds, and again without each fold.

    `outer()`: each voter's predictions from models trained on every other fold. `without(f)`:
    for voters outside fold f, predictions from models trained on neither f nor the voter's own
    fold. A model trained without folds {f, g} serves both `without(f)` (predicting g) and
    `without(g)` (predicting f), so the nested predictions cost K(K-1)/2 models per arm, not
    K(K-1); they are built on first use.
    """

    def __init__(self, features, arm, outcome, fold, n_arms, params, seed):
        self.features, self.arm, self.outcome, self.fold = features, arm, outcome, fold
        self.n_arms, self.params, self.seed = n_arms, params, seed
        self.folds = np.unique(fold).tolist()
        self._without: dict[int, np.ndarray] = {}

    def outer(self) -> np.ndarray:
        predictions = np.zeros((len(self.outcome), self.n_arms))
        for f in self.folds:
            test = self.fold == f
            for a in range(self.n_arms):
                predictions[test, a] = self._model(self.fold != f, a)(self.features[test])
        return np.clip(predictions, CLIP, 1 - CLIP)

    def without(self, f: int) -> np.ndarray:
        if not self._without:
            self._build_pairs()
        return self._without[f]

    def _build_pairs(self) -> None:
        n = len(self.outcome)
        self._without = {f: np.full((n, self.n_arms), np.nan) for f in self.folds}
        for f, g in itertools.combinations(self.folds, 2):
            in_f, in_g = self.fold == f, self.fold == g
            for a in range(self.n_arms):
                model = self._model(~in_f & ~in_g, a)
                self._without[f][in_g, a] = model(self.features[in_g])
                self._without[g][in_f, a] = model(self.features[in_f])
        for f in self.folds:
            np.clip(self._without[f], CLIP, 1 - CLIP, out=self._without[f])

    def _model(self, rows: np.ndarray, a: int):
        train = rows & (self.arm == a)
        return _outcome_model(self.features[train], self.outcome[train], self.params, self.seed)


def choose_uplift_size(
    features: np.ndarray,
    pseudo: np.ndarray,
    fold: np.ndarray,
    tau_params: dict,
    sizes: tuple[tuple[int, int], ...],
    seed: int,
) -> tuple[dict, list[dict], np.ndarray]:
    """The cheapest second-stage size whose cross-fitted loss is within one standard error of
    the best size's, every candidate's figures, and the chosen size's out-of-fold uplifts.

    The loss is the mean squared error of the out-of-fold uplift against the doubly-robust
    pseudo-outcome. The pseudo-outcome is unbiased for the voter's effect, so this loss differs
    from the (unobservable) error against the true effect by a constant the size does not change:
    its differences between sizes are differences in how well each recovers the effects. The
    standard error is that of the paired per-voter difference from the best size.
    """
    oofs, losses = size_losses(features, pseudo, fold, tau_params, sizes, seed)
    chosen, candidates = pick_size(sizes, losses)
    return _size(sizes[chosen]), candidates, oofs[chosen]


def size_losses(
    features: np.ndarray,
    pseudo: np.ndarray,
    fold: np.ndarray,
    tau_params: dict,
    sizes: tuple[tuple[int, int], ...],
    seed: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each size's cross-fitted uplifts, and each voter's loss under each size (sizes x n)."""
    oofs, losses = [], np.empty((len(sizes), len(pseudo)))
    for i, (depth, trees) in enumerate(sizes):
        size_params = {**tau_params, "max_depth": depth, "n_estimators": trees}
        oof = np.zeros_like(pseudo)
        for k in range(pseudo.shape[1]):
            for f in np.unique(fold):
                train = fold != f
                model = _regressor(size_params, seed).fit(features[train], pseudo[train, k])
                oof[fold == f, k] = model.predict(features[fold == f])
        oofs.append(oof)
        losses[i] = ((pseudo - oof) ** 2).mean(axis=1)
    return oofs, losses


def pick_size(sizes: tuple[tuple[int, int], ...], losses: np.ndarray) -> tuple[int, list[dict]]:
    """The index of the cheapest size within one standard error of the best, and every size's
    figures; `losses` is sizes x voters, the standard error that of the paired difference."""
    best = int(losses.mean(axis=1).argmin())
    candidates, chosen = [], None
    for i, (depth, trees) in enumerate(sizes):
        gap = losses[i] - losses[best]
        se = float(gap.std(ddof=1) / np.sqrt(len(gap))) if len(gap) > 1 else 0.0
        candidates.append(
            {
                "max_depth": depth,
                "n_estimators": trees,
                "dr_mse": float(losses[i].mean()),
                "above_best": float(gap.mean()),
                "se": se,
            }
        )
        if chosen is None and gap.mean() <= se:
            chosen = i
    return chosen, candidates


def dr_pseudo_outcomes(
    arm: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, outcome_pred: np.ndarray
) -> np.ndarray:
    """n x K doubly-robust pseudo-outcomes of each treated arm against control (index 0)."""
    n, arms = outcome_pred.shape
    rows = np.arange(n)
    observed = outcome_pred[rows, arm]
    correction = (outcome - observed) / propensity[rows, arm]
    control_term = outcome_pred[:, 0] + np.where(arm == 0, correction, 0.0)
    pseudo = np.empty((n, arms - 1))
    for k in range(1, arms):
        pseudo[:, k - 1] = outcome_pred[:, k] + np.where(arm == k, correction, 0.0) - control_term
    return pseudo


# -- policies ---------------------------------------------------------------------------------


def best_arm(uplift: np.ndarray) -> np.ndarray:
    """Each voter's arm with the largest predicted uplift; control (0) when every uplift < 0."""
    with_control = np.column_stack([np.zeros(len(uplift)), uplift])
    return with_control.argmax(axis=1)


def backlash(uplift: np.ndarray) -> np.ndarray:
    """Voters whose predicted uplift is negative for every arm (a description of the
    predictions; whom the policy leaves alone is `safe_policy`'s choice)."""
    return (uplift < 0).all(axis=1)


def safe_policy(uplift: np.ndarray, default_arm: int, margin: float) -> np.ndarray:
    """Depart from `default_arm` only where another choice's predicted advantage exceeds
    `margin`; leaving a voter alone (control, 0) is one of those choices and passes the same
    test: a voter is left alone when every message is predicted to hurt and the default arm by
    more than the margin.

    Leaving alone on the point estimates alone ("every arm below zero") looked harmless but was
    measured not to be: on the demo county the final model put 15% of the voters below zero for
    every arm, where the truth was a small gain from every one, and leaving them out cost a
    sixth of the program's true gain. With no margin validated (infinity), nobody is left alone.
    """
    with_control = np.column_stack([np.zeros(len(uplift)), uplift])
    best = with_control.argmax(axis=1)
    advantage = with_control[np.arange(len(best)), best] - with_control[:, default_arm]
    return np.where(advantage > margin, best, default_arm)


def explain_choice(
    uplift: dict[str, float],
    chosen: str,
    default: str | None,
    margin: float | None,
    label: Callable[[str], str] = str,
) -> str:
    """In words, why the safe policy gave this voter `chosen` (an arm name, "control" for
    none): the same rule as `safe_policy`, read back from one voter's predicted uplifts.
    Arms are named by `label(name)`; differences are in percentage points (pp)."""
    if chosen == "control":
        return (
            f"leave alone: every message is predicted to backfire, {label(default or '')} by "
            f"more than the safety margin ({100 * (margin or 0):.1f} pp)"
        )
    if default is None:
        return ""
    if chosen == default:
        if margin is None:
            return (
                f"{label(default)}, the best single message: no personalization beat it beyond "
                "noise when tested"
            )
        return (
            f"{label(default)}, the best single message: no other choice beats it by more than "
            f"the safety margin ({100 * margin:.1f} pp)"
        )
    advantage = uplift.get(chosen, 0.0) - uplift.get(default, 0.0)
    return (
        f"{label(chosen)} is predicted to beat {label(default)}, the best single message, by "
        f"{100 * advantage:.1f} pp, more than the safety margin ({100 * (margin or 0):.1f} pp)"
    )


def policy_scores(
    policy: np.ndarray,
    arm: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    outcome_pred: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-voter inverse-propensity and doubly-robust scores of a policy; their means are its
    estimated value (the outcome rate if everyone got the policy's arm)."""
    rows = np.arange(len(policy))
    followed = arm == policy
    weight = np.where(followed, 1.0 / propensity[rows, policy], 0.0)
    ips = weight * outcome
    predicted = outcome_pred[rows, policy]
    dr = predicted + weight * (outcome - predicted)
    return ips, dr


def policy_value(
    name: str, ips: np.ndarray, dr: np.ndarray, cluster: np.ndarray, z: float = 1.959964
) -> PolicyValue:
    return PolicyValue(
        policy=name,
        ips=float(ips.mean()),
        ips_ci=_mean_ci(ips, cluster, z),
        dr=float(dr.mean()),
        dr_ci=_mean_ci(dr, cluster, z),
    )


def choose_margin(
    uplift: np.ndarray,
    default_arm: int,
    arm: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    outcome_pred: np.ndarray,
    cluster: np.ndarray,
    *,
    z: float = 1.0,
) -> float:
    """The margin whose safe policy has the best lower bound (DR estimate minus z standard errors)
    of its gain over `default_arm` for everyone; infinity when no margin gains beyond noise."""
    _, baseline = policy_scores(
        np.full(len(arm), default_arm), arm, outcome, propensity, outcome_pred
    )
    with_control = np.column_stack([np.zeros(len(uplift)), uplift])
    advantage = with_control.max(axis=1) - with_control[:, default_arm]
    positive = advantage[advantage > 0]
    if positive.size == 0:
        return float("inf")
    grid = np.unique(np.quantile(positive, np.linspace(0.0, 0.95, 20)))
    best_margin, best_bound = float("inf"), 0.0
    for margin in [0.0, *grid.tolist()]:
        policy = safe_policy(uplift, default_arm, margin)
        _, scores = policy_scores(policy, arm, outcome, propensity, outcome_pred)
        gain = scores - baseline
        low, _ = _mean_ci(gain, cluster, z)
        if low > best_bound:
            best_margin, best_bound = float(margin), low
    return best_margin


def best_single_arm(
    arm: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, outcome_pred: np.ndarray
) -> int:
    """The arm whose everyone-gets-it policy has the highest doubly-robust value."""
    values = [
        policy_scores(np.full(len(arm), k), arm, outcome, propensity, outcome_pred)[1].mean()
        for k in range(outcome_pred.shape[1])
    ]
    return int(np.argmax(values))


def cross_fitted_safe_policy(
    uplift: np.ndarray, fold: np.ndarray, fold_policy: dict[int, FoldPolicy]
) -> np.ndarray:
    """Each fold's voters under the safe policy whose default arm and margin were chosen without
    that fold's outcomes, so the policy's estimated value is not flattered by having picked the
    margin that looks best on the very voters it is evaluated on (which matters most for small
    programs, where the best-looking margin is often noise)."""
    chosen = np.empty(len(uplift), dtype=np.int64)
    for f, policy in fold_policy.items():
        test = fold == f
        chosen[test] = safe_policy(uplift[test], policy.default_arm, policy.margin)
    return chosen


def policies_from_other_folds(
    uplift: np.ndarray,
    arm: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    outcome_pred: np.ndarray,
    cluster: np.ndarray,
    fold: np.ndarray,
) -> dict[int, FoldPolicy]:
    """Each fold's default arm and margin chosen on the other folds' uplifts and outcomes: the
    plain cross-fit's policies (those other folds' uplifts were learned with this fold's
    outcomes in their pseudo-outcomes, which nesting avoids)."""
    policies = {}
    for f in np.unique(fold).tolist():
        train = fold != f
        default = best_single_arm(
            arm[train], outcome[train], propensity[train], outcome_pred[train]
        )
        margin = choose_margin(
            uplift[train],
            default,
            arm[train],
            outcome[train],
            propensity[train],
            outcome_pred[train],
            cluster[train],
        )
        policies[f] = FoldPolicy(default, margin)
    return policies


# -- ranking quality --------------------------------------------------------------------------


def qini_coefficient(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> float:
    """Area between the Qini curve and the random-targeting line, per treated voter.

    Voters are ranked by predicted uplift; at each cut the curve is the treated outcomes minus
    the control outcomes scaled to the treated count. Positive: the ranking finds responders.
    """
    order = np.argsort(-uplift, kind="stable")
    t = treated[order].astype(bool)
    y = outcome[order].astype(np.float64)
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = np.where(n_c > 0, y_t - y_c * n_t / np.maximum(n_c, 1), y_t)
    random_line = curve[-1] * np.arange(1, len(curve) + 1) / len(curve)
    return float((curve - random_line).mean() / max(n_t[-1], 1))


def uplift_at(
    uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray, share: float
) -> float | None:
    """Observed outcome rate of treated minus control among the top `share` by predicted uplift."""
    top = np.argsort(-uplift, kind="stable")[: max(1, round(share * len(uplift)))]
    t = treated[top].astype(bool)
    if t.all() or not t.any():
        return None
    return float(outcome[top][t].mean() - outcome[top][~t].mean())


# --------------------------------------------------------------------------------------------


def _outcome_model(x: np.ndarray, y: np.ndarray, params: dict, seed: int):
    if len(np.unique(y)) < 2:  # an arm where everyone (or no one) voted in the training folds
        constant = float(y.mean()) if len(y) else 0.5
        return lambda rows: np.full(len(rows), constant)
    import xgboost as xgb

    model = xgb.XGBClassifier(**params, random_state=seed, eval_metric="logloss").fit(x, y)
    return lambda rows: model.predict_proba(rows)[:, 1]


def _size(size: tuple[int, int]) -> dict:
    depth, trees = size
    return {"max_depth": depth, "n_estimators": trees}


def _regressor(params: dict, seed: int) -> xgb.XGBRegressor:
    import xgboost as xgb

    return xgb.XGBRegressor(**params, random_state=seed)


def _mean_ci(values: np.ndarray, cluster: np.ndarray, z: float) -> tuple[float, float]:
    """Mean ± z cluster-robust standard errors (households as clusters)."""
    mean = values.mean()
    _, groups = np.unique(cluster, return_inverse=True)
    sums = np.bincount(groups.ravel(), weights=values - mean)
    g = len(sums)
    se = np.sqrt((sums**2).sum() * g / max(g - 1, 1)) / len(values)
    return float(mean - z * se), float(mean + z * se)
