"""Per-arm uplift from a randomized program, and honest evaluation of who-gets-what policies.

No Django here: arrays in, arrays and dataclasses out.

The learner is the DR-learner (Kennedy 2023) for K arms against control. Why this one:
- the assignment probabilities of a randomized program are *known* (read from the assignment
  record), so the doubly-robust pseudo-outcome is unbiased for each voter's effect whatever the
  quality of the outcome models; the X-learner's imputed effects lean on those models instead;
- the same pseudo-outcomes give the doubly-robust policy values the report needs, so the model
  and its evaluation share one estimator;
- it extends to K arms by one pseudo-outcome per arm, each against the common control.

Everything is cross-fitted over k folds: every voter's outcome predictions and uplifts come from
models that never saw that voter, so the evaluation on them is out-of-sample.
"""

from __future__ import annotations

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
    fold: np.ndarray  # fold of each voter
    outcome_oof: np.ndarray  # n x (K+1): P(outcome | arm a, x), out of fold
    uplift_oof: np.ndarray  # n x K: uplift of treated arm k over control, out of fold
    pseudo: np.ndarray  # n x K: the doubly-robust pseudo-outcomes
    final_models: list[xgb.XGBRegressor] = field(default_factory=list)  # one per treated arm
    # The second stage's size and how every candidate size validated (`choose_uplift_size`).
    size: dict = field(default_factory=dict)
    size_candidates: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyValue:
    policy: str
    ips: float
    ips_ci: tuple[float, float]
    dr: float
    dr_ci: tuple[float, float]


def fit_dr_learner(
    features: np.ndarray,
    arm: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    *,
    arm_names: list[str],
    folds: int = 5,
    seed: int = 0,
    params: dict | None = None,
    uplift_params: dict | None = None,
    fold: np.ndarray | None = None,
    sizes: tuple[tuple[int, int], ...] = UPLIFT_SIZES,
) -> UpliftFit:
    """Cross-fitted DR-learner. `arm` holds indices into `arm_names` (0 = control);
    `propensity` is n x (K+1), each voter's known probability of each arm. `params` tune the
    outcome models, `uplift_params` the second stage, whose depth and trees are chosen among
    `sizes` by validation unless `uplift_params` fixes them."""
    params = {**DEFAULT_PARAMS, **(params or {})}
    tau_params = {**UPLIFT_PARAMS, **(uplift_params or {})}
    if uplift_params and {"max_depth", "n_estimators"} <= set(uplift_params):
        sizes = ((tau_params["max_depth"], tau_params["n_estimators"]),)
    n = len(outcome)
    if fold is None:
        fold = np.random.default_rng(seed).permutation(n) % folds
    outcome_oof = _cross_fit_outcomes(features, arm, outcome, fold, len(arm_names), params, seed)
    pseudo = dr_pseudo_outcomes(arm, outcome, propensity, outcome_oof)
    size, candidates, uplift_oof = choose_uplift_size(
        features, pseudo, fold, tau_params, sizes, seed
    )
    tau_params = {**tau_params, **size}
    final = [
        _regressor(tau_params, seed).fit(features, pseudo[:, k]) for k in range(pseudo.shape[1])
    ]
    return UpliftFit(arm_names, fold, outcome_oof, uplift_oof, pseudo, final, size, candidates)


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
    fitted = []
    for depth, trees in sizes:
        size_params = {**tau_params, "max_depth": depth, "n_estimators": trees}
        oof = np.zeros_like(pseudo)
        for k in range(pseudo.shape[1]):
            for f in np.unique(fold):
                train = fold != f
                model = _regressor(size_params, seed).fit(features[train], pseudo[train, k])
                oof[fold == f, k] = model.predict(features[fold == f])
        fitted.append((depth, trees, oof, ((pseudo - oof) ** 2).mean(axis=1)))
    best = min(range(len(fitted)), key=lambda i: fitted[i][3].mean())
    candidates, chosen = [], None
    for i, (depth, trees, _, loss) in enumerate(fitted):
        gap = loss - fitted[best][3]
        se = float(gap.std(ddof=1) / np.sqrt(len(gap))) if len(gap) > 1 else 0.0
        candidates.append(
            {
                "max_depth": depth,
                "n_estimators": trees,
                "dr_mse": float(loss.mean()),
                "above_best": float(gap.mean()),
                "se": se,
            }
        )
        if chosen is None and gap.mean() <= se:
            chosen = i
    depth, trees, oof, _ = fitted[chosen]
    return {"max_depth": depth, "n_estimators": trees}, candidates, oof


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
    """Voters whose predicted uplift is negative for every arm: leave them alone."""
    return (uplift < 0).all(axis=1)


def safe_policy(uplift: np.ndarray, default_arm: int, margin: float) -> np.ndarray:
    """Depart from `default_arm` only where another arm's predicted advantage exceeds `margin`."""
    with_control = np.column_stack([np.zeros(len(uplift)), uplift])
    best = with_control.argmax(axis=1)
    advantage = with_control[np.arange(len(best)), best] - with_control[:, default_arm]
    return np.where(advantage > margin, best, default_arm)


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
    uplift: np.ndarray,
    arm: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    outcome_pred: np.ndarray,
    cluster: np.ndarray,
    fold: np.ndarray,
) -> tuple[np.ndarray, list[dict]]:
    """Each fold's voters get the safe policy whose default arm and margin were chosen on the
    other folds only, so the policy's estimated value is not flattered by having picked the
    margin that looks best on the very voters it is evaluated on (which matters most for small
    programs, where the best-looking margin is often noise)."""
    chosen = np.empty(len(arm), dtype=np.int64)
    per_fold = []
    for f in np.unique(fold).tolist():
        test, train = fold == f, fold != f
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
        chosen[test] = safe_policy(uplift[test], default, margin)
        per_fold.append(
            {"fold": int(f), "default_arm": default, "margin": None if np.isinf(margin) else margin}
        )
    return chosen, per_fold


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


def _cross_fit_outcomes(features, arm, outcome, fold, n_arms, params, seed) -> np.ndarray:
    predictions = np.zeros((len(outcome), n_arms))
    for f in np.unique(fold):
        test = fold == f
        for a in range(n_arms):
            train = (fold != f) & (arm == a)
            predictions[test, a] = _outcome_model(features[train], outcome[train], params, seed)(
                features[test]
            )
    return np.clip(predictions, CLIP, 1 - CLIP)


def _outcome_model(x: np.ndarray, y: np.ndarray, params: dict, seed: int):
    if len(np.unique(y)) < 2:  # an arm where everyone (or no one) voted in the training folds
        constant = float(y.mean()) if len(y) else 0.5
        return lambda rows: np.full(len(rows), constant)
    import xgboost as xgb

    model = xgb.XGBClassifier(**params, random_state=seed, eval_metric="logloss").fit(x, y)
    return lambda rows: model.predict_proba(rows)[:, 1]


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
