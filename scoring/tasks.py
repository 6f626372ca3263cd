"""Celery tasks of the scoring app (queue `scoring`): chunks of a run, and its outcome."""

from celery import shared_task
from celery.signals import worker_init
from django.core.exceptions import ValidationError
from django.db import OperationalError

from scoring.features import FeatureSpecMismatch
from scoring.services.runs import fail_scoring_run, finish_scoring_run, score_chunk


# Redelivered when its worker dies (acks_late, reject_on_worker_lost): a chunk is idempotent.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def score_chunk_task(run_id: int, chunk_id: int) -> dict:
    try:
        return {"chunk": chunk_id, "voters": score_chunk(run_id=run_id, chunk_id=chunk_id)}
    except (FeatureSpecMismatch, ValidationError) as exc:
        # Permanent: say why on the run (these messages carry ids, never personal data).
        fail_scoring_run(run_id=run_id, reason=f"chunk {chunk_id}: {exc}")
        raise


@shared_task(acks_late=True, reject_on_worker_lost=True)
def finish_scoring_run_task(run_id: int) -> dict:
    run = finish_scoring_run(run_id=run_id)
    return {"run": run.pk, "status": run.status}


@shared_task
def fail_scoring_run_task(run_id: int) -> dict:
    fail_scoring_run(run_id=run_id, reason="a chunk failed; see the worker log")
    return {"run": run_id, "status": "failed"}


@worker_init.connect
def import_scoring_libraries(sender, **kwargs) -> None:
    """A worker of the scoring queue imports xgboost and scikit-learn as it starts, so a run's
    first chunks do not wait for them (the app's modules import them only where used)."""
    if "scoring" in sender.app.amqp.queues.consume_from:
        import sklearn.isotonic  # noqa: F401
        import xgboost  # noqa: F401
