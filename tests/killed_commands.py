"""Run a management command in a subprocess against the test database, and kill it cleanly.

A client killed with SIGKILL does not end its PostgreSQL session at once: the server
finishes the statement in hand and only then finds the socket closed and rolls back.
Until then that session holds its locks, and the test database's flush at teardown
(one TRUNCATE of every table) can deadlock with it. So each subprocess gets its own
application name, and `wait_for_sessions_to_end` waits for the server to be done with it.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
_numbers = itertools.count()


def start_command(*arguments: str) -> tuple[subprocess.Popen, str]:
    """Start `manage.py ARGUMENTS` on the test database; return the process and its session name."""
    db = connection.settings_dict
    application_name = f"s1-test-{os.getpid()}-{next(_numbers)}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "campaign.settings",
        "PGAPPNAME": application_name,  # libpq reads it; see the module docstring
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, application_name


def open_sessions(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def wait_for_sessions_to_end(application_name: str, timeout: float = 120.0) -> None:
    """Return once the server has closed every session the killed command opened."""
    deadline = time.monotonic() + timeout
    while open_sessions(application_name):
        if time.monotonic() > deadline:
            raise AssertionError(f"{application_name}'s sessions still open after {timeout:.0f}s")
        time.sleep(0.1)
