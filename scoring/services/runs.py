"""Scoring runs: every voter of a campaign scored by its approved models, in voter-id chunks.

A run is a Celery chord: one task per chunk of about `CHUNK_VOTERS` voters on the `scoring` queue,
then one task that records the outcome. A chunk is idempotent: its scores are upserted on
(run, voter) and the chunk is marked done in the same transaction, so a chunk redelivered after
its worker died either finds itself done or writes the same rows again. Each worker process loads
a run's models and shared figures once (`_scorer`), not once per chunk.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import numpy as np
import xgboost as xgb
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from campaign.models import Campaign, Election
from scoring import artifacts
from scoring.features import (
    COLUMN,
    DESCRIBE,
    SPEC,
    FeatureContext,
    FeatureMatrix,
    FeatureSpec,
    FeatureSpecMismatch,
    build_context,
    build_features,
)
from scoring.ml import shap_values, top_contributions
from scoring.models import (
    ModelKind,
    ModelStatus,
    ModelVersion,
    RunStatus,
    ScoringChunk,
    ScoringRun,
    VoterScore,
)
from scoring.uplift import backlash, safe_policy

logger = logging.getLogger(__name__)

CHUNK_VOTERS = 20_000
REASONS_PER_MODEL = 3


class ScoringError(ValidationError):
    """A run that cannot start (no approved turnout model, no voters)."""


# -- starting and finishing ----------------------------------------------------------------


def start_scoring_run(
    *,
    campaign: Campaign,
    user: AbstractBaseUser | None = None,
    target_election: Election | None = None,
    chunk_voters: int = CHUNK_VOTERS,
) -> ScoringRun:
    """Create the run and its chunks, and send the chord once this commits.

    Features are as of the target election's day (default: the campaign's next election, else
    today). Only approved models score; turnout is required, support and persuasion are used
    when approved.
    """
    models = {kind: _approved(campaign, kind) for kind in ModelKind.values}
    if models[ModelKind.TURNOUT] is None:
        raise ScoringError("no approved turnout model: train one and approve it first")
    target = target_election or _next_election(campaign)
    with transaction.atomic():
        run = ScoringRun.objects.create(
            campaign=campaign,
            as_of=target.election_on if target else timezone.localdate(),
            target_election=target,
            turnout_model=models[ModelKind.TURNOUT],
            support_model=models[ModelKind.SUPPORT],
            persuasion_model=models[ModelKind.PERSUASION],
            created_by=user if user is not None and user.is_authenticated else None,
        )
        ranges = _pk_ranges(campaign.pk, chunk_voters)
        ScoringChunk.objects.bulk_create(
            ScoringChunk(run=run, first_pk=lo, last_pk=hi) for lo, hi, _ in ranges
        )
        run.chunks_total = len(ranges)
        run.voters_total = sum(n for _, _, n in ranges)
        run.save(update_fields=["chunks_total", "voters_total"])
        transaction.on_commit(lambda: _dispatch(run.pk))
    logger.info("scoring run %s queued: campaign=%s chunks=%s", run.pk, campaign.pk, len(ranges))
    return run


def finish_scoring_run(*, run_id: int) -> ScoringRun:
    """Complete when every chunk is done; otherwise failed, saying how many are missing."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().get(pk=run_id)
        if run.status in (RunStatus.COMPLETE, RunStatus.FAILED):
            return run
        missing = run.chunks.filter(done_at__isnull=True).count()
        run.status = RunStatus.FAILED if missing else RunStatus.COMPLETE
        run.error = f"{missing} of {run.chunks_total} chunks did not finish" if missing else ""
        run.finished_at = timezone.now()
        run.started_at = run.started_at or run.finished_at
        run.save(update_fields=["status", "error", "finished_at", "started_at"])
    logger.info("scoring run %s %s", run.pk, run.status)
    return run


def fail_scoring_run(*, run_id: int, reason: str) -> None:
    ScoringRun.objects.filter(pk=run_id).exclude(status=RunStatus.COMPLETE).update(
        status=RunStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
    )


def run_progress(run: ScoringRun) -> dict:
    """Chunks done of total, voters scored, voters per second and seconds left."""
    done = run.chunks.filter(done_at__isnull=False).aggregate(
        chunks=Count("id"), voters=Sum("voters")
    )
    scored = done["voters"] or 0
    elapsed = (timezone.now() - run.started_at).total_seconds() if run.started_at else 0.0
    if run.finished_at and run.started_at:
        elapsed = (run.finished_at - run.started_at).total_seconds()
    rate = scored / elapsed if elapsed > 0 else 0.0
    left = max(run.voters_total - scored, 0)
    return {
        "chunks_done": done["chunks"],
        "chunks_total": run.chunks_total,
        "voters_scored": scored,
        "voters_total": run.voters_total,
        "voters_per_second": rate,
        "eta_seconds": left / rate if rate > 0 else None,
    }


