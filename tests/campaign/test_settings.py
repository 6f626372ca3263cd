"""Settings come from the environment: embedded by default, production-safe when configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, "
    "'email': s.EMAIL_BACKEND, 'cache': s.CACHES['default']['BACKEND']}))"
)


def run_python(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, *code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "campaign.settings",
            "SEGMENT_ONE_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_nothing_configured_means_sqlite_in_process_tasks_and_console_email(tmp_path):
    done = run_python(["-c", PRINT_SETTINGS], {}, tmp_path)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "engine": "django.db.backends.sqlite3",
        "eager": True,
        "broker": "memory://",
        "email": "django.core.mail.backends.console.EmailBackend",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
    }


def test_database_and_redis_urls_switch_to_postgresql_and_redis(tmp_path):
    env = {"DATABASE_URL": "postgres://u@db:5432/x", "REDIS_URL": "redis://cache:6379/1"}

    done = run_python(["-c", PRINT_SETTINGS], env, tmp_path)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "engine": "django.db.backends.postgresql",
        "eager": False,
        "broker": "redis://cache:6379/1",
        "email": "django.core.mail.backends.console.EmailBackend",
        "cache": "django.core.cache.backends.redis.RedisCache",
    }


def test_check_deploy_passes_with_production_variables(tmp_path):
    env = {
        "SECRET_KEY": "x" * 60 + "-production-secret-with-enough-entropy-%$#",
        "ALLOWED_HOSTS": "app.example.org",
        "DATABASE_URL": "postgres://u@db:5432/x",
        "REDIS_URL": "redis://cache:6379/1",
    }

    done = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


PRINT_SECURITY = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'2fa': s.REQUIRE_2FA, 'axes_limit': s.AXES_FAILURE_LIMIT, "
    "'axes_hours': s.AXES_COOLOFF_TIME, 'axes': s.AUTHENTICATION_BACKENDS[0]}))"
)
PRODUCTION = {
    "SECRET_KEY": "x" * 60 + "-production-secret-with-enough-entropy-%$#",
    "ALLOWED_HOSTS": "app.example.org",
    "DATABASE_URL": "postgres://u@db:5432/x",
    "REDIS_URL": "redis://cache:6379/1",
}


def test_two_factor_is_on_in_production_and_off_embedded(tmp_path):
    production = run_python(["-c", PRINT_SECURITY], PRODUCTION, tmp_path)
    embedded = run_python(["-c", PRINT_SECURITY], {}, tmp_path)

    assert production.returncode == 0, production.stderr
    assert json.loads(production.stdout.splitlines()[-1]) == {
        "2fa": True,
        "axes_limit": 5,
        "axes_hours": 1,
        "axes": "axes.backends.AxesStandaloneBackend",
    }
    assert json.loads(embedded.stdout.splitlines()[-1])["2fa"] is False


def test_two_factor_and_lockout_are_configurable(tmp_path):
    env = {**PRODUCTION, "REQUIRE_2FA": "0", "AXES_FAILURE_LIMIT": "10", "AXES_COOLOFF_HOURS": "3"}

    done = run_python(["-c", PRINT_SECURITY], env, tmp_path)

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.splitlines()[-1])
    assert (printed["2fa"], printed["axes_limit"], printed["axes_hours"]) == (False, 10, 3)


def test_check_deploy_passes_with_two_factor_forced_on_in_debug_off(tmp_path):
    env = {**PRODUCTION, "REQUIRE_2FA": "1"}

    done = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
