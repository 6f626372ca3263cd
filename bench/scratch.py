"""The scratch database a benchmark runs in, shared by every script in `bench/`.

Each benchmark drops and recreates its own database by name (never the one DATABASE_URL names),
so a run starts from nothing and two different benchmarks never share state.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg


def scratch_url(base_url: str, name: str) -> str:
    """DATABASE_URL's server and credentials, with the scratch database's name."""
    return urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))


def recreate_database(base_url: str, name: str) -> str:
    """An empty database `name` on DATABASE_URL's server; returns its URL."""
    # Through the server's maintenance database: DATABASE_URL's own need not exist yet.
    admin_url = scratch_url(base_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return scratch_url(base_url, name)


def setup_django(url: str) -> None:
    """Django in this process, on `url`, migrated.

    No REDIS_URL: a benchmark process never queues work through the settings' broker (one that
    drives Celery workers passes them their own), and tasks it calls run in-process.
    """
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "campaign.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
