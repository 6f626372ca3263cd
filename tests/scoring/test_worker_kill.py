"""A scoring worker killed mid-run loses nothing: another worker finishes, every voter once."""

from __future__ import annotations

import signal

import pytest
from django.conf import settings
from django.db import connection

from scoring.models import RunStatus, ScoringChunk, ScoringRun, VoterScore
from scoring.services import approve_model, start_scoring_run, train_turnout_model
from tests.workers import start_worker, wait_until
from voters.models import Voter

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and Redis shared with worker processes",
    ),
]


def test_killing_a_worker_mid_run_loses_and_duplicates_nothing(
    campaign, staff_user, generated_county, broker_delivery
):
    model = train_turnout_model(
        campaign=campaign, election=generated_county["election"], sizes=((2, 40),), seed=1
    )
    approve_model(version=model, user=staff_user)
    first = start_worker("scoring")
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

    second = start_worker("scoring")
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
