"""Celery tasks of the messaging app (queue `messaging`): committing a program in the background,
filling the SMS and email outboxes, sending email in batches, and the outboxes' beat jobs
(campaign.celery schedules them).

A commit over a state's universe takes about a minute, longer than a web request may; the admin
and the API ask for it (`messaging.programs.request_commit`) and this task does it. It is safe to
run twice: a worker killed mid-commit rolled its transaction back and the redelivered task starts
again; a commit that already happened refuses a second one and leaves the program as it is.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.utils import timezone

from messaging.email import (
    campaigns_with_queued_email,
    fill_email_outbox,
    recover_stale_claims,
    send_batch,
)
from messaging.models import ProgramDesign
from messaging.program_specs import SpecError
from messaging.programs import ProgramStateError, commit_program, fail_commit
from messaging.sms import expire_leases, fill_outbox, mark_lost_outcomes, release_due_messages
from voters.models import Channel

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def commit_program_task(design_id: int, user_id: int | None, client_ip: str | None) -> dict:
    design = ProgramDesign.objects.get(pk=design_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        design = commit_program(design=design, by=user, client_ip=client_ip)
    except ProgramStateError as exc:
        # Committed already (a redelivery after the commit), or cancelled meanwhile: nothing to do.
        logger.info("program %s not committed: %s", design.program_id, exc)
        return {"program": design.program_id, "status": design.status}
    except SpecError as exc:
        # Permanent (the universe is empty, the model is gone): back to a draft, saying why.
        design = fail_commit(design=design, reason=str(exc))
        return {"program": design.program_id, "status": design.status}
    except Exception:
        # A bug or an outage: never leave the program stuck as "committing". The exception's
        # text may quote row values, so the program says only where to look.
        fail_commit(design=design, reason="the commit failed unexpectedly: see the worker's log")
        raise
    return {"program": design.program_id, "status": design.status}


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def fill_outbox_task(design_id: int) -> dict:
    """A committed SMS or email program's messages queued (idempotent: a redelivery adds
    nothing); an email program's first batch is sent right after."""
    design = ProgramDesign.objects.select_related("campaign").get(pk=design_id)
    if design.channel == Channel.EMAIL:
        queued = fill_email_outbox(design=design)
        send_email_batch_task.delay(design.campaign_id)
        return {"program": design.program_id, "queued": queued}
    return {"program": design.program_id, "queued": fill_outbox(design=design)}


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def send_email_batch_task(campaign_id: int) -> dict:
    """One batch of a campaign's queued email over one connection; queues the next batch while
    mail is left (a capped or paused campaign waits for beat). A redelivery after a kill is
    safe: the batch's handed-over messages are never sent again (messaging.email)."""
    result = send_batch(campaign_id=campaign_id, now=timezone.now())
    if result.more:
        send_email_batch_task.delay(campaign_id)
    return {"campaign": campaign_id, **result.as_dict()}


@shared_task
def send_queued_email_task() -> dict:
    """Beat, every minute: dead workers' claims recovered, and a batch for each campaign with
    queued email (those waiting for a cap to lift, or after a resume)."""
    recovered = recover_stale_claims(now=timezone.now())
    campaigns = campaigns_with_queued_email()
    for campaign_id in campaigns:
        send_email_batch_task.delay(campaign_id)
    return {**recovered, "campaigns": len(campaigns)}


@shared_task
def release_due_messages_task() -> dict:
    """Beat, every minute: queued and held texts whose recipients' windows have opened."""
    return release_due_messages(now=timezone.now())


@shared_task
def expire_leases_task() -> dict:
    """Beat, every 30 seconds: leases that ran out unacknowledged go back to due."""
    return {"returned": expire_leases(now=timezone.now())}


@shared_task
def mark_lost_outcomes_task() -> dict:
    """Beat, hourly: texts sent three days ago without a final receipt become `unknown`."""
    return {"unknown": mark_lost_outcomes(now=timezone.now())}
