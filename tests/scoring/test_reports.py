"""What the scoring pages report, as text (`scoring.reports`); no database."""

from __future__ import annotations

from scoring.models import ModelKind, ModelVersion
from scoring.reports import arm_rows, cell, duration, headline, metric, reason_rank


def test_headline_of_a_classifier_is_its_held_out_auc():
    assert headline(ModelVersion(kind=ModelKind.TURNOUT, metrics={"auc": 0.71249})) == "AUC 0.712"
    assert headline(ModelVersion(kind=ModelKind.SUPPORT, metrics={})) == "—"


def test_headline_of_a_persuasion_model_is_its_gain_over_the_best_single_arm():
    metrics = {
        "best_single_arm": "door",
        "policies": [{"policy": "personalized", "dr": 0.1234}, {"policy": "everyone: door"}],
        "personalized_gain": {"dr": 0.0112, "dr_ci": [-0.002, 0.0241]},
    }

    assert headline(ModelVersion(kind=ModelKind.PERSUASION, metrics=metrics)) == (
        "personalized DR 0.1234 (+0.0112 [-0.0020, +0.0241] vs everyone: door)"
    )


def test_cells_follow_their_row_spec():
    metrics = {"uncalibrated": {"auc": 0.6543}, "base_rate": 0.4, "n_train": 12000}

    assert cell(metric(metrics, ("uncalibrated", "auc")), "3") == "0.654"
    assert cell(metric(metrics, ("base_rate",)), "%") == "40.0%"
    assert cell(metric(metrics, ("n_train",)), "3") == "12,000"
    assert cell(metric(metrics, ("uncalibrated", "brier")), "4") == "—"
    assert cell(metric(metrics, ("base_rate", "deeper")), "text") == "—"


def test_arm_rows_show_lift_against_control():
    arms = [
        {"arm": "control", "n": 1000, "rate": 0.5, "lift": None, "ci_low": None, "ci_high": None},
        {"arm": "door", "n": 980, "rate": 0.53, "lift": 0.03, "ci_low": 0.01, "ci_high": 0.05,
         "p_value": 0.0004},
    ]  # fmt: skip

    assert arm_rows(arms) == [
        {"arm": "control", "n": "1,000", "rate": "50.0%", "lift": "(baseline)", "ci": "",
         "p_value": "—"},
        {"arm": "door", "n": "980", "rate": "53.0%", "lift": "+3.0 pp", "ci": "[+1.0, +5.0]",
         "p_value": "< 0.001"},
    ]  # fmt: skip
    assert [row["arm"] for row in arm_rows(arms, label=str.upper)] == ["CONTROL", "DOOR"]


def test_durations_and_the_order_of_reasons():
    assert [duration(s) for s in (42.4, 61, 3725)] == ["42 s", "1 min 01 s", "1 h 02 min"]
    assert sorted(["support", "turnout", "uplift door", "other"], key=reason_rank) == [
        "uplift door", "turnout", "support", "other",
    ]  # fmt: skip
