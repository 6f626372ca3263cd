"""Real Celery workers for the tests whose behaviour depends on them: a worker process on the
test database and Redis, started and stopped by the test, and tasks sent through the broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from campaign.celery import app as celery_app

VISIBILITY_SECONDS = 4


def start_worker(queue: str) -> subprocess.Popen:
    """One solo worker consuming `queue`, on the test database, with a short visibility timeout
    (a killed worker's message returns to the queue in seconds, not an hour)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "CELERY_RESTORE_INTERVAL": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "campaign", "worker", "-Q", queue,
               "-c", "1", "--pool", "solo", "--without-heartbeat", "--without-gossip",
               "--without-mingle", "-l", "WARNING"]  # fmt: skip
    return subprocess.Popen(command, cwd=Path(settings.BASE_DIR), env=env)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def broker_delivery():
    """Tasks go through Redis to a worker process instead of running in the test's process."""
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY_SECONDS}
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True
