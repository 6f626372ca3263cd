"""Training, calibration, metrics and exact SHAP for the turnout and support models (no Django).

Splits are by household: voters who share a door share habits, so a random split by voter would
let a household's turnout leak from training into the held-out metrics.

Model size is chosen by validation among a few depth x trees budgets: the cheapest one whose
validation AUC is within `AUC_TOLERANCE` of the best. Exact TreeSHAP costs grow with trees x
leaves x depth, and scoring a state computes it for every voter, so a model twice as big must
earn its keep. The chosen size, every candidate's AUC and the AUC given up are kept as metrics.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

# xgboost and scikit-learn (with scipy) take about a second to import, and the admin, the tasks
# and the services import this app's modules at the start of every manage.py command and worker:
# they are imported in the functions that use them, here and in the other scoring modules.
if TYPE_CHECKING:
    import xgboost as xgb
    from sklearn.isotonic import IsotonicRegression

AUC_TOLERANCE = 0.005
# (max_depth, trees), cheapest first: the SHAP cost of each grows left to right.
SIZES: tuple[tuple[int, int], ...] = ((2, 100), (3, 150), (4, 100), (4, 250), (6, 200))
BASE_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "learning_rate": 0.08,
    "subsample": 0.8,
    "colsample_bytree": 0.9,
    "min_child_weight": 10,
    "tree_method": "hist",
    "nthread": 2,
}


@dataclass
class TrainedClassifier:
    booster: xgb.Booster
    calibrator: IsotonicRegression
    params: dict
    metrics: dict
    reliability: list[dict] = field(default_factory=list)

    def predict_raw(self, features: np.ndarray) -> np.ndarray:
        """The booster's probability before calibration."""
        import xgboost as xgb

        return self.booster.predict(xgb.DMatrix(features))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probability."""
        return self.calibrator.predict(self.predict_raw(features))


def household_split(groups: np.ndarray, shares: Sequence[float], seed: int) -> list[np.ndarray]:
    """Boolean masks, one per share, assigning whole households to one part each."""
    unique, inverse = np.unique(groups, return_inverse=True)
    draw = np.random.default_rng(seed).random(len(unique))[inverse.ravel()]
    edges = np.cumsum([0.0, *shares])
    edges[-1] = max(edges[-1], 1.0)  # shares that sum to 0.9999… still cover every household
    return [(draw >= lo) & (draw < hi) for lo, hi in itertools.pairwise(edges)]


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    seed: int = 0,
    sizes: Sequence[tuple[int, int]] = SIZES,
) -> TrainedClassifier:
    """Choose a size on a validation part, calibrate on it, report metrics on a test part."""
    import xgboost as xgb
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score

    train, valid, test = household_split(groups, (0.6, 0.2, 0.2), seed)
    for name, part in (("training", train), ("validation", valid), ("test", test)):
        if len(np.unique(labels[part])) < 2:
            raise ValueError(f"the {name} part holds only one class: too few labelled voters")
    dtrain = xgb.DMatrix(features[train], label=labels[train])
    candidates = []
    for depth, trees in sizes:
        params = {**BASE_PARAMS, "max_depth": depth, "seed": seed}
        booster = xgb.train(params, dtrain, num_boost_round=trees)
        auc = roc_auc_score(labels[valid], booster.predict(xgb.DMatrix(features[valid])))
        candidates.append({"max_depth": depth, "trees": trees, "auc": auc, "booster": booster})
    best_auc = max(c["auc"] for c in candidates)
    chosen = next(c for c in candidates if c["auc"] >= best_auc - AUC_TOLERANCE)
    booster = chosen["booster"]
    calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        booster.predict(xgb.DMatrix(features[valid])), labels[valid]
    )
    model = TrainedClassifier(
        booster=booster,
        calibrator=calibrator,
        params={**BASE_PARAMS, "max_depth": chosen["max_depth"], "trees": chosen["trees"]},
        metrics={},
    )
    raw, calibrated = model.predict_raw(features[test]), model.predict(features[test])
    model.metrics = {
        **classification_metrics(labels[test], calibrated),
        "uncalibrated": classification_metrics(labels[test], raw),
        "sizes": [{k: c[k] for k in ("max_depth", "trees", "auc")} for c in candidates],
        "auc_given_up": best_auc - chosen["auc"],
        "n_train": int(train.sum()),
        "n_validation": int(valid.sum()),
        "n_test": int(test.sum()),
        "base_rate": float(labels[train].mean()),
    }
    model.reliability = reliability_bins(labels[test], calibrated)
    return model


def classification_metrics(labels: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    return {
        "auc": float(roc_auc_score(labels, probability)),
        "log_loss": float(log_loss(labels, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(labels, probability)),
    }


def reliability_bins(labels: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """Mean predicted vs observed rate in equal-width probability bins (empty bins left out)."""
    which = np.minimum((probability * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "bin": b,
                    "predicted": float(probability[inside].mean()),
                    "observed": float(labels[inside].mean()),
                    "n": int(inside.sum()),
                }
            )
    return rows


# -- SHAP -------------------------------------------------------------------------------------


def shap_values(
    booster: xgb.Booster, features: np.ndarray, dmatrix: xgb.DMatrix | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP (xgboost's `pred_contribs`, not the approximate Saabas attribution).

    Returns (contributions n x f, base value n) on the booster's raw (log-odds) scale: base +
    contributions = the raw margin of each row.
    """
    import xgboost as xgb

    data = dmatrix if dmatrix is not None else xgb.DMatrix(features)
    contribs = booster.predict(data, pred_contribs=True)
    return contribs[:, :-1], contribs[:, -1]