def _dispatch(run_id: int) -> None:
    from celery import chord

    from scoring.tasks import fail_scoring_run_task, finish_scoring_run_task, score_chunk_task

    chunk_ids = list(ScoringChunk.objects.filter(run_id=run_id).values_list("pk", flat=True))
    if not chunk_ids:
        finish_scoring_run_task.delay(run_id)
        return
    header = [score_chunk_task.s(run_id, chunk_id) for chunk_id in chunk_ids]
    chord(header)(finish_scoring_run_task.si(run_id).on_error(fail_scoring_run_task.si(run_id)))


def _approved(campaign: Campaign, kind: str) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(campaign=campaign, kind=kind, status=ModelStatus.APPROVED)
        .order_by("-approved_at", "-id")
        .first()
    )


def _next_election(campaign: Campaign) -> Election | None:
    upcoming = Election.objects.filter(campaign=campaign, election_on__gte=timezone.localdate())
    return upcoming.order_by("election_on").first()


def _pk_ranges(campaign_id: int, size: int) -> list[tuple[int, int, int]]:
    """(first pk, last pk, voters) of consecutive chunks of `size` voters, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT MIN(id), MAX(id), COUNT(*) FROM (
                SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS bucket
                FROM voters_voter WHERE campaign_id = %s
            ) numbered GROUP BY bucket ORDER BY 1
            """,
            [size, campaign_id],
        )
        return [(int(lo), int(hi), int(n)) for lo, hi, n in cursor.fetchall()]


# -- scoring a chunk -------------------------------------------------------------------------


def score_chunk(*, run_id: int, chunk_id: int) -> int:
    """Score one chunk's voters and upsert their scores; a chunk already done writes nothing."""
    chunk = ScoringChunk.objects.select_related("run").get(pk=chunk_id, run_id=run_id)
    if chunk.done_at is not None:
        return 0
    started = time.monotonic()
    ScoringRun.objects.filter(pk=run_id, started_at__isnull=True).update(
        started_at=timezone.now(), status=RunStatus.RUNNING
    )
    scorer = _scorer(chunk.run)
    matrix = build_features(scorer.context, pk_range=(chunk.first_pk, chunk.last_pk))
    scores = scorer.score(matrix)
    with transaction.atomic():
        locked = ScoringChunk.objects.select_for_update().get(pk=chunk_id)
        if locked.done_at is not None:
            return 0  # a twin delivery finished first
        _upsert_scores(run_id, scores)
        locked.done_at = timezone.now()
        locked.voters = len(scores)
        locked.seconds = time.monotonic() - started
        locked.save(update_fields=["done_at", "voters", "seconds"])
    return len(scores)


SCORE_FIELDS = ("turnout", "support", "uplift", "best_arm", "is_backlash", "reasons")


def _upsert_scores(run_id: int, scores: list[dict]) -> None:
    """Insert or overwrite the chunk's scores (unique on run and voter)."""
    if connection.vendor != "postgresql":
        VoterScore.objects.bulk_create(
            [VoterScore(run_id=run_id, **s) for s in scores],
            batch_size=2_000,
            update_conflicts=True,
            unique_fields=["run", "voter"],
            update_fields=list(SCORE_FIELDS),
        )
        return
    # COPY into a scratch table, then one set-based upsert: an ORM insert of 20,000 rows costs
    # more than the models that scored them.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS scoring_stage (voter_id bigint, turnout float8, "
            "support float8, uplift text, best_arm text, is_backlash boolean, reasons text) "
            "ON COMMIT DELETE ROWS"
        )
        columns = "voter_id, turnout, support, uplift, best_arm, is_backlash, reasons"
        with cursor.cursor.copy(f"COPY scoring_stage ({columns}) FROM STDIN") as copy:
            for s in scores:
                copy.write_row(
                    (
                        s["voter_id"], s["turnout"], s["support"], json.dumps(s["uplift"]),
                        s["best_arm"], s["is_backlash"], json.dumps(s["reasons"]),
                    )
                )  # fmt: skip
        updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in SCORE_FIELDS)
        cursor.execute(
            f"""
            INSERT INTO scoring_voterscore (run_id, {columns})
            SELECT %s, voter_id, turnout, support, uplift::jsonb, best_arm, is_backlash,
                   reasons::jsonb
            FROM scoring_stage
            ON CONFLICT (run_id, voter_id) DO UPDATE SET {updates}
            """,
            [run_id],
        )


@dataclass
class LoadedModel:
    version: ModelVersion
    spec: FeatureSpec
    columns: list[int]
    artifact: artifacts.Artifact

    @classmethod
    def of(cls, version: ModelVersion) -> LoadedModel:
        spec = FeatureSpec.from_dict(version.feature_spec)
        if spec.version != SPEC.version or not set(spec.names) <= set(SPEC.names):
            raise FeatureSpecMismatch(
                f"model version {version.pk} was trained on feature spec {spec.version}; "
                f"this code builds {SPEC.version}: retrain it"
            )
        bundle = artifacts.load(version.artifact)
        threads = getattr(settings, "SCORING_THREADS", 0)
        if threads:
            for booster in bundle.boosters.values():
                booster.set_param({"nthread": threads})
        return cls(version, spec, [COLUMN[n] for n in spec.names], bundle)

    def features(self, matrix: FeatureMatrix) -> np.ndarray:
        return matrix.values[:, self.columns]


