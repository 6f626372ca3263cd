"""What the scoring pages report, as text: a model version's held-out figures and headline, an
experiment report's rows per arm and band, a run's speed, and the order of a voter's reasons.

`scoring.admin` lays these out as HTML; nothing here reads the database or builds markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils import timezone

from scoring import plots
from scoring.models import ModelKind, ModelVersion, ScoringRun
from voters.models import CONTROL_ARM, arm_label

DASH = "—"


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def points(value: float | None) -> str:
    """A lift in percentage points."""
    return DASH if value is None else f"{100 * value:+.1f} pp"


def ci_points(low: float | None, high: float | None) -> str:
    return DASH if low is None or high is None else f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def interval(pair: Sequence[float] | None, digits: int = 4) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return DASH
    return f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def p_value_text(value: float | None) -> str:
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


PERSONALIZED = "personalized"


def headline(version: ModelVersion) -> str:
    """One number to compare versions in a list: held-out AUC, or the personalized policy's DR
    value and its gain over giving everyone the best single arm."""
    metrics = version.metrics or {}
    if version.kind != ModelKind.PERSUASION:
        auc = metrics.get("auc")
        return DASH if auc is None else f"AUC {auc:.3f}"
    policies = {p.get("policy"): p for p in metrics.get("policies") or []}
    personalized = policies.get(PERSONALIZED)
    if personalized is None or personalized.get("dr") is None:
        return DASH
    best = policies.get(f"everyone: {metrics.get('best_single_arm')}")
    text = f"personalized DR {personalized['dr']:.4f}"
    gain = metrics.get("personalized_gain")
    if gain is not None:
        low, high = gain["dr_ci"]
        text += (
            f" ({gain['dr']:+.4f} [{low:+.4f}, {high:+.4f}] vs everyone: "
            f"{metrics['best_single_arm']})"
        )
    elif best is not None and best.get("dr") is not None:
        text += (
            f" ({personalized['dr'] - best['dr']:+.4f} vs everyone: {metrics['best_single_arm']})"
        )
    return text


# -- the persuasion model, for staff first ---------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    """One message of a persuasion model, as staff read it: what share of the program's voters
    would turn out (or agree) if every one of them got it, how sure we are, and the difference
    from no message at all."""

    message: str
    expected: str
    plausible: str
    versus_none: str


def message_rows(metrics: dict) -> list[MessageRow]:
    """A row per message of the model's out-of-fold policy values ("everyone: X"), best first,
    no message last; the interval is the 95% one of the DR value, in percent."""
    everyone = [
        p for p in metrics.get("policies") or []
        if str(p.get("policy", "")).startswith("everyone: ") and p.get("dr") is not None
    ]  # fmt: skip
    by_arm = {p["policy"].removeprefix("everyone: "): p for p in everyone}
    control = by_arm.get(CONTROL_ARM)
    rows = []
    for arm, policy in sorted(by_arm.items(), key=lambda kv: (kv[0] == CONTROL_ARM, -kv[1]["dr"])):
        low, high = policy.get("dr_ci") or (None, None)
        if arm == CONTROL_ARM or control is None:
            versus = DASH
        else:
            versus = points(policy["dr"] - control["dr"])
        rows.append(
            MessageRow(
                message="no message (control)" if arm == CONTROL_ARM else arm_label(arm),
                expected=percent(policy["dr"]),
                plausible=DASH if low is None else f"{100 * low:.1f}% to {100 * high:.1f}%",
                versus_none=versus,
            )
        )
    return rows


def persuasion_summary(version: ModelVersion) -> list[str]:
    """What a persuasion model tells staff, in sentences: the best message and its effect, how
    sure we are, and whether it found voters for whom another message works better."""
    metrics = version.metrics or {}
    best = metrics.get("best_single_arm")
    if not best:
        return ["This model has no evaluation recorded."]
    outcome = (
        f"voting in {version.election}" if version.election_id else
        f"answering {version.question} in our favour" if version.question_id else "the outcome"
    )  # fmt: skip
    by_arm = {
        p["policy"].removeprefix("everyone: "): p
        for p in metrics.get("policies") or []
        if str(p.get("policy", "")).startswith("everyone: ") and p.get("dr") is not None
    }
    lines = []
    chosen, control = by_arm.get(best), by_arm.get(CONTROL_ARM)
    if chosen is not None and control is not None:
        lines.append(
            f"Best single message: {arm_label(best)}. Given to every voter of the program, it "
            f"moves {outcome} by {points(chosen['dr'] - control['dr'])} on average compared "
            f"with no message ({percent(chosen['dr'])} against {percent(control['dr'])})."
        )
        low, high = chosen.get("dr_ci") or (None, None)
        c_low, c_high = control.get("dr_ci") or (None, None)
        if None not in (low, high, c_low, c_high):
            overlap = low <= c_high and c_low <= high
            lines.append(
                f"How sure: with {arm_label(best)} the true rate is very likely (95%) between "
                f"{100 * low:.1f}% and {100 * high:.1f}%; with no message between "
                f"{100 * c_low:.1f}% and {100 * c_high:.1f}%. "
                + (
                    "The two ranges overlap, so the effect may be smaller than it looks, or none."
                    if overlap
                    else "The ranges do not overlap: the message very likely helps."
                )
            )
    else:
        lines.append(f"Best single message: {arm_label(best)}.")
    departing = metrics.get("share_departing")
    alone = metrics.get("share_left_alone")
    if departing:
        lines.append(
            f"Who gets what: {percent(departing)} of voters get another message, where the model "
            f"expects it to work better for them than {arm_label(best)} by more than its safety "
            f"margin; {percent(alone or 0)} are left alone. Everyone else gets {arm_label(best)}."
        )
    else:
        lines.append(
            f"Who gets what: everyone gets {arm_label(best)}. The model found no group of voters "
            f"for whom another message works better by more than chance would explain."
        )
    backlash = metrics.get("backlash_share")
    if backlash:
        lines.append(
            f"{percent(backlash)} of voters are predicted to react against every message; they "
            "are only left alone where that is clear beyond the safety margin."
        )
    return lines


CLASSIFIER_ROWS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("held-out AUC", ("auc",), "3"),
    ("log loss", ("log_loss",), "4"),
    ("Brier score", ("brier",), "4"),
    ("AUC before calibration", ("uncalibrated", "auc"), "3"),
    ("log loss before calibration", ("uncalibrated", "log_loss"), "4"),
    ("Brier score before calibration", ("uncalibrated", "brier"), "4"),
    ("AUC given up for a smaller model", ("auc_given_up",), "4"),
    ("base rate (training part)", ("base_rate",), "%"),
    ("voters trained", ("n_train",), "3"),
    ("voters validated and calibrated", ("n_validation",), "3"),
    ("voters tested", ("n_test",), "3"),
)
PERSUASION_ROWS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("voters in the program with an outcome", ("n",), "3"),
    ("best single arm", ("best_single_arm",), "text"),
    ("uplift model depth (per arm)", ("uplift_size", "max_depth"), "3"),
    ("uplift model trees (per arm)", ("uplift_size", "n_estimators"), "3"),
    ("margin before departing from it", ("margin",), "4"),
    ("share of voters given another arm", ("share_departing",), "%"),
    ("share flagged backlash (every arm negative)", ("backlash_share",), "%"),
)


def metric(metrics: dict, keys: tuple[str, ...]) -> object:
    """The figure at `keys` in a version's metrics (nested dicts), or None if absent."""
    value = metrics
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def cell(value: object, style: str) -> str:
    """A figure as its row spec says: "%", "text", or the number of digits."""
    if style == "%":
        return percent(value)
    if style == "text":
        return DASH if value in (None, "") else str(value)
    return number(value, int(style))


