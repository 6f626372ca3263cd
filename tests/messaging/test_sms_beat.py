"""The SMS outbox's beat jobs: scheduled by name, each a task that runs its service at now."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaign.celery import app
from campaign.models import IdempotentResponse
from campaign.tasks import prune_idempotent_responses_task
from messaging.models import SmsMessage
from messaging.sms import (
    ack_message,
    fill_outbox,
    lease_messages,
    move_status,
    release_due_messages,
)
from messaging.tasks import (
    expire_leases_task,
    mark_lost_outcomes_task,
    release_due_messages_task,
)
from tests.messaging.sms_setup import HAWAII_OPENS, MORNING_ET, nc_voters, sms_program

pytestmark = pytest.mark.django_db


def test_every_scheduled_job_is_a_registered_task():
    app.loader.import_default_modules()

    scheduled = {job["task"] for job in app.conf.beat_schedule.values()}

    assert scheduled == {
        "messaging.tasks.release_due_messages_task",
        "messaging.tasks.expire_leases_task",
        "messaging.tasks.mark_lost_outcomes_task",
        "messaging.tasks.send_queued_email_task",
        "campaign.tasks.prune_idempotent_responses_task",
    }
    assert scheduled <= set(app.tasks)


def test_the_jobs_release_held_texts_and_return_expired_leases(campaign, vendor_key, monkeypatch):
    design = sms_program(campaign, nc_voters(campaign, 3), control_share=0.001)
    fill_outbox(design=design)
    monkeypatch.setattr(timezone, "now", lambda: MORNING_ET)

    released = release_due_messages_task.delay().get()
    lease_messages(key=vendor_key[0], limit=2, now=MORNING_ET, lease_seconds=60)
    monkeypatch.setattr(timezone, "now", lambda: HAWAII_OPENS)
    expired = expire_leases_task.delay().get()

    assert released == {"due": 3, "held": 0, "canceled": 0}
    assert expired == {"returned": 2}
    assert SmsMessage.objects.filter(design=design, status="due").count() == 3


def test_a_sent_text_without_an_outcome_for_three_days_becomes_unknown(campaign, vendor_key,
                                                                        monkeypatch):  # fmt: skip
    design = sms_program(campaign, nc_voters(campaign, 2), control_share=0.001)
    fill_outbox(design=design)
    release_due_messages(now=MORNING_ET)
    first, second = lease_messages(key=vendor_key[0], limit=2, now=MORNING_ET).messages
    ack_message(key=vendor_key[0], message_id=first.pk, vendor_message_id="SM1", now=MORNING_ET)
    later = MORNING_ET + dt.timedelta(hours=1)
    ack_message(key=vendor_key[0], message_id=second.pk, vendor_message_id="SM2", now=later)
    monkeypatch.setattr(timezone, "now", lambda: MORNING_ET + dt.timedelta(hours=72))

    marked = mark_lost_outcomes_task.delay().get()
    late = move_status(message_id=first.pk, status="delivered", now=MORNING_ET)

    assert marked == {"unknown": 1}
    assert SmsMessage.objects.get(pk=second.pk).status == "sent"
    assert (late, SmsMessage.objects.get(pk=first.pk).status) == (True, "delivered")


def test_idempotent_answers_older_than_a_day_are_pruned(vendor_key):
    key = vendor_key[0]
    old = IdempotentResponse.objects.create(
        vendor_key=key, key="old", request_digest="0" * 64, status_code=200, body=b"{}"
    )
    IdempotentResponse.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    IdempotentResponse.objects.create(
        vendor_key=key, key="new", request_digest="0" * 64, status_code=200, body=b"{}"
    )

    result = prune_idempotent_responses_task.delay().get()

    assert result == {"pruned": 1}
    assert list(IdempotentResponse.objects.values_list("key", flat=True)) == ["new"]
