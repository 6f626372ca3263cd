"""A program committed by a real worker on the `messaging` queue, through Redis: the admin's and
the API's commit, as production runs it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from campaign.models import AuditEvent
from messaging.models import ProgramDesign, ProgramStatus
from messaging.programs import request_commit
from tests.messaging.test_program_api import program_in
from tests.workers import start_worker, wait_until
from voters.models import Assignment

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and Redis shared with worker processes",
    ),
]


def test_a_worker_on_the_messaging_queue_commits_a_requested_program_once(
    campaign, staff_user, broker_delivery
):
    design = program_in(campaign)
    request_commit(design=design, by=staff_user, client_ip="203.0.113.9")  # sent to Redis
    assert ProgramDesign.objects.get(pk=design.pk).status == ProgramStatus.COMMITTING
    assert Assignment.objects.count() == 0  # nothing runs in this process

    worker = start_worker("messaging")
    try:
        wait_until(
            lambda: ProgramDesign.objects.get(pk=design.pk).status != ProgramStatus.COMMITTING,
            120,
            "the worker to commit the program",
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    design.refresh_from_db()
    assert (design.status, design.commit_error) == (ProgramStatus.COMMITTED, "")
    assert design.committed_by == staff_user
    assert Assignment.objects.filter(program=design.program).count() == 4
    event = AuditEvent.objects.get(action="program_commit")
    assert (event.user, event.row_count, event.client_ip) == (staff_user, 4, "203.0.113.9")
