"""Celery tasks of the voters app (queue `imports`)."""

from celery import shared_task

from voters.services import run_queued_import


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_import_task(import_run_id: int) -> dict:
    # Safe to redeliver: a finished run is skipped, and a run whose worker died committed nothing
    # (one transaction) and re-imports idempotently.
    run = run_queued_import(import_run_id=import_run_id)
    return {"import_run": run.pk, "status": run.status}
