"""Scoring runs: every voter of a campaign scored by its approved models, in voter-id chunks.

A run is a Celery chord: one task per chunk of about `CHUNK_VOTERS` voters on the `scoring` queue,
then one task that records the outcome. A chunk is idempotent: its scores are written and the
chunk is marked done in one transaction under the chunk's row lock, so a chunk redelivered after
its worker died either finds itself done or writes its rows for the first time. Each worker
process loads a run's models and shared figures once (`_scorer`), not once per chunk.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from campaign.models import Campaign, Election
from scoring import artifacts
from scoring.features import (
    COLUMN,
    SPEC,
    FeatureContext,
    FeatureMatrix,
    FeatureSpec,
    FeatureSpecMismatch,
    build_context,
    build_features,
)
from scoring.ml import calibrated_points, shap_values
from scoring.models import (
    ModelKind,
    ModelStatus,
    ModelVersion,
    RunStatus,
    ScoringChunk,
    ScoringRun,
    VoterScore,
)
from scoring.reasons import ReasonParts, ReasonRenderer
from scoring.uplift import safe_policy

if TYPE_CHECKING:  # imported where used: not at the start of every command (see scoring.ml)
    import xgboost as xgb

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
    cache.delete(_context_key(run))
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
    """Score one chunk's voters and write their scores; a chunk already done writes nothing."""
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
        _write_scores(run_id, scores)
        locked.done_at = timezone.now()
        locked.voters = len(scores)
        locked.seconds = time.monotonic() - started
        locked.save(update_fields=["done_at", "voters", "seconds"])
    return len(scores)


def _write_scores(run_id: int, scores: ChunkScores) -> None:
    """Write the chunk's scores. The caller holds the chunk's row lock and marks it done in the
    same transaction, so none of these (run, voter) rows can exist yet."""
    if connection.vendor != "postgresql":
        VoterScore.objects.bulk_create(
            [VoterScore(run_id=run_id, **row) for row in scores.rows()],
            batch_size=2_000,
            update_conflicts=True,
            unique_fields=["run", "voter"],
            update_fields=list(SCORE_FIELDS),
        )
        return
    # Straight into the table with COPY: the chunk lock makes every row new (and the unique
    # constraint would refuse a twin), so no scratch table and no ON CONFLICT pass are needed.
    # COPY's text format, not CSV: JSON is full of quotes, which CSV would double.
    buffer = io.BytesIO()
    scores.frame(run_id).with_columns(
        pl.col(c).str.replace_all("\\", "\\\\", literal=True)
        for c in ("uplift", "best_arm", "reasons")
    ).with_columns(
        # Only an arm name can hold a raw tab or line break (JSON escapes them).
        pl.col("best_arm")
        .str.replace_all("\t", "\\t", literal=True)
        .str.replace_all("\n", "\\n", literal=True)
        .str.replace_all("\r", "\\r", literal=True)
    ).write_csv(buffer, include_header=False, separator="\t", quote_style="never", null_value="\\N")
    columns = "run_id, voter_id, turnout, support, uplift, best_arm, is_backlash, reasons"
    with connection.cursor() as cursor:
        # A chunk's commit need not wait for its WAL flush: if the database crashed right after,
        # the chunk's scores and its done mark vanish together, and the run ends failed
        # ("N chunks did not finish"), never half-written.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        with cursor.cursor.copy(f"COPY scoring_voterscore ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getbuffer())


SCORE_FIELDS = ("turnout", "support", "uplift", "best_arm", "is_backlash", "reasons")


