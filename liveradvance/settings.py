"""Settings for the Liveradvance EDC.

Everything that changes between deployments comes from the environment (12-factor). With nothing
set, the app runs on an embedded SQLite file and Celery runs tasks eagerly in-process, so
``make run`` needs no services. ``DATABASE_URL`` / ``REDIS_URL`` switch to PostgreSQL / Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "insecure-dev-key-for-local-runs-only"  # noqa: S105 - refused unless DEBUG
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY or (SECRET_KEY == _DEV_SECRET_KEY and not DEBUG):
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # issue 11: hashed, expiring, revocable API tokens (replaces rest_framework.authtoken)
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "trials",
    "crf",
    "randomization",
    "exports",
    "monitoring",
    "liveradvance",  # cross-app wiring, set-up command, demo data: after the apps it wires
]
# Generator and bench commands (issue #16): development only, never demo data in production.
if DEBUG or env.bool("DEVTOOLS", default=False):
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "liveradvance.session.SessionIdleRefreshMiddleware",  # idle expiry, few writes (#16)
    # issue 17: Spanish or English, from the user's choice (language cookie), else the browser.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # issue 17: a logged-in user's stored language wins over the cookie and the browser.
    "liveradvance.middleware.UserLanguageMiddleware",
    # issue 11: Content-Security-Policy (no inline scripts or styles) and no-store on pages.
    "csp.middleware.CSPMiddleware",
    "liveradvance.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records the acting user on every history row written during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Must be last: counts failed logins and locks the account (21 CFR 11.300(d)).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "liveradvance.urls"
WSGI_APPLICATION = "liveradvance.wsgi.application"

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
                "trials.context_processors.roles_context",
            ],
        },
    },
]

# The plain widgets in Python, the rest through Django's templates (#16: an eCRF draws ~70).
FORM_RENDERER = "liveradvance.renderers.FastWidgetRenderer"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections (#16): a gunicorn sync worker keeps its PostgreSQL connection for
# DB_CONN_MAX_AGE seconds instead of opening one per request (a backend fork, authentication
# and a cold catalogue cache each time); the health check replaces a connection the server
# dropped (restart, failover) before the request uses it. 0 = one connection per request.
# SQLite opens a file, which costs nothing: it keeps Django's default of 0.
_IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0 if _IS_SQLITE else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- issue 11: lockout by username + IP, short cool-off -------------------------------------
# 5 failures for one username from one IP address lock that pair until the cool-off ends or
# the trial administrator clears it (Lockouts page, audited). A stranger typing the PI's
# username elsewhere cannot lock the PI out (nor block an emergency unblinding); guessing
# from one address is still stopped (21 CFR 11.300(d)). Every login, logout and failure is
# logged by axes (AccessLog, AccessFailureLog).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a reverse proxy, the number of proxies in front (their X-Forwarded-For entries).
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_COUNT = PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if PROXY_COUNT else ["REMOTE_ADDR"]
)

# Idle timeout: the session expires after this many minutes without a request. Its expiry is
# pushed forward at most every SESSION_REFRESH_SECONDS (liveradvance/session.py), not on each
# request: an idle user is logged out between IDLE - 5 and IDLE minutes.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=30) * 60
SESSION_REFRESH_SECONDS = min(300, SESSION_COOKIE_AGE // 6)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "trials:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
# issue 17: the sites are Spanish hospitals. Dates and decimals are formatted for the
# language on display; stored values do not change. The compiled catalogue
# (locale/es/LC_MESSAGES/django.mo) is committed, so run time needs no gettext.
LANGUAGES = [("en-gb", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Human-readable dates with the time zone per language ("26 Nov 2026, 14:05 CET").
FORMAT_MODULE_PATH = ["liveradvance.formats"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # the choice of language outlives the session
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Madrid")  # the single site is in Barcelona
USE_I18N = True
USE_TZ = True  # timestamps stored in UTC (ICH E6(R3) 4.2.2(d))

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from static/ without collectstatic in dev/tests

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="edc@liveradvance.invalid")
# A demonstration server may randomize from the public demo list (randomization.E001).
DEMO_SERVER = env.bool("DEMO_SERVER", default=False)
SPONSOR_EMAILS = env.list("SPONSOR_EMAILS", default=["sponsor@liveradvance.invalid"])

REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Embedded mode: without a broker, tasks run in-process (still after the transaction commits).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Daily at 06:00 local time: visit status refresh (due / overdue / missed) and digests.
    "crf-visits-status-refresh": {
        "task": "crf.tasks.visits_status_refresh",
        "schedule": crontab(hour=6, minute=0),
    },
    # --- issue 11: transactional outbox ---------------------------------------------------
    # Every minute: publish pending outbox messages, re-queue incomplete follow-up plans.
    "crf-outbox-run": {"task": "crf.tasks.outbox_run", "schedule": 60.0},
}
# --- issue 11: a broker that is down fails fast -------------------------------------------
# Publishing happens after the database commit (outbox); a broker that does not answer must
# not hold the request for kombu's default retries (~20 s): one quick try, then the outbox
# row stays pending and the periodic dispatcher publishes it later.
BROKER_TIMEOUT_SECONDS = env.float("BROKER_TIMEOUT_SECONDS", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    "socket_timeout": BROKER_TIMEOUT_SECONDS * 2,
    "max_retries": 1,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_REDIS_SOCKET_TIMEOUT = BROKER_TIMEOUT_SECONDS * 2
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 1}}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # the worker itself keeps trying

REST_FRAMEWORK = {
    # Token first: an anonymous call gets 401 with "WWW-Authenticate: Token" (issue 11).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "trials.api.authentication.LockoutAwareTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Lone surrogates ("\ud800") are a 400, not a 500 later (issue 11).
    "DEFAULT_PARSER_CLASSES": [
        "trials.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # issue 15: every API view rate-limited per user (the feed and exports have their own).
    "DEFAULT_THROTTLE_CLASSES": ["exports.api.throttles.ApiRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Liveradvance EDC API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # issue 11: the schema and docs are for logged-in users only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_AUTHENTICATION": [
        "trials.api.authentication.LockoutAwareTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "FormStatusEnum": "trials.models.FormStatus",
        "PatientStatusEnum": "trials.models.PatientStatus",
        "VisitStatusEnum": "crf.models.VisitStatus",
    },
    # Offline: Swagger UI comes from the sidecar package's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- issue 11: API tokens (django-rest-knox) ------------------------------------------------
# Only a SHA-512 digest is stored; the token is shown once when created; it expires.
# Per-user rate limits (issue 15): every API view, the change feed, the exports.
API_RATE = env("API_RATE", default="1200/min")
EXPORTS_FEED_RATE = env("EXPORTS_FEED_RATE", default="600/min")
EXPORTS_FILE_RATE = env("EXPORTS_FILE_RATE", default="60/min")
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=24 * 7)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": 10,
}

# --- issue 11: Content-Security-Policy and HTTPS ----------------------------------------------
# Every script and style comes from our own static files: no inline code, no CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# HTTPS is the default in production; HTTPS=0 runs DEBUG=0 on plain HTTP (127.0.0.1, tests
# of the production shape) with non-secure cookies, so login works there (README).
HTTPS = env.bool("HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]  # the container probe speaks plain HTTP
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if PROXY_COUNT:
    # TLS ends at the reverse proxy, which must set this header (and strip it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