def calibrated_points(
    contributions: np.ndarray, base: np.ndarray, calibrated: np.ndarray, calibrator
) -> np.ndarray:
    """Per row, the factor that turns log-odds contributions into points of calibrated
    probability, such that a row's reasons add up to its calibrated probability minus that of a
    voter at the model's base value (the average voter).

    SHAP contributions add up to the row's log-odds minus the base log-odds; the calibrated
    probability is not linear in log-odds, so each row's contributions are scaled by the slope of
    the straight line between the base and the row (calibrated probability gained per unit of
    log-odds). Where the row sits at the base itself, the curve's own slope there is used.
    """
    base_probability = 1.0 / (1.0 + np.exp(-base.astype(np.float64)))
    base_calibrated = calibrator.predict(base_probability)
    gap = contributions.sum(axis=1, dtype=np.float64)
    at_base = np.abs(gap) < 1e-6
    with np.errstate(invalid="ignore", divide="ignore"):
        secant = (calibrated - base_calibrated) / np.where(at_base, 1.0, gap)
    return np.where(at_base, base_probability * (1 - base_probability), secant)


def top_contributions(contributions: np.ndarray, k: int) -> np.ndarray:
    """Column indices (n x k) of each row's k largest contributions by size, largest first."""
    # k passes of a row-wise argmax, each blanking what it found: half the time of a row-wise
    # argpartition and sort for the handful of reasons a voter gets, and ties go to the lower
    # column, as in `top_reasons`.
    size = np.abs(contributions)
    k = min(k, size.shape[1])
    top = np.empty((size.shape[0], k), dtype=np.int64)
    rows = np.arange(size.shape[0])
    for rank in range(k):
        top[:, rank] = column = size.argmax(axis=1)
        size[rows, column] = -1.0
    return top


def top_reasons(
    contributions: np.ndarray,
    row: dict[str, float],
    names: Sequence[str],
    describe: dict[str, Callable[[dict[str, float]], str]],
    *,
    k: int = 3,
    scale: float = 1.0,
) -> list[tuple[str, float]]:
    """The k largest contributions of one voter, in plain words with their signed size.

    `scale` converts log-odds contributions to points of calibrated probability
    (`calibrated_points`), so "-0.05" reads as "5 points less likely than the average voter".
    """
    order = np.argsort(-np.abs(contributions), kind="stable")[:k]
    return [
        (describe[names[j]](row) or names[j], round(float(contributions[j] * scale), 4))
        for j in order
        if contributions[j] != 0
    ]
