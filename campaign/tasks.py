"""Celery tasks of the project (queue `default`): the API's housekeeping."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from campaign.api.idempotency import prune_idempotent_responses


@shared_task
def prune_idempotent_responses_task() -> dict:
    """Beat, hourly: stored Idempotency-Key answers older than a day are forgotten."""
    return {"pruned": prune_idempotent_responses(now=timezone.now())}