@dataclass
class ChunkScores:
    """A chunk's scores, column by column; uplift and reasons already JSON text."""

    voter_ids: np.ndarray
    turnout: np.ndarray
    support: np.ndarray  # NaN: no support model
    uplift: list[str]
    best_arm: list[str]
    is_backlash: np.ndarray
    reasons: list[str]

    def __len__(self) -> int:
        return len(self.voter_ids)

    def frame(self, run_id: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "run_id": np.full(len(self), run_id, dtype=np.int64),
                "voter_id": self.voter_ids.astype(np.int64),
                "turnout": self.turnout.astype(np.float64),
                "support": pl.Series(self.support.astype(np.float64), nan_to_null=True),
                "uplift": self.uplift,
                "best_arm": self.best_arm,
                "is_backlash": self.is_backlash.astype(bool),
                "reasons": self.reasons,
            }
        )

    def rows(self) -> list[dict]:
        """One dict per voter, the model's field names (the ORM path and tests)."""
        return [
            {
                "voter_id": int(self.voter_ids[i]),
                "turnout": float(self.turnout[i]),
                "support": None if np.isnan(self.support[i]) else float(self.support[i]),
                "uplift": json.loads(self.uplift[i]),
                "best_arm": self.best_arm[i],
                "is_backlash": bool(self.is_backlash[i]),
                "reasons": json.loads(self.reasons[i]),
            }
            for i in range(len(self))
        ]


def uplift_json(names: list[str], tau: np.ndarray) -> list[str]:
    """Each row's {arm: uplift} as JSON text, rounded to 5 places, built in bulk."""
    if not names:
        return ["{}"] * len(tau)
    parts: list[pl.Expr] = [pl.lit("{")]
    for k, name in enumerate(names):
        parts += [
            pl.lit(("" if k == 0 else ", ") + json.dumps(name) + ": "),
            pl.col(str(k)).round(5).cast(pl.Utf8),
        ]
    frame = pl.DataFrame({str(k): tau[:, k].astype(np.float64) for k in range(len(names))})
    return frame.select(pl.concat_str([*parts, pl.lit("}")])).to_series().to_list()


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

    # -- a persuasion model's pieces ---------------------------------------------------------

    @property
    def arm_names(self) -> list[str]:
        """Control first, then the treated arms."""
        return self.artifact.meta["arm_names"]

    def uplift_boosters(self) -> list[xgb.Booster]:
        """One per treated arm, in `arm_names` order."""
        return [self.artifact.boosters[f"uplift_{name}"] for name in self.arm_names[1:]]

    def chosen_arms(self, tau: np.ndarray) -> np.ndarray:
        """Each voter's arm index under the approved safe policy: the best single arm unless
        another arm's predicted advantage beats the model's margin."""
        metrics = self.version.metrics
        margin = metrics["margin"] if metrics.get("margin") is not None else float("inf")
        return safe_policy(tau, self.arm_names.index(metrics["best_single_arm"]), margin)


class ChunkData:
    """A chunk's feature matrix as each model reads it, each distinct column set converted to
    an xgboost DMatrix once (the models of a run usually share one), an arm's voters sliced out
    of it rather than converted again."""

    def __init__(self, matrix: FeatureMatrix):
        self.matrix = matrix
        self._built: dict[tuple[int, ...], tuple[np.ndarray, xgb.DMatrix]] = {}

    def of(self, model: LoadedModel) -> tuple[np.ndarray, xgb.DMatrix]:
        key = tuple(model.columns)
        if key not in self._built:
            import xgboost as xgb

            x = model.features(self.matrix)
            # One thread: a few milliseconds either way, but xgboost's default (every core) in
            # each of two workers sharing the cores made it several times slower.
            self._built[key] = (x, xgb.DMatrix(x, nthread=1))
        return self._built[key]


