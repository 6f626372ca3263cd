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
app.autodiscover_tasks()