def chart_title(report: dict) -> str:
    return f"{report['program']}: {report['outcome']}"


def arm_rows(arms: Sequence[dict], label: Callable[[str], str] = str) -> list[dict]:
    """The arms table's rows, each arm named by `label` (the experiment report passes
    `arm_label`: "Civic duty", "control (no message)"; the program page keeps the names its
    own arms table shows)."""
    return [
        {
            "arm": label(a["arm"]),
            "n": number(a["n"]),
            "rate": percent(a["rate"]),
            "lift": points(a["lift"]) if a["arm"] != plots.CONTROL else "(baseline)",
            "ci": ci_points(a["ci_low"], a["ci_high"]) if a["arm"] != plots.CONTROL else "",
            "p_value": p_value_text(a.get("p_value")),
        }
        for a in arms
    ]


BAND_TITLES = {"turnout": "By turnout band", "age": "By age band"}


def band_tables(by_band: dict, label: Callable[[str], str] = str) -> list[dict]:
    return [
        {
            "title": BAND_TITLES.get(kind, f"By {kind}"),
            "bands": [
                {"band": band, "rows": arm_rows(arms, label)} for band, arms in bands.items()
            ],
        }
        for kind, bands in by_band.items()
    ]


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def elapsed(run: ScoringRun) -> float:
    """Seconds the run took, or has taken so far."""
    if run.started_at is None:
        return 0.0
    end = run.finished_at or timezone.now()
    return max((end - run.started_at) / dt.timedelta(seconds=1), 0.0)


def per_second(run: ScoringRun) -> float:
    """Voters scored per second (`voters_done` annotated by `scoring.selectors.voters_done`)."""
    seconds = elapsed(run)
    return run.voters_done / seconds if seconds > 0 else 0.0


REASON_ORDER = ("uplift", "turnout", "support")


def reason_rank(model: str) -> tuple[int, str]:
    """Sort key of a model's reasons on the voter page: the message's first, then turnout's."""
    kind = model.split(" ", 1)[0]
    return (REASON_ORDER.index(kind) if kind in REASON_ORDER else len(REASON_ORDER), model)
