"""Settings, all read from the environment with django-environ.

A `.env` file is read only when DJANGO_ENV_FILE names one (the run script writes
`var/local.env` with generated keys on first start). The README lists every variable.

Importing this module reads that file and nothing else: no folder or file is created here. What must
exist on disk is made once Django is set up (bingxadmin/apps.py: the filesystem broker's folders) or
by the code that uses it (the rate limiter's state folder, the demo seed's logins file).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from bingxadmin.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("BINGXADMIN_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
_env_file = env.str("DJANGO_ENV_FILE", default="")
if _env_file:
    environ.Env.read_env(_env_file, overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set (or set DJANGO_DEBUG=true for development).")
    SECRET_KEY = "insecure-development-only-key-never-use-in-production"
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_beat",
    "bingxadmin",  # prepares the local state folders (bingxadmin/apps.py)
    "accounts",
    "transfers",
    "ninja",  # django-ninja: its own Swagger UI static files (no CDN)
    "api",  # automation API (/api/v1/) and webhooks; above transfers
    "demo",  # manage.py demo_seed; above every other app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (CONTENT_SECURITY_POLICY below)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bingxadmin.compression.HtmlGZipMiddleware",  # HTML pages gzipped, except those showing a secret
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.time_zone.PersonTimeZoneMiddleware",  # times in the person's zone (their preferences)
    "accounts.request_context.RequestContextMiddleware",  # address and person for audit receivers
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.SecondFactorMiddleware",  # after the login check: password, then second factor
    "accounts.cache_control.NoStoreMiddleware",  # Cache-Control: no-store when signed in, and on exports
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "bingxadmin.urls"
WSGI_APPLICATION = "bingxadmin.wsgi.application"

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
                "transfers.context_processors.approvals_waiting",  # the menu's "Approvals (N)"
                "transfers.menu.menu_context",  # menu items only for people who can use them
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks and take the write lock up front.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections, checked before each request or task reuses one: a new PostgreSQL connection
# per task (Celery's default) cost a worker ~1.5 ms and the server a backend process per transfer.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
# Brute-force protection on the login form (django-axes): lock a username+IP pair after
# AXES_FAILURE_LIMIT wrong passwords for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "transfers:dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_SAVE_EVERY_REQUEST = True  # sliding expiry: idle sessions end
# Database sessions whose refresh failing after a committed decision never turns it into an error page.
SESSION_ENGINE = "bingxadmin.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("DJANGO_SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "bingxadmin.errors.csrf_failure"  # the site's layout, no reason shown (docs/frontend.md)
# Pages never gzipped (BREACH: they show a secret; bingxadmin/compression.py, docs/frontend.md).
COMPRESSION_EXCLUDED_PATHS = [
    "/account/second-factor/",  # authenticator-app secret at setup
    "/account/security/",  # recovery codes
    "/account/api-tokens/",  # a new token, shown once
    "/webhooks/",  # a webhook's signing secret, shown once
    "/people/password/",
    "/login/",
]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    # Browsers accept __Secure- cookies only over https with the Secure flag: no plain-http overwrite.
    SESSION_COOKIE_NAME = "__Secure-sessionid"
    CSRF_COOKIE_NAME = "__Secure-csrftoken"
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Preloading commits the whole registrable domain to https in every browser, for months; that is
    # the domain owner's decision, not this app's. HSTS itself stays on (SECURE_HSTS_SECONDS).
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^health/?$"]

# --- Second factor (docs/security.md#second-factor) --------------------------------------------
# Everyone who can request, approve or administer needs TOTP or a passkey; viewers too when set.
MFA_REQUIRED_FOR_VIEWERS = env.bool("MFA_REQUIRED_FOR_VIEWERS", default=False)
# WebAuthn relying party: a domain name (browsers refuse IP addresses), e.g. "localhost" for the demo.
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="localhost")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default="bingxadmin")
# Origins a passkey ceremony may come from; empty: any http(s) origin whose host is WEBAUTHN_RP_ID.
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=[])
# Wrong second factors per person before login and decisions lock, and for how long.
STEP_UP_FAILURE_LIMIT = env.int("STEP_UP_FAILURE_LIMIT", default=5)
STEP_UP_LOCK_MINUTES = env.int("STEP_UP_LOCK_MINUTES", default=15)
OTP_TOTP_ISSUER = "bingxadmin"
# django-otp's own back-off is off: our per-person row-locked throttle (accounts/stepup.py) counts.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# Secrets of API key sets: Fernet keys, newest first, independent of SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Audit chain (docs/security.md#audit-chain): HMAC keys as "<key id>:<base64 key>", newest first; never
# in the database. Checkpoints go to an append-only JSON-lines file outside the database (mode 0600).
AUDIT_CHAIN_KEYS = env.list("AUDIT_CHAIN_KEYS", default=[])
AUDIT_CHECKPOINT_FILE = env.str("AUDIT_CHECKPOINT_FILE", default=str(VAR_DIR / "audit-checkpoints.jsonl"))
# Optional copies of every checkpoint (docs/audit-trail.md#checkpoint-delivery): addresses, and a webhook
# whose POSTs carry an HMAC-SHA256 signature of the body made with the secret.
AUDIT_CHECKPOINT_EMAIL = env.list("AUDIT_CHECKPOINT_EMAIL", default=[])
AUDIT_CHECKPOINT_WEBHOOK_URL = env.str("AUDIT_CHECKPOINT_WEBHOOK_URL", default="")
AUDIT_CHECKPOINT_WEBHOOK_SECRET = env.str("AUDIT_CHECKPOINT_WEBHOOK_SECRET", default="")
# A sequence number missing for longer than this (its transaction rolled back) is skipped by the sealer.
AUDIT_SEAL_GAP_SECONDS = env.float("AUDIT_SEAL_GAP_SECONDS", default=5.0)
# A Celery worker seals the chain after its commits at most this often (0: after every commit); beat
# seals whatever is left every 5 s.
AUDIT_SEAL_WORKER_INTERVAL_S = env.float("AUDIT_SEAL_WORKER_INTERVAL_S", default=0.5)

# --- Redis / Celery --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_DIR = VAR_DIR / "celery"
_default_broker = REDIS_URL or "filesystem://localhost//"  # a host, or kombu warns on every connect
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=_default_broker)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Paths only: bingxadmin.apps creates the folders and kombu's exchange tables once Django is set up.
    _queue, _processed, _control = (CELERY_DIR / d for d in ("queue", "processed", "control"))
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "store_processed": False,
        "control_folder": str(_control),
        "polling_interval": 0.1,
    }
else:
    # Redelivery of a message whose worker died: soon, so the sweeper is not the only path.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # safe: the claim makes a second delivery a no-op
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless this is
# set; the worker instead applies Django's own rules (CONN_MAX_AGE, health check) around each task
# (bingxadmin/celery.py), as the web does around each request.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SOFT_TIME_LIMIT = 45
CELERY_TASK_TIME_LIMIT = 60
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "transfers.tasks.transfer_execute_task": {"queue": "exchange"},
    "transfers.tasks.transfer_reconcile_task": {"queue": "exchange"},
    # Records syncs read for minutes at the exchange's limits: their own queue, so executions and
    # reconciliations never wait behind them (every worker consumes `records` too: Procfile).
    "transfers.tasks.records_sync_task": {"queue": "records"},
    "transfers.tasks.records_sync_all_task": {"queue": "records"},
    "transfers.tasks_sync.records_sync_task": {"queue": "records"},
    "transfers.tasks_sync.records_sync_all_task": {"queue": "records"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Task modules autodiscovery (which imports only `<app>.tasks`) does not find.
CELERY_IMPORTS = ("transfers.tasks_rules",)
CELERY_TASK_ALWAYS_EAGER = False

# --- Caches (rate limiter store is separate: see exchange/ratelimit/) -------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "bingxadmin.cache.ReusingRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Content-Security-Policy (django-csp): only this site's own scripts, styles and forms; no inline code,
# no inline styles, no framing. `data:` images: the empty favicon and the TOTP QR code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# /health: details only with `Authorization: Bearer <HEALTH_TOKEN>` (empty: never); worker ping cached.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
HEALTH_WORKERS_CACHE_SECONDS = env.int("HEALTH_WORKERS_CACHE_SECONDS", default=5)

# --- BingX -----------------------------------------------------------------------------------
BINGX_PRODUCTION_URL = "https://open-api.bingx.com"
BINGX_SANDBOX_URL = env.str("BINGX_SANDBOX_URL", default="http://127.0.0.1:8100")
BINGX_TIMEOUT_CONNECT = env.float("BINGX_TIMEOUT_CONNECT", default=3.05)
BINGX_TIMEOUT_READ = env.float("BINGX_TIMEOUT_READ", default=10.0)
# The banner "exchange unreachable" (exchange/health.py): this many failed calls in a row, the last
# one at most this long ago.
EXCHANGE_DOWN_AFTER_FAILURES = env.int("EXCHANGE_DOWN_AFTER_FAILURES", default=2)
EXCHANGE_DOWN_FOR_SECONDS = env.int("EXCHANGE_DOWN_FOR_SECONDS", default=120)
# Calls a person waits on (verify, discover sub-accounts): this read timeout and no read retries.
EXCHANGE_PAGE_TIMEOUT_SECONDS = env.float("EXCHANGE_PAGE_TIMEOUT_SECONDS", default=3.0)
# Base URL policy (exchange/base_urls.py): real key sets use BINGX_PRODUCTION_URL unless custom bingx.com
# hosts are allowed; sandbox key sets only reach these hosts (never a metadata address or someone's server).
BINGX_ALLOW_CUSTOM_BASE_URL = env.bool("BINGX_ALLOW_CUSTOM_BASE_URL", default=False)
BINGX_SANDBOX_ALLOWED_HOSTS = env.list(
    "BINGX_SANDBOX_ALLOWED_HOSTS", default=["127.0.0.1", "::1", "localhost"]
)
RATE_LIMIT_URL = env.str("RATE_LIMIT_URL", default=REDIS_URL)  # empty: file-backed limiter in VAR_DIR
# Desks sharing one Redis keep their limiter state apart only if they serve different BingX accounts;
# the worker tests give each test its own prefix.
RATE_LIMIT_KEY_PREFIX = env.str("RATE_LIMIT_KEY_PREFIX", default="bingx:rl:")
# Multiplies BingX's documented per-UID limits (tests and benchmarks against a scaled sandbox).
BINGX_RATE_LIMIT_SCALE = env.float("BINGX_RATE_LIMIT_SCALE", default=1.0)

# --- Transfers -------------------------------------------------------------------------------
TRANSFER_REQUEST_TTL_HOURS = env.int("TRANSFER_REQUEST_TTL_HOURS", default=24)
TRANSFER_SETTLE_WINDOW_SECONDS = env.int("TRANSFER_SETTLE_WINDOW_SECONDS", default=120)
TRANSFER_SWEEP_AFTER_SECONDS = env.int("TRANSFER_SWEEP_AFTER_SECONDS", default=30)
# A claim without the sending mark older than this sent nothing and its worker is gone (the live
# pre-send phase is the checks plus at most 10 s of rate-limit wait): it executes again.
TRANSFER_UNSENT_CLAIM_SECONDS = env.int("TRANSFER_UNSENT_CLAIM_SECONDS", default=20)
# A sending mark older than any live call (connect + read timeout = 13 s; a clock-resync retry stamps
# a new mark): the worker died mid-call → UNKNOWN and reconciliation. Too short is still safe.
TRANSFER_STUCK_AFTER_SECONDS = env.int("TRANSFER_STUCK_AFTER_SECONDS", default=20)
# Re-executions of a transfer the exchange's records proved absent after the settle window; then FAILED.
TRANSFER_ABSENT_RESENDS = env.int("TRANSFER_ABSENT_RESENDS", default=2)
# Failed reconciliation lookups in a row wait 2, 4, 8, 16 s, then this (execution/lookup_backoff.py).
RECONCILE_BACKOFF_MAX_SECONDS = env.float("RECONCILE_BACKOFF_MAX_SECONDS", default=30.0)
# Execution refuses a request older than this (from submission): above the TTL, so an approval near
# the end of the TTL still executes, yet a long-deferred transfer is never sent days later.
TRANSFER_MAX_AGE_HOURS = env.int("TRANSFER_MAX_AGE_HOURS", default=48)
# The balance check of a new request (transfers/available.py): the exchange's last answer is used while
# younger than this, else read again at page time with this short timeout and no retries.
TRANSFER_BALANCE_MAX_AGE_SECONDS = env.int("TRANSFER_BALANCE_MAX_AGE_SECONDS", default=60)
TRANSFER_BALANCE_READ_TIMEOUT_SECONDS = env.float("TRANSFER_BALANCE_READ_TIMEOUT_SECONDS", default=3.0)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Automation API and webhooks (docs/api.md) ------------------------------------------------
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=120)  # per token
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)  # plain http endpoints (local use)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=10.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=40)
WEBHOOK_PAUSE_AFTER_SECONDS = env.int("WEBHOOK_PAUSE_AFTER_SECONDS", default=86400)  # failing a day
WEBHOOK_TIMEOUT_CONNECT = env.float("WEBHOOK_TIMEOUT_CONNECT", default=3.05)
WEBHOOK_TIMEOUT_READ = env.float("WEBHOOK_TIMEOUT_READ", default=10.0)
# Approvers who may still decide a pending request are reminded once this long before it expires.
TRANSFER_REMINDER_BEFORE_SECONDS = env.int("TRANSFER_REMINDER_BEFORE_SECONDS", default=3600)

# --- Email -----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Emails leave after commit from the process that made the change (a worker, for execution outcomes):
# a mail server that accepts the connection and then hangs must not hold that process for ever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="bingxadmin <noreply@localhost>")

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="json" if not DEBUG else "text")
# One redacting console handler for Django, gunicorn and Celery (bingxadmin/logging.py).
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