class Scorer:
    """A run's models and shared figures, loaded once per worker process."""

    def __init__(self, run: ScoringRun):
        self.run_id = run.pk
        self.context: FeatureContext = run_context(run)
        self.turnout = LoadedModel.of(run.turnout_model)
        self.support = LoadedModel.of(run.support_model) if run.support_model_id else None
        self.persuasion = LoadedModel.of(run.persuasion_model) if run.persuasion_model_id else None
        self.reasons = ReasonRenderer(REASONS_PER_MODEL)

    def score(self, matrix: FeatureMatrix) -> ChunkScores:
        n = len(matrix.voter_pks)
        if n == 0:  # every voter of the range registered after the as-of date
            empty = np.zeros(0)
            return ChunkScores(matrix.voter_pks, empty, empty, [], [], empty.astype(bool), [])
        parts: list[ReasonParts] = []
        data = ChunkData(matrix)
        uplift, best, is_backlash = self._uplift(data, parts)
        turnout = self._probability(self.turnout, data, "turnout", parts)
        support = (
            self._probability(self.support, data, "support", parts)
            if self.support
            else np.full(n, np.nan)
        )
        return ChunkScores(
            voter_ids=matrix.voter_pks,
            turnout=turnout,
            support=support,
            uplift=uplift,
            best_arm=best,
            is_backlash=is_backlash,
            reasons=self.reasons.render(n, parts),
        )

    def _probability(
        self, model: LoadedModel, data: ChunkData, label: str, parts: list[ReasonParts]
    ) -> np.ndarray:
        x, dmatrix = data.of(model)
        booster = model.artifact.boosters["model"]
        raw = booster.predict(dmatrix)
        calibrated = model.artifact.calibrators["model"].predict(raw)
        contributions, base = shap_values(booster, x, dmatrix)
        # Reasons in points of calibrated probability, adding up to the voter's difference from
        # the average voter (the model's base value).
        scale = calibrated_points(
            contributions, base, calibrated, model.artifact.calibrators["model"]
        )
        parts.append(
            self.reasons.parts(label, contributions, data.matrix, model.spec.names, scale=scale)
        )
        return calibrated

    def _uplift(
        self, data: ChunkData, parts: list[ReasonParts]
    ) -> tuple[list[str], list[str], np.ndarray]:
        matrix = data.matrix
        n = len(matrix.voter_pks)
        if self.persuasion is None:
            return ["{}"] * n, [""] * n, np.zeros(n, dtype=bool)
        model = self.persuasion
        names = model.arm_names
        x, dmatrix = data.of(model)
        boosters = model.uplift_boosters()
        tau = np.column_stack([b.predict(dmatrix) for b in boosters])
        chosen = model.chosen_arms(tau)
        for k in range(1, len(names)):
            rows = np.flatnonzero(chosen == k)
            if rows.size:
                contributions, _ = shap_values(boosters[k - 1], x[rows], dmatrix.slice(rows))
                parts.append(
                    self.reasons.parts(
                        f"uplift {names[k]}", contributions, matrix, model.spec.names, rows=rows
                    )
                )
        best = np.asarray(names, dtype=object)[chosen].tolist()
        # Flagged: the voters the approved safe policy leaves alone (control, 0).
        return uplift_json(names[1:], tau), best, chosen == 0


def run_context(run: ScoringRun) -> FeatureContext:
    """The run's campaign-wide figures (households, precincts), built once per run by the first
    worker process that needs them and shared with the others through the cache.

    Each worker building its own meant as many full passes over the campaign's voters and votes
    as there are workers, all at once at the run's start, competing for the same cores; one pass
    with the cores to itself takes less than half as long. The others wait on a database lock,
    which a builder that is killed releases as its connection drops; an evicted entry is rebuilt.
    """
    key = _context_key(run)
    context = cache.get(key)
    if context is not None:
        return context
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CONTEXT_LOCK, run.pk])
                # Compiling the two campaign-wide aggregates took longer than it saved (0.15 s
                # each at a million voters).
                cursor.execute("SET LOCAL jit = off")
        context = cache.get(key)
        if context is None:
            context = build_context(campaign_id=run.campaign_id, as_of=run.as_of)
            cache.set(key, context, timeout=CONTEXT_SECONDS)
    return context


# Advisory lock class of a run's context (the voter import's is 1_042); how long the cache keeps
# it (the run's end deletes it; a longer run's late worker rebuilds it).
CONTEXT_LOCK = 2_042
CONTEXT_SECONDS = 12 * 3600


def _context_key(run: ScoringRun) -> str:
    # With the run's creation time: a database made anew (tests, a restored backup) numbers its
    # runs from 1 again, and must not find an old run's figures.
    return f"scoring:run-context:{run.pk}:{run.created_at.timestamp()}"


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
