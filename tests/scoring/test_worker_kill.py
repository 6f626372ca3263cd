"""A scoring worker killed mid-run loses nothing: another worker finishes, every voter once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from campaign.celery import app as celery_app
from scoring.models import RunStatus, ScoringChunk, ScoringRun, VoterScore
from scoring.services import approve_model, start_scoring_run, train_turnout_model
from voters.models import Voter

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and Redis shared with worker processes",
    ),
]

VISIBILITY_SECONDS = 4


def start_worker() -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # The killed worker's message returns to the queue this soon, not after an hour.
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "CELERY_RESTORE_INTERVAL": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "campaign", "worker", "-Q", "scoring",
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
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY_SECONDS}
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True


def test_killing_a_worker_mid_run_loses_and_duplicates_nothing(
    campaign, staff_user, generated_county, broker_delivery
):
    model = train_turnout_model(
        campaign=campaign, election=generated_county["election"], sizes=((2, 40),), seed=1
    )
    approve_model(version=model, user=staff_user)
    first = start_worker()
    try:
        run = start_scoring_run(campaign=campaign, chunk_voters=400)  # on_commit: sent to Redis
        done = ScoringChunk.objects.filter(run=run, done_at__isnull=False)
        wait_until(lambda: done.count() >= 3, 120, "the first chunks")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = done.count()
    finally:
        if first.poll() is None:
            first.kill()
    assert killed_at < run.chunks_total, "the run finished before the kill: use smaller chunks"

    second = start_worker()
    try:
        wait_until(
            lambda: ScoringRun.objects.get(pk=run.pk).status in (RunStatus.COMPLETE, "failed"),
            240,
            "the run to finish on the second worker",
        )
    finally:
        second.terminate()
        second.wait(timeout=30)

    run.refresh_from_db()
    voters = Voter.objects.filter(campaign=campaign).count()
    scores = VoterScore.objects.filter(run=run)
    assert run.status == RunStatus.COMPLETE, run.error
    assert scores.count() == voters
    assert scores.values("voter").distinct().count() == voters
    assert done.count() == run.chunks_total
