"""Settings for Segment One, read from the environment.

With nothing set the project runs embedded: SQLite under ./var/, Celery tasks in-process, email to
the console. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis (production, CI).
"""

from pathlib import Path

import dj_database_url

from campaign.lib.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SEGMENT_ONE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY") or "insecure-embedded-only-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "campaign.admin_apps.AdminConfig",  # django.contrib.admin with an optional second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: the docs need no internet
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "campaign",
    "voters",
    "scoring",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a parameter: a NUL reaching PostgreSQL is a 500, here a 400.
    "campaign.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff read times on their campaign's clock (the zone is put in the session at sign-in).
    "campaign.timezones.CampaignTimeZoneMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "campaign.urls"
WSGI_APPLICATION = "campaign.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'segment-one.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database serves one person trying the demo; a busy timeout avoids "database is
    # locked" when the admin reads while an import writes.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["campaign.formats"]  # every time shown names its zone
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Uploaded voter files can be gigabytes: stream them to disk rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_485_760

REDIS_URL = env_str("REDIS_URL")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis in production; in-process ("eager") when no broker is configured, so the demo needs
# no servers. Task routing by queue keeps a long import from starving scoring or messaging.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A message taken by a worker that then died (SIGKILL, lost machine) goes back to the queue after
# this many seconds; longer than any task may run, or a slow task would be delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # Workers look for such messages every this many seconds. Kombu 5.7 looks only on every
    # tenth of these sweeps by default (every 100 s); one sweep is a single range query on one
    # Redis key, cheap enough to run every time.
    "unacked_restore_interval": env_int("CELERY_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Threads each scoring worker process gives xgboost (0: all cores). With several worker processes
# on one machine, cores divided by processes keeps them from fighting over the same cores.
SCORING_THREADS = env_int("SCORING_THREADS", 0)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "segment-one@localhost")
# SMTP (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend) or a provider's backend through
# django-anymail (e.g. anymail.backends.amazon_ses.EmailBackend, configured by its own ANYMAIL).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# Where recipients' unsubscribe links point (https: mail providers ignore plain http) and the
# mailbox the List-Unsubscribe mailto writes to (its inbound parse posts to /email/inbound/).
EMAIL_PUBLIC_BASE_URL = env_str("EMAIL_PUBLIC_BASE_URL", "https://localhost:8000")
EMAIL_UNSUBSCRIBE_MAILBOX = env_str("EMAIL_UNSUBSCRIBE_MAILBOX", "unsubscribe@localhost")
# The HTTP Basic password of the inbound parse endpoint (empty: the endpoint refuses everything).
EMAIL_INBOUND_SECRET = env_str("EMAIL_INBOUND_SECRET", "")
# Messages per batch: one SMTP connection and one task each.
EMAIL_BATCH_SIZE = env_int("EMAIL_BATCH_SIZE", 500)

REST_FRAMEWORK = {
    # Token first, so a request with no credentials is answered 401 with a WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "campaign.api.authentication.TwoFactorTokenAuthentication",
        "campaign.api.authentication.VendorKeyAuthentication",
        "campaign.api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's defaults, with JSON depth-bounded and NUL-free (forms: campaign.middleware).
    "DEFAULT_PARSER_CLASSES": [
        "campaign.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "campaign.api.pagination.IdCursorPagination",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Segment One API",
    "DESCRIPTION": "Voters, contact history and consent for staff, organizers and SMS vendors.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The error answers every operation can give, so the schema is true to them (schemathesis).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "campaign.api.schema.document_error_answers",
    ],
    # /api/docs/ loads Swagger UI from our static files, not a CDN: it works with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "voters.models.Channel",
        "AddressChannelEnum": "voters.api.serializers.ADDRESS_CHANNELS",
        "SmsAckResultEnum": "messaging.api.sms_serializers.ACK_RESULTS",
        "ContactResultEnum": "voters.models.ContactResult",
    },
}

# SMS vendors: requests per API key (DRF's rate syntax: 1200/min, 20/s), answered 429 with
# Retry-After beyond it; and the public base URL Twilio posts to (https://app.example.org), which
# its callbacks' signatures cover. Unset: every Twilio callback is refused.
VENDOR_THROTTLE_RATE = env_str("VENDOR_THROTTLE_RATE", "1200/min")
TWILIO_PUBLIC_URL = env_str("TWILIO_PUBLIC_URL")

# Two-factor sign-in to the admin (and to the API by session). On by default in production
# (DEBUG off and a real database); off in the embedded demo. REQUIRE_2FA=0/1 overrides.
REQUIRE_2FA = env_bool("REQUIRE_2FA", default=not DEBUG and bool(env_str("DATABASE_URL")))
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Segment One")

# Lockout after repeated failed logins (django-axes): per username and client address, lifted
# after AXES_COOLOFF_HOURS or by a successful login before the limit.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_HOURS", 1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts are rows in the database, so a lockout holds across web processes without Redis.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False  # its start-up banner on every command is noise

# Where uploaded and generated files go (voter files staged for import, demo counties).
IMPORT_UPLOAD_DIR = VAR_DIR / "uploads"
DEMO_DIR = VAR_DIR / "demo"

# Production hardening; `manage.py check --deploy` passes once SECRET_KEY and HTTPS are configured.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool(
    "SECURE_SSL_REDIRECT", default=not DEBUG and bool(env_str("SECRET_KEY"))
)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_SSL_REDIRECT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Logs carry ids, never names, addresses, phones or emails.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
