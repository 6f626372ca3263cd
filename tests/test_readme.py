"""The README promises only what exists: the processes it tells operators to run have work to do,
and it records the one exception to the apps' import direction."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

from campaign.celery import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
PROSE = " ".join(README.split())  # line breaks inside sentences do not matter
WORKER = re.compile(r"^celery -A campaign worker -Q (\S+)", re.M)


def task_names() -> set[str]:
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    return {name for name in app.tasks if not name.startswith("celery.")}


def routed_queue(task: str) -> str:
    for pattern, route in app.conf.task_routes.items():
        if fnmatch(task, pattern):
            return route["queue"]
    return app.conf.task_default_queue


def test_every_task_route_routes_a_task():
    tasks = task_names()

    assert {
        pattern: sorted(t for t in tasks if fnmatch(t, pattern)) for pattern in app.conf.task_routes
    } == {
        "voters.tasks.*": ["voters.tasks.run_import_task"],
        "scoring.tasks.*": [
            "scoring.tasks.fail_scoring_run_task",
            "scoring.tasks.finish_scoring_run_task",
            "scoring.tasks.score_chunk_task",
        ],
        "messaging.tasks.*": [
            "messaging.tasks.commit_program_task",
            "messaging.tasks.expire_leases_task",
            "messaging.tasks.fill_outbox_task",
            "messaging.tasks.mark_lost_outcomes_task",
            "messaging.tasks.release_due_messages_task",
            "messaging.tasks.send_email_batch_task",
            "messaging.tasks.send_queued_email_task",
        ],
    }


def test_readme_workers_consume_declared_queues_that_have_tasks():
    declared = {queue.name for queue in app.conf.task_queues}
    with_tasks = {routed_queue(task) for task in task_names()}
    named = [queue for match in WORKER.findall(README) for queue in match.split(",")]

    assert sorted(named) == ["default", "imports", "messaging", "scoring"]
    # `default` takes whatever is not routed elsewhere, Celery's own bookkeeping tasks included.
    assert set(named) - {"default"} <= with_tasks
    assert set(named) <= declared


def test_readme_runs_beat_only_when_a_job_is_scheduled():
    assert ("celery -A campaign beat" in README) == bool(app.conf.beat_schedule)


def test_readme_records_the_import_direction_and_its_one_exception():
    assert "Imports flow one way: `campaign` ← `voters` ← `scoring` ← `messaging`" in PROSE
    assert "`lint-imports` checks it in CI" in PROSE
    assert "The one exception is the URL configuration (`campaign/api_urls.py`)" in PROSE


def test_readme_sums_up_the_outreach_half():
    outreach = " ".join(README.split("\n## Outreach\n", 1)[1].split("\n## ", 1)[0].split())

    for part in ("programs", "Walk lists", "SMS outbox", "email", "Celery beat"):
        assert part in outreach
