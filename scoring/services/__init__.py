"""Every write of the scoring app: training and approving models (`training`), scoring runs
(`runs`), exports (`exports`)."""

from scoring.services.exports import export_out_of_fold, export_scores
from scoring.services.runs import (
    ScoringError,
    finish_scoring_run,
    run_progress,
    score_chunk,
    start_scoring_run,
)
from scoring.services.training import (
    TrainingError,
    approve_model,
    evaluate_uplift,
    experiment_report,
    household_clusters,
    train_persuasion_model,
    train_support_model,
    train_turnout_model,
)

__all__ = [
    "ScoringError",
    "TrainingError",
    "approve_model",
    "evaluate_uplift",
    "experiment_report",
    "export_out_of_fold",
    "export_scores",
    "finish_scoring_run",
    "household_clusters",
    "run_progress",
    "score_chunk",
    "start_scoring_run",
    "train_persuasion_model",
    "train_support_model",
    "train_turnout_model",
]
