"""An uploaded file is imported by a real Celery worker on the `imports` queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from campaign.celery import app as celery_app
from voters.models import ImportRun, Voter
from voters.services import queue_uploaded_import
from voters.tasks import run_import_task

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and Redis shared with a worker process",
    ),
]

CSV = b"voter_id,first_name,last_name,zip\nW1,Ann,Lee,27701\nW2,Bob,Lee,27701\nW3,Cy,Ng,27705\n"


@pytest.fixture
def worker():
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    command = [sys.executable, "-m", "celery", "-A", "campaign", "worker", "-Q", "imports",
               "-c", "1", "--pool", "solo", "--without-heartbeat", "--without-gossip",
               "--without-mingle", "-l", "WARNING"]  # fmt: skip
    celery_app.control.purge()
    process = subprocess.Popen(command, cwd=Path(settings.BASE_DIR), env=env)
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def broker_delivery():
    """Send tasks through Redis instead of running them in the test process."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


def wait_for_status(run_id: int, timeout: float = 90) -> ImportRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = ImportRun.objects.get(pk=run_id)
        if run.status in ("succeeded", "failed"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"import run {run_id} still {run.status} after {timeout}s")


def test_uploaded_import_runs_on_a_real_worker(campaign, staff_user, worker, broker_delivery):
    upload = SimpleUploadedFile("march.csv", CSV, content_type="text/csv")
    run = queue_uploaded_import(
        campaign=campaign, kind="voters", upload=upload, layout="generic", mode="strict",
        full=False, user=staff_user,
    )  # fmt: skip
    assert run.status == "queued"  # transaction=True: on_commit fired and the task is on Redis

    finished = wait_for_status(run.pk)

    assert (finished.status, finished.created, finished.rows_read) == ("succeeded", 3, 3)
    assert sorted(Voter.objects.filter(campaign=campaign).values_list("voter_id", flat=True)) == [
        "W1", "W2", "W3",
    ]  # fmt: skip

    # A second delivery of the same task changes nothing.
    run_import_task.apply_async(args=[run.pk]).get(timeout=60)
    again = ImportRun.objects.get(pk=run.pk)
    assert (again.status, again.created, again.finished_at) == (
        "succeeded", 3, finished.finished_at,
    )  # fmt: skip
    assert Voter.objects.filter(campaign=campaign).count() == 3
