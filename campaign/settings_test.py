"""Test settings: the real engines (PostgreSQL, Redis) when their URLs are set, SQLite otherwise."""

import os

os.environ.setdefault("SEGMENT_ONE_VAR_DIR", os.path.join(os.getcwd(), "var", "test"))

from campaign.settings import *  # noqa: F403
from campaign.settings import REDIS_URL

SECRET_KEY = "tests-only"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests that need a real worker start one explicitly; everything else runs tasks in-process.
CELERY_TASK_ALWAYS_EAGER = True
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "test",
        }
    }
LOGGING = {"version": 1, "disable_existing_loggers": False}
# Off unless a test turns them on: most tests sign in with force_login, and axes refuses the
# `authenticate()` calls that carry no request.
REQUIRE_2FA = False
AXES_ENABLED = False
