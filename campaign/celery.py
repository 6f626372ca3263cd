"""The Celery application and its queues."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")

app = Celery("segment_one")
app.config_from_object("django.conf:settings", namespace="CELERY")
# A queue and a route per app that has tasks.
app.conf.task_queues = [Queue(name) for name in ("default", "imports", "scoring", "messaging")]
app.conf.task_routes = {
    "voters.tasks.*": {"queue": "imports"},
    "scoring.tasks.*": {"queue": "scoring"},
    "messaging.tasks.*": {"queue": "messaging"},
}
# Celery beat's periodic jobs (`celery -A campaign beat`, one process for the deployment). Each is
# a conditional UPDATE, safe to overlap with itself and with vendors' requests.
app.conf.beat_schedule = {
    # Texts held by quiet hours become due as each recipient's window opens.
    "release-sms": {"task": "messaging.tasks.release_due_messages_task", "schedule": 60.0},
    # Leases that ran out unacknowledged go back to due.
    "expire-sms-leases": {"task": "messaging.tasks.expire_leases_task", "schedule": 30.0},
    # Sent texts whose outcome never came are marked unknown.
    "mark-lost-sms": {"task": "messaging.tasks.mark_lost_outcomes_task", "schedule": 3600.0},
    # Queued email sent (a batch per campaign), dead workers' email claims recovered.
    "send-email": {"task": "messaging.tasks.send_queued_email_task", "schedule": 60.0},
    # Idempotency-Key answers are kept a day.
    "prune-idempotent-responses": {
        "task": "campaign.tasks.prune_idempotent_responses_task",
        "schedule": 3600.0,
    },
}
app.autodiscover_tasks()