class Scorer:
    """A run's models and shared figures, loaded once per worker process."""

    def __init__(self, run: ScoringRun):
        self.run_id = run.pk
        self.context: FeatureContext = build_context(campaign_id=run.campaign_id, as_of=run.as_of)
        self.turnout = LoadedModel.of(run.turnout_model)
        self.support = LoadedModel.of(run.support_model) if run.support_model_id else None
        self.persuasion = LoadedModel.of(run.persuasion_model) if run.persuasion_model_id else None

    def score(self, matrix: FeatureMatrix) -> list[dict]:
        n = len(matrix.voter_pks)
        if n == 0:
            return []
        turnout, turnout_reasons = self._probability(self.turnout, matrix, "turnout")
        support, support_reasons = (
            self._probability(self.support, matrix, "support")
            if self.support
            else (np.full(n, np.nan), [[] for _ in range(n)])
        )
        uplift, best, is_backlash, uplift_reasons = self._uplift(matrix)
        return [
            {
                "voter_id": int(matrix.voter_pks[i]),
                "turnout": float(turnout[i]),
                "support": None if np.isnan(support[i]) else float(support[i]),
                "uplift": uplift[i],
                "best_arm": best[i],
                "is_backlash": is_backlash[i],
                "reasons": uplift_reasons[i] + turnout_reasons[i] + support_reasons[i],
            }
            for i in range(n)
        ]

    def _probability(self, model: LoadedModel, matrix: FeatureMatrix, label: str):
        x = model.features(matrix)
        booster = model.artifact.boosters["model"]
        data = xgb.DMatrix(x)
        raw = booster.predict(data)
        calibrated = model.artifact.calibrators["model"].predict(raw)
        contributions, _ = shap_values(booster, x, data)
        # Log-odds contributions in probability points near the voter's own prediction.
        scale = raw * (1 - raw)
        return calibrated, _reasons(label, contributions, matrix, model.spec.names, scale)

    def _uplift(self, matrix: FeatureMatrix):
        n = len(matrix.voter_pks)
        if self.persuasion is None:
            return [{} for _ in range(n)], [""] * n, [False] * n, [[] for _ in range(n)]
        model = self.persuasion
        names = model.artifact.meta["arm_names"]
        x = model.features(matrix)
        boosters = [model.artifact.boosters[f"uplift_{name}"] for name in names[1:]]
        dmatrix = xgb.DMatrix(x)
        tau = np.column_stack([b.predict(dmatrix) for b in boosters])
        metrics = model.version.metrics
        default = names.index(metrics["best_single_arm"])
        margin = metrics["margin"] if metrics.get("margin") is not None else float("inf")
        chosen = safe_policy(tau, default, margin)
        reasons: list[list[dict]] = [[] for _ in range(n)]
        for k in range(1, len(names)):
            rows = np.flatnonzero(chosen == k)
            if rows.size:
                contributions, _ = shap_values(boosters[k - 1], x[rows])
                found = _reasons(
                    f"uplift {names[k]}", contributions, matrix, model.spec.names, rows=rows
                )
                for i, voter_reasons in zip(rows.tolist(), found, strict=True):
                    reasons[i] = voter_reasons
        uplift = [
            {name: round(float(tau[i, k - 1]), 5) for k, name in enumerate(names) if k}
            for i in range(n)
        ]
        flags = backlash(tau)
        return uplift, [names[k] for k in chosen], [bool(f) for f in flags], reasons


def _reasons(
    label: str,
    contributions: np.ndarray,
    matrix: FeatureMatrix,
    names: tuple[str, ...],
    scale: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> list[list[dict]]:
    """The top contributions of every row in plain words; `rows` maps them to matrix rows."""
    top = top_contributions(contributions, REASONS_PER_MODEL)
    picked = np.take_along_axis(contributions, top, axis=1)
    sizes = picked * scale[:, None] if scale is not None else picked
    out = []
    for i in range(len(top)):
        view = matrix.view(i if rows is None else int(rows[i]))
        out.append(
            [
                {"model": label, "text": DESCRIBE[names[j]](view) or names[j], "value": round(v, 4)}
                for j, c, v in zip(
                    top[i].tolist(), picked[i].tolist(), sizes[i].tolist(), strict=True
                )
                if c != 0
            ]
        )
    return out


_SCORERS: dict[int, Scorer] = {}


def _scorer(run: ScoringRun) -> Scorer:
    """This process's scorer of `run` (models are loaded once per process and run)."""
    scorer = _SCORERS.get(run.pk)
    if scorer is None:
        if len(_SCORERS) >= 2:
            _SCORERS.clear()
        run = ScoringRun.objects.select_related(
            "turnout_model", "support_model", "persuasion_model"
        ).get(pk=run.pk)
        scorer = _SCORERS[run.pk] = Scorer(run)
    return scorer


def latest_complete_run(campaign: Campaign) -> ScoringRun | None:
    return (
        ScoringRun.objects.complete()
        .filter(campaign=campaign)
        .order_by("-finished_at", "-id")
        .first()
    )
