"""Lift of each arm of a randomized program against its control group (no Django).

The estimate is the regression of the outcome on arm indicators, which makes each arm's lift the
difference of its mean from the control mean. Its standard errors are cluster-robust (CR1, the
small-sample correction Stata uses) with households as clusters: people who share a door share a
canvass and a kitchen table, so their outcomes are not independent, and a household may hold voters
of several arms. P-values are corrected across arms with Holm's step-down method, which controls
the family-wise error rate without assuming independence between the comparisons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CONTROL = "control"


@dataclass(frozen=True)
class ArmEffect:
    arm: str
    n: int
    rate: float
    lift: float
    ci_low: float
    ci_high: float
    # Holm-adjusted; None for the control arm.
    p_value: float | None
    p_value_unadjusted: float | None
    std_error: float


@dataclass(frozen=True)
class ExperimentResult:
    arms: list[ArmEffect]
    n: int
    clusters: int
    confidence: float

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "clusters": self.clusters,
            "confidence": self.confidence,
            "arms": [asdict(a) for a in self.arms],
        }

    def arm(self, name: str) -> ArmEffect:
        return next(a for a in self.arms if a.arm == name)


class ExperimentError(ValueError):
    """The data cannot support the analysis (no control group, an empty arm, one cluster)."""


def analyze_experiment(
    outcome: np.ndarray,
    arm: np.ndarray,
    cluster: np.ndarray,
    *,
    control: str = CONTROL,
    confidence: float = 0.95,
) -> ExperimentResult:
    """Per arm: n, outcome rate, lift over control with a cluster-robust CI, Holm-adjusted p.

    `outcome` is 0/1 (or any number), `arm` the arm name of each unit, `cluster` its household
    (any hashable id; units without a household should each get a unique id).
    """
    y = np.asarray(outcome, dtype=np.float64)
    arms = np.asarray(arm).astype(str)
    if not (len(y) == len(arms) == len(cluster)):
        raise ExperimentError("outcome, arm and cluster must have the same length")
    names = _arm_order(arms, control)
    design = np.column_stack([np.ones(len(y))] + [arms == name for name in names[1:]]).astype(
        np.float64
    )
    groups = _cluster_index(np.asarray(cluster))
    n_clusters = int(groups.max()) + 1 if len(groups) else 0
    if n_clusters < 2:
        raise ExperimentError("need at least two households to estimate uncertainty")
    if len(y) <= design.shape[1]:
        raise ExperimentError("no more voters than arms: nothing left to estimate uncertainty")
    from scipy import stats  # 1 s to import: not at the start of every command and worker

    beta, cov = _cluster_robust_ols(y, design, groups, n_clusters)
    se = np.sqrt(np.diag(cov))
    t_crit = stats.t.ppf(0.5 + confidence / 2, df=n_clusters - 1)
    raw_p = [
        float(2 * stats.t.sf(abs(beta[k] / se[k]), df=n_clusters - 1)) if se[k] > 0 else 1.0
        for k in range(1, len(names))
    ]
    adjusted = holm(raw_p)
    effects = [_control_effect(names[0], y, arms)]
    for k, name in enumerate(names[1:], start=1):
        members = arms == name
        effects.append(
            ArmEffect(
                arm=name,
                n=int(members.sum()),
                rate=float(y[members].mean()),
                lift=float(beta[k]),
                ci_low=float(beta[k] - t_crit * se[k]),
                ci_high=float(beta[k] + t_crit * se[k]),
                p_value=adjusted[k - 1],
                p_value_unadjusted=raw_p[k - 1],
                std_error=float(se[k]),
            )
        )
    return ExperimentResult(arms=effects, n=len(y), clusters=n_clusters, confidence=confidence)


def analyze_by_band(
    outcome: np.ndarray,
    arm: np.ndarray,
    cluster: np.ndarray,
    band: np.ndarray,
    *,
    control: str = CONTROL,
    confidence: float = 0.95,
) -> dict[str, ExperimentResult]:
    """The same analysis within each band (turnout band, age band); bands too thin are skipped."""
    band = np.asarray(band).astype(str)
    results = {}
    for name in sorted(set(band)):
        inside = band == name
        try:
            results[name] = analyze_experiment(
                np.asarray(outcome)[inside],
                np.asarray(arm)[inside],
                np.asarray(cluster)[inside],
                control=control,
                confidence=confidence,
            )
        except ExperimentError:
            continue
    return results


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# --------------------------------------------------------------------------------------------


def _arm_order(arms: np.ndarray, control: str) -> list[str]:
    present = set(arms.tolist())
    if control not in present:
        raise ExperimentError(f"no {control!r} group: lift needs a randomized control")
    if len(present) < 2:
        raise ExperimentError("no treated arm besides control")
    return [control, *sorted(present - {control})]


def _cluster_index(cluster: np.ndarray) -> np.ndarray:
    _, index = np.unique(cluster.astype(str) if cluster.dtype == object else cluster,
                         return_inverse=True)  # fmt: skip
    return index.ravel()


def _cluster_robust_ols(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and their CR1 cluster-robust covariance."""
    n, p = x.shape
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ (x.T @ y)
    scores = x * (y - x @ beta)[:, None]
    per_cluster = np.zeros((n_clusters, p))
    np.add.at(per_cluster, groups, scores)
    meat = per_cluster.T @ per_cluster
    correction = n_clusters / (n_clusters - 1) * (n - 1) / (n - p)
    return beta, correction * bread @ meat @ bread


def _control_effect(name: str, y: np.ndarray, arms: np.ndarray) -> ArmEffect:
    members = arms == name
    return ArmEffect(
        arm=name,
        n=int(members.sum()),
        rate=float(y[members].mean()),
        lift=0.0,
        ci_low=0.0,
        ci_high=0.0,
        p_value=None,
        p_value_unadjusted=None,
        std_error=0.0,
    )
