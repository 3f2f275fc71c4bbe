"""Settings, driven by the environment (see README "Configuration").

With nothing set the platform runs embedded: SQLite in WAL mode and a Celery broker on the
filesystem under var/, so `make run` needs no other server. DATABASE_URL and REDIS_URL switch to
PostgreSQL and Redis. With DEBUG off, SECRET_KEY is required and cookies and transport are locked
down.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The embedded default is a developer's machine; production sets DEBUG=false explicitly.
DEBUG = env.bool("DEBUG", default=True)
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Prometheus multiprocess mode: every process on the host writes its samples here and /metrics
# adds them up. Set before prometheus_client is first imported (apps.core.metrics).
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "prometheus"))
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "apps.rbac.admin_config.ComplianceAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.core",
    "apps.rbac",
    "apps.audit",
    "apps.notifications",
    "apps.changes",
    "apps.trading",
    "apps.approvals",
    "apps.killswitch",
    "apps.rules",
    "apps.marketdata",
    "apps.surveillance",
    "apps.monitoring",
    "apps.reporting",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.metrics.HttpMetricsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "apps.rbac.refcache.RequestScopeMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "apps.core.middleware.BodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.rbac.mfa.MfaRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must come last: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["apps.core.templatetags.present"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.rbac.context_processors.role",
                "apps.killswitch.context_processors.halts",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Off by default: a health check is one more round trip (SELECT 1) on the first query of
    # every request. Without it a connection the server dropped fails the one request that finds
    # it (an order is then rejected with a 503, fail closed) and Django replaces it at the end
    # of that request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "CONN_MAX_AGE": env.int("CONN_MAX_AGE", default=60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # Web, worker and beat share one file: WAL lets readers run beside the writer,
                # IMMEDIATE takes the write lock at BEGIN so two writers queue (busy timeout)
                # instead of failing with "database is locked" halfway through a transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "compliance",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "results", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport: messages are files under var/celery/queue.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{_celery_dir / 'results'}"

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Authentication -------------------------------------------------------------------------
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
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)

# Failed logins: after AXES_FAILURE_LIMIT failures from one address, that username is locked
# from that address for the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# The username AND the address together: a stranger guessing from elsewhere cannot lock a
# compliance officer out of their own desk, and a desk behind one proxy address is not locked
# out as a whole by one person's typos. Rotating addresses buys a guesser five tries per
# address; the second factor (MFA_REQUIRED_ROLES) is what stands behind the password.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The same address the audit trail records (REMOTE_ADDR; see apps.core.middleware.client_ip).
AXES_CLIENT_IP_CALLABLE = "apps.core.middleware.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.rbac.lockout.lockout_response"
AXES_VERBOSE = False

API_TOKEN_TTL = timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=12))
# The largest request body (file uploads aside) in bytes: above it, 413 payload_too_large.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# The most market trades or quotes one POST to /api/v1/market-data/ may carry.
MARKET_DATA_BATCH_MAX = env.int("MARKET_DATA_BATCH_MAX", default=5000)

# Roles that must pass a TOTP second factor (django-otp) for pages, the admin and token issue:
# slugs (risk, compliance, admin; or trader, viewer). Empty in the DEBUG demo.
MFA_REQUIRED_ROLES = env.list(
    "MFA_REQUIRED_ROLES", default=[] if DEBUG else ["risk", "compliance", "admin"]
)
# The issuer name an authenticator app shows beside the code.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Trade Compliance")
# How many single-use recovery codes enrolment hands out.
MFA_RECOVERY_CODES = 10

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.rbac.authentication.ApiTokenAuthentication",
        "apps.rbac.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.rbac.permissions.HasRequiredRole"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.DefaultPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trade Compliance Platform API",
    "DESCRIPTION": "Pre-trade gate, orders, positions, audit trail and reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.add_error_responses",
    ],
}

# --- Internationalisation, static -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security when DEBUG is off -------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Logging: one JSON object per line ------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "apps.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# --- Periodic jobs: `manage.py setup_schedules` writes these into django-celery-beat ----------
# name -> task, and either "every" (seconds) or "crontab" (minute hour day_of_month month dow).
PERIODIC_TASKS = {
    "platform heartbeat": {"task": "core.heartbeat", "every": 60},
}

# --- Audit trail ------------------------------------------------------------------------------
AUDIT_SIGNING_KEY = env("AUDIT_SIGNING_KEY", default="")
AUDIT_SIGNING_KEY_FILE = env("AUDIT_SIGNING_KEY_FILE", default="")
AUDIT_LOG_ID = env("AUDIT_LOG_ID", default="trade-compliance-audit")
# Where every signed checkpoint is also appended (JSON Lines, one file per day), outside the
# database; verify_audit holds the database to it. Empty: no witness.
AUDIT_WITNESS_DIR = env("AUDIT_WITNESS_DIR", default="")
# Further witnesses, through the notifications app: every witness line is also mailed to these
# addresses (comma-separated; the compliance mailbox) and posted, signed with
# AUDIT_WITNESS_WEBHOOK_SECRET (as docs/notifications.md describes), to this URL. Empty: none.
AUDIT_WITNESS_EMAILS = env.list("AUDIT_WITNESS_EMAILS", default=[])
AUDIT_WITNESS_WEBHOOK_URL = env("AUDIT_WITNESS_WEBHOOK_URL", default="")
AUDIT_WITNESS_WEBHOOK_SECRET = env("AUDIT_WITNESS_WEBHOOK_SECRET", default="")
# Retention in days per class (SEC 17a-4: 6 years at least; orders and trades kept 7).
AUDIT_RETENTION_DAYS = {
    "trading": env.int("AUDIT_RETENTION_TRADING_DAYS", default=7 * 365),
    "access": env.int("AUDIT_RETENTION_ACCESS_DAYS", default=3 * 365),
    "configuration": env.int("AUDIT_RETENTION_CONFIGURATION_DAYS", default=10 * 365),
    "limit_breach": env.int("AUDIT_RETENTION_LIMIT_BREACH_DAYS", default=10 * 365),
    "default": env.int("AUDIT_RETENTION_DEFAULT_DAYS", default=2555),
}
# An event is stored unsequenced in its writer's transaction and placed in the hash chain by the
# sequencer right after the commit; this is the longest it may wait (the maximum merge delay):
# verify_audit fails when an event has waited longer. The backstop that meets it when a writer
# died between its commit and the drain: the `audit.sequence` beat job every second, or
# `manage.py run_sequencer` (polling at a quarter of the delay).
AUDIT_MAX_MERGE_DELAY_SECONDS = env.float("AUDIT_MAX_MERGE_DELAY_SECONDS", default=1.0)
# On PostgreSQL the drain after a commit runs in one background thread per process, which the
# commit only wakes, instead of in the writer's request after its commit (a second transaction
# on the request path). SQLite always drains in the writer.
AUDIT_SEQUENCER_THREAD = env.bool("AUDIT_SEQUENCER_THREAD", default=True)
PERIODIC_TASKS["audit sequence"] = {"task": "audit.sequence", "every": 1}
# A checkpoint is signed at least this often while events arrive (beat, `audit.checkpoint`).
AUDIT_CHECKPOINT_SECONDS = env.int("AUDIT_CHECKPOINT_SECONDS", default=60)
PERIODIC_TASKS["audit checkpoint"] = {"task": "audit.checkpoint", "every": AUDIT_CHECKPOINT_SECONDS}
# The bound on the unsigned tail: verify_audit fails, and the monitor raises a critical alert,
# when an event has waited longer than this for a signed (with a witness: witnessed) checkpoint.
# Five checkpoint periods by default: one missed beat is not an incident, five are.
AUDIT_MAX_UNSIGNED_SECONDS = env.int(
    "AUDIT_MAX_UNSIGNED_SECONDS", default=5 * AUDIT_CHECKPOINT_SECONDS
)

# --- Pre-trade gate and approvals -------------------------------------------------------------
APPROVAL_TTL_SECONDS = env.int("APPROVAL_TTL_SECONDS", default=300)
# The firm's own currency (ISO 4217): new accounts' base currency by default, the currency of
# the firm-wide capital threshold and of the reports' firm totals.
FIRM_CURRENCY = env("FIRM_CURRENCY", default="USD")
# An FX rate older than this is stale: a limit that needs it fails closed (fx_rate_unavailable).
# 26 hours: a daily fixing (ECB, WM/Reuters) plus two hours for a late publication. A firm
# that trades at weekends in other currencies records rates then too (or raises this).
FX_RATE_MAX_AGE_SECONDS = env.int("FX_RATE_MAX_AGE_SECONDS", default=26 * 3600)
# Held orders past their time to live are expired by this job (a decision after it is refused).
PERIODIC_TASKS["approval expiry"] = {"task": "approvals.expire_due", "every": 15}
# The most orders one basket (POST /api/v1/orders/basket/) may hold; each is decided as if sent
# alone, all in one transaction, so this bounds how long one basket holds its accounts' locks.
ORDER_BASKET_MAX_ORDERS = env.int("ORDER_BASKET_MAX_ORDERS", default=500)
# Order expiry by time in force: an unfilled ioc/fok order expires this long after the gate
# (fills are reported after execution: the grace must cover their way back); the job expires
# every working order past its expire_at (day at its session's close, gtd at its time).
IOC_GRACE_SECONDS = env.int("IOC_GRACE_SECONDS", default=10)
ORDER_EXPIRY_INTERVAL_SECONDS = env.int("ORDER_EXPIRY_INTERVAL_SECONDS", default=15)
PERIODIC_TASKS["order expiry"] = {
    "task": "trading.expire_orders",
    "every": ORDER_EXPIRY_INTERVAL_SECONDS,
}

# --- Surveillance -----------------------------------------------------------------------------
# Each run reads only the events past its watermark (apps/surveillance/runner.py).
SURVEILLANCE_INTERVAL_SECONDS = env.int("SURVEILLANCE_INTERVAL_SECONDS", default=10)
# Concentration is a portfolio check (the monitor's position-weight rule): its surveillance
# detector puts alerts in the queue only when this is on.
SURVEILLANCE_CONCENTRATION_ALERTS = env.bool("SURVEILLANCE_CONCENTRATION_ALERTS", default=False)
PERIODIC_TASKS["surveillance"] = {
    "task": "surveillance.run",
    "every": SURVEILLANCE_INTERVAL_SECONDS,
}

# --- Notifications ----------------------------------------------------------------------------
# Links in messages to staff (the approval request page) start with this.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Email goes through Django's SMTP backend once EMAIL_HOST is set; until then (the embedded
# demo) each message is written as a file under var/mail/.
EMAIL_HOST = env("EMAIL_HOST", default="")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_HOST = EMAIL_HOST or "localhost"
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="compliance@localhost")
# A dotted path to a function(event=..., payload=..., delivery_id=...) that receives every
# notification too, for firms with their own hook; empty for none.
NOTIFICATIONS_CALLBACK = env("NOTIFICATIONS_CALLBACK", default="")
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.int("NOTIFICATIONS_RETRY_BASE_SECONDS", default=30)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.int("NOTIFICATIONS_RETRY_MAX_SECONDS", default=3600)
NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS = env.int("NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS", default=10)
# Staff alert channels (routed by severity and kind, back office > Routing rules). Base URLs are
# settings so that a proxy, or a test server, can stand in for the real services.
SLACK_WEBHOOK_URL = env("SLACK_WEBHOOK_URL", default="")
TELEGRAM_API_BASE = env("TELEGRAM_API_BASE", default="https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_CHAT_ID = env("TELEGRAM_CHAT_ID", default="")
PAGERDUTY_EVENTS_URL = env(
    "PAGERDUTY_EVENTS_URL", default="https://events.pagerduty.com/v2/enqueue"
)
PAGERDUTY_ROUTING_KEY = env("PAGERDUTY_ROUTING_KEY", default="")

# --- Monitoring and metrics -------------------------------------------------------------------
# Bearer token Prometheus sends to /metrics (signed-in staff may read it too); empty: none.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# The continuous portfolio rules: every minute; a run does nothing while every venue is shut.
PERIODIC_TASKS["portfolio monitor"] = {"task": "monitoring.run_checks", "every": 60}

# --- Benchmarks -------------------------------------------------------------------------------
# Routes the no-op POST /api/v1/bench/noop/ that bench/pretrade.py compares the gate with.
BENCH_NOOP_VIEW = env.bool("BENCH_NOOP_VIEW", default=False)

# --- Regulatory reports -----------------------------------------------------------------------
# Generated files live in Django's default storage under MEDIA_ROOT (never served directly: the
# reports page and API re-check each file's SHA-256 before handing it out).
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "files")))
MEDIA_URL = "/media/"
# What a firm sets once for its MiFIR transaction reports (RTS 22). The firm's own LEI (ISO
# 17442, check digits verified): no default; required when DEBUG is off (system check
# reporting.E001), and a MiFIR report is refused without a valid one.
REPORTING_FIRM_LEI = env("REPORTING_FIRM_LEI", default="")
# The firm's legal name, as a STOR's section 1 names the reporting entity.
FIRM_NAME = env("FIRM_NAME", default="")
REPORTING_FIRM_COUNTRY = env("REPORTING_FIRM_COUNTRY", default="GB")
REPORTING_AUTHORITY_COUNTRY = env("REPORTING_AUTHORITY_COUNTRY", default=REPORTING_FIRM_COUNTRY)
# The codes of the regulatory entities that are US securities regulators: they alone receive
# the SEC-style reports (CAT, the 17a-3 blotter and order tickets, blue sheets, Rule 606).
REPORTING_US_SECURITIES_REGULATORS = env.list(
    "REPORTING_US_SECURITIES_REGULATORS", default=["SEC", "FINRA"]
)
# The exchange calendar whose business days the daily reports follow (MiFIR excepted).
REPORTING_CALENDAR = env("REPORTING_CALENDAR", default="XNYS")
# The business days of the firm's home NCA (an exchange_calendars code; XLON for the FCA):
# MiFIR transaction reports are built for each of them, plus every day an instrument's own
# calendar trades (every day for a 24/7 venue) and every day with a fill; each is due T+1,
# by the end of the firm's next business day.
FIRM_REPORTING_CALENDAR = env("FIRM_REPORTING_CALENDAR", default="XLON")
# How many days back each scheduled run looks for MiFIR days still unbuilt.
MIFIR_CATCH_UP_DAYS = env.int("MIFIR_CATCH_UP_DAYS", default=5)
# The official MiFIR schemas (reference data kept beside the repository, used by the tests).
MIFIR_SCHEMA_DIR = Path(
    env("MIFIR_SCHEMA_DIR", default=str(BASE_DIR.parent / "shared/schemas/mifir"))
)
# Every MiFIR file is validated against those schemas before it is stored. Where they are not
# installed, a file is refused unless this is off (a developer's machine without them).
MIFIR_SCHEMA_REQUIRED = env.bool("MIFIR_SCHEMA_REQUIRED", default=not DEBUG)
# Which CCP clears each venue's trades (MiFIR counterparty, RTS 22 fields 7 and 16): a CSV of
# mic,ccp_lei,ccp_name; empty means the list shipped in apps/reporting/data/venue_ccps.csv.
MIFIR_VENUE_CCP_FILE = env("MIFIR_VENUE_CCP_FILE", default="")
# A PDF that lists its records (daily trading: every fill) lists at most this many; above it,
# the PDF is a summary and says so on its title page (the CSV and JSON always list every row).
REPORTING_PDF_MAX_LISTED_ROWS = env.int("REPORTING_PDF_MAX_LISTED_ROWS", default=50_000)
# Blue sheets (SEC 17a-25): the firm's clearing/broker number, reported as submitting and
# executing broker. Rule 606: the symbols of the S&P 500 (comma-separated), its first section.
EBS_BROKER_NUMBER = env("EBS_BROKER_NUMBER", default="")
RULE_606_SP500_SYMBOLS = env.list("RULE_606_SP500_SYMBOLS", default=[])
# FINRA CAT (docs/reporting.md, "CAT order events"): the firm's CAT Reporter IMID (required for
# a CAT file), the submitter id and reporter CRD its file names carry (the IMID when unset),
# the calendar whose business days are CAT trading days, and how far back the schedule looks
# for days still unbuilt. The files are built at 6:30 a.m. Eastern, before CAT's 8 a.m.
# deadline.
CAT_REPORTER_IMID = env("CAT_REPORTER_IMID", default="")
CAT_SUBMITTER_ID = env("CAT_SUBMITTER_ID", default="")
CAT_REPORTER_CRD = env("CAT_REPORTER_CRD", default="")
CAT_CALENDAR = env("CAT_CALENDAR", default="XNYS")
CAT_CATCH_UP_DAYS = env.int("CAT_CATCH_UP_DAYS", default=5)
PERIODIC_TASKS["cat events"] = {
    "task": "reporting.generate_cat_events",
    "crontab": "30 6 * * *",
    "timezone": "America/New_York",
}
# After the close (22:15 UTC): on a business day, the previous business day's reports (Rule 606:
# the calendar quarter just ended, once).
PERIODIC_TASKS["daily reports"] = {
    "task": "reporting.generate_daily",
    "crontab": "15 22 * * *",
    "kwargs": {
        "reports": [
            ["daily_trading", "csv"],
            ["daily_trading", "pdf"],
            ["positions", "csv"],
            ["mifir_transactions", "xml"],
            ["compliance", "pdf"],
            ["blotter", "csv"],
            ["blotter", "pdf"],
            ["order_tickets", "csv"],
            ["order_tickets", "pdf"],
            ["rule_606", "csv"],
            ["rule_606", "pdf"],
        ]
    },
}
